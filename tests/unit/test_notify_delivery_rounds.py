"""Notify's delivery loop: a full round is followed by the next at once, not after the
poll period (with 50 a round every half second, notices queued behind a burst waited
for minutes), and a round that changes nothing cannot keep it busy for ever."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest

from motcua.runtime.store import store_env
from services.catalogue.procedures import load_catalogue
from services.notify.application import NotifyApplication
from services.notify.delivery import DELIVERY_ROUNDS
from services.notify.domain import Notice
from services.notify.readmodel import notice_row
from services.notify.settings import NotifySettings
from tests.unit.test_notify_rules_and_flood import FakeSms

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def notify_with_due(
    tmp_path: Path, count: int, channel: Any = None, recipients: list[str] | None = None
) -> tuple[NotifyApplication, FakeSms]:
    """Notify with ``count`` SMS due now, to as many numbers (or to ``recipients`` in turn),
    sent through ``channel`` (by default a ``FakeSms``, returned)."""
    sms = FakeSms()
    app = NotifyApplication(
        store_env(None, str(tmp_path), "notify"),
        settings=NotifySettings(),
        channels={"sms": channel or sms},
        catalogue=load_catalogue(),
        public_base_url="http://x",
        clock=lambda: NOW,
    )
    for n in range(count):
        notice = Notice(
            source_event_id=uuid4(),
            channel="sms",
            dossier_id=uuid4(),
            kind="received",
            account=None,
            recipient=recipients[n % len(recipients)] if recipients else f"09120{n:05d}",
            subject="",
            body="DVC: received",
            due_at=NOW,
        )
        app.save(notice, writes=[notice_row(notice)])
    return app, sms


def test_one_call_delivers_every_due_notice_round_after_round(tmp_path: Path) -> None:
    app, sms = notify_with_due(tmp_path, 12)

    attempted = app.deliver_due(limit=5)

    assert attempted == 12
    assert len(sms.sent) == 12


def test_rounds_that_change_nothing_end_after_a_bounded_number(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As when another delivery loop holds the notices: they stay due and are read again."""
    app, _ = notify_with_due(tmp_path, 5)
    tried: list[UUID] = []
    monkeypatch.setattr(app, "_deliver", tried.append)

    attempted = app.deliver_due(limit=5)

    assert attempted == len(tried) == 5 * DELIVERY_ROUNDS


@dataclass
class SlowSms:
    """A gateway that takes its time per message and remembers how many it held at once."""

    seconds: float = 0.05
    sent: list[str] = field(default_factory=list)
    in_flight: int = 0
    most_at_once: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def send(self, *, key: str, recipient: str, subject: str, body: str) -> None:
        with self.lock:
            self.in_flight += 1
            self.most_at_once = max(self.most_at_once, self.in_flight)
        time.sleep(self.seconds)
        with self.lock:
            self.in_flight -= 1
            self.sent.append(recipient)


def test_notices_to_different_recipients_are_sent_side_by_side(tmp_path: Path) -> None:
    """A send waits on the gateway or the mail server, not on this machine: one at a
    time, a slow gateway would hold every other notice of the round."""
    gateway = SlowSms()
    app, _ = notify_with_due(tmp_path, 8, channel=gateway)

    app.deliver_due()

    assert len(gateway.sent) == 8
    assert gateway.most_at_once > 1


def test_one_recipients_notices_go_one_after_the_other_in_their_order(tmp_path: Path) -> None:
    """The SMS flood limit counts what a number was sent before each send."""
    gateway = SlowSms(seconds=0.01)
    app, _ = notify_with_due(tmp_path, 6, channel=gateway, recipients=["0912000001"])

    app.deliver_due()

    assert gateway.sent == ["0912000001"] * 6
    assert gateway.most_at_once == 1


class Broken(Exception):
    """Not a channel's error: a defect, or the store gone away."""


@dataclass
class FailsFor:
    """A gateway that raises for one recipient and is slow for the others."""

    failing: str
    slow: SlowSms = field(default_factory=lambda: SlowSms(seconds=0.1))

    def send(self, *, key: str, recipient: str, subject: str, body: str) -> None:
        if recipient == self.failing:
            raise Broken(recipient)
        self.slow.send(key=key, recipient=recipient, subject=subject, body=body)


def test_a_failing_recipient_is_reported_once_every_other_send_of_the_round_ended(
    tmp_path: Path,
) -> None:
    """Until then the others' notices are still ``sending``: a next round started at
    once, on the error, would have sent them again."""
    gateway = FailsFor(failing="0912000000")
    app, _ = notify_with_due(tmp_path, 6, channel=gateway)

    with pytest.raises(Broken):
        app.deliver_due()

    assert gateway.slow.in_flight == 0
    assert len(gateway.slow.sent) == 5


@dataclass
class Reentrant:
    """A gateway that, while it sends, lets another delivery loop look for due notices
    (as a second instance of notify would)."""

    app: NotifyApplication | None = None
    sent: list[str] = field(default_factory=list)
    found_by_the_other: int = -1

    def send(self, *, key: str, recipient: str, subject: str, body: str) -> None:
        self.sent.append(recipient)
        if self.found_by_the_other == -1:
            assert self.app is not None
            self.found_by_the_other = 0
            self.found_by_the_other = self.app.deliver_due()


def test_a_notice_being_sent_is_not_due_for_another_loop_until_its_lease_ends(
    tmp_path: Path,
) -> None:
    gateway = Reentrant()
    app, _ = notify_with_due(tmp_path, 1, channel=gateway)
    gateway.app = app

    app.deliver_due()

    assert gateway.found_by_the_other == 0
    assert len(gateway.sent) == 1


def test_a_notice_left_sending_by_a_crash_is_sent_again_once_its_lease_ended(
    tmp_path: Path,
) -> None:
    gateway = FailsFor(failing="0912000000")
    app, _ = notify_with_due(tmp_path, 1, channel=gateway)
    with pytest.raises(Broken):
        app.deliver_due()  # the notice stays "sending", as after a kill mid-send
    gateway.failing = "nobody"

    not_yet = app.deliver_due()
    lease = timedelta(seconds=app.settings.notify_send_lease_seconds)
    app.clock = lambda: NOW + lease + timedelta(seconds=1)
    later = app.deliver_due()

    assert (not_yet, later) == (0, 1)
    assert gateway.slow.sent == ["0912000000"]


def test_once_told_to_stop_no_further_notice_is_sent(tmp_path: Path) -> None:
    """The service is stopping: the thread of a round in progress ends after the sends
    under way rather than taking twenty more rounds."""
    app, sms = notify_with_due(tmp_path, 3)

    app.stop_delivering()

    assert app.deliver_due() == 0
    assert sms.sent == []
