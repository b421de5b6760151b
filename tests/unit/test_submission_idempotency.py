"""A portal that retries a submission with the same ``Idempotency-Key`` gets the dossier
its first attempt created, never a second one, on both stores and under a race."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from motcua.web.auth import Caller
from services.intake.application import IntakeApplication
from tests.support.dossiers import BIRTH, birth_form, make_intake


def _submit(intake: IntakeApplication, caller: Caller, key: str | None) -> str:
    sha = intake.store_attachment(b"scan", "application/pdf", caller.sub)["sha256"]
    procedure = intake.procedure(BIRTH)
    documents = [
        {"document_id": d.id, "sha256": sha, "filename": "a.pdf"}
        for d in procedure.documents
        if d.required
    ]
    dossier_id = intake.submit(
        caller,
        procedure_id=BIRTH,
        form_data=birth_form(),
        documents=documents,
        channel="online",
        notify_by=["sms"],
        idempotency_key=key,
        correlation_id="t",
    )
    return str(dossier_id)


def _dossiers_of(intake: IntakeApplication, caller: Caller) -> list[str]:
    return [str(row["id"]) for row in intake.list_for_applicant(caller.sub, 100, 0)]


def test_a_retry_with_the_same_key_returns_the_first_dossier(
    database_url: str | None, tmp_path: Path
) -> None:
    intake = make_intake(database_url, tmp_path / "var")
    lan = Caller(sub="citizen-lan", role="citizen")
    first = _submit(intake, lan, "portal-req-0001")
    again = _submit(intake, lan, "portal-req-0001")
    other = _submit(intake, lan, "portal-req-0002")
    assert again == first
    assert other != first
    assert sorted(_dossiers_of(intake, lan)) == sorted([first, other])


def test_without_a_key_every_submission_is_a_new_dossier(tmp_path: Path) -> None:
    intake = make_intake(None, tmp_path / "var")
    lan = Caller(sub="citizen-lan", role="citizen")
    assert _submit(intake, lan, None) != _submit(intake, lan, None)
    assert len(_dossiers_of(intake, lan)) == 2


def test_the_same_key_from_two_applicants_makes_two_dossiers(tmp_path: Path) -> None:
    intake = make_intake(None, tmp_path / "var")
    lan, hung = (
        Caller(sub="citizen-lan", role="citizen"),
        Caller(sub="citizen-hung", role="citizen"),
    )
    assert _submit(intake, lan, "same-key-123") != _submit(intake, hung, "same-key-123")


def test_racing_retries_make_one_dossier(database_url: str | None, tmp_path: Path) -> None:
    """Eight attempts at once, as a portal with a short timeout might send them."""
    intake = make_intake(database_url, tmp_path / "var")
    lan = Caller(sub="citizen-lan", role="citizen")
    with ThreadPoolExecutor(8) as pool:
        ids = set(pool.map(lambda _: _submit(intake, lan, "portal-req-race"), range(8)))
    assert len(ids) == 1
    assert _dossiers_of(intake, lan) == list(ids)
