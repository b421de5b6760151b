"""Notify's per-procedure rules and the per-number SMS flood limit."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from uuid import uuid4

import pytest

from motcua.runtime.store import store_env
from services.catalogue.procedures import load_catalogue
from services.notify.application import NotifyApplication
from services.notify.domain import Notice
from services.notify.readmodel import notice_row
from services.notify.rules import Rules
from services.notify.settings import NotifySettings

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@dataclass
class FakeSms:
    """A stand-in SMS gateway that records what it was asked to send."""

    sent: list[str] = field(default_factory=list)

    def send(self, *, key: str, recipient: str, subject: str, body: str) -> None:
        self.sent.append(recipient)


def test_rules_narrow_the_applicants_channels_per_procedure_and_kind() -> None:
    rules = Rules({"1.001193": {"received": ["sms"], "payment_confirmed": []}})

    received = rules.channels("1.001193", "received", {"inbox", "sms", "email"})
    payment = rules.channels("1.001193", "payment_confirmed", {"inbox", "sms"})
    elsewhere = rules.channels("2.000720", "received", {"inbox", "email"})

    assert (received, payment, elsewhere) == ({"sms"}, set(), {"inbox", "email"})


def test_rules_file_with_an_unknown_kind_is_refused_with_its_path(tmp_path: Path) -> None:
    path = tmp_path / "rules.json"
    path.write_text(json.dumps({"procedures": {"1.001193": {"teleported": ["sms"]}}}))

    with pytest.raises(ValueError, match=r"rules\.json.*teleported"):
        Rules.from_file(path)


def test_more_than_the_hourly_limit_of_identical_sms_to_one_number_is_suppressed(
    tmp_path: Path,
) -> None:
    sms = FakeSms()
    app = NotifyApplication(
        store_env(None, str(tmp_path), "notify"),
        settings=NotifySettings(sms_limit_per_hour=3),
        channels={"sms": sms},
        catalogue=load_catalogue(),
        public_base_url="http://x",
        clock=lambda: NOW,
    )
    notices = [
        Notice(
            source_event_id=uuid4(),
            channel="sms",
            dossier_id=uuid4(),
            kind="received",
            account=None,
            recipient="0912000001",
            subject="",
            body="DVC: same text",
            due_at=NOW,
        )
        for _ in range(5)
    ]
    for notice in notices:
        app.save(notice, writes=[notice_row(notice)])

    for _ in range(5):
        app.deliver_due(limit=1)

    statuses: list[str] = sorted(app.repository.get(n.id).status for n in notices)
    assert sms.sent == ["0912000001"] * 3
    assert statuses == ["delivered"] * 3 + ["suppressed"] * 2
