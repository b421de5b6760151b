"""Intake's aggregates (services/intake/domain.py): the dossier and the daily code sequence."""

from __future__ import annotations

from datetime import UTC, date, datetime
from uuid import uuid4

import pytest

from motcua.core.errors import Conflict, LimitReached
from motcua.core.sequence import SequenceExhausted
from services.intake.domain import (
    MAX_DAILY_SEQUENCE,
    DailySequence,
    Dossier,
    DossierClosed,
    InProcess,
    NotAwaitingAcceptance,
    NotAwaitingCompletion,
)

AGENCY = "000.00.31.H23"
DAY = date(2026, 11, 22)


def _submitted() -> Dossier:
    return Dossier(
        procedure_id="1.001193",
        procedure_name="Đăng ký khai sinh",
        level=4,
        agency_code=AGENCY,
        channel="online",
        applicant={"full_name": "NGUYỄN VĂN AN", "id_number": "001090012345"},
        form_data={"ho_ten": "NGUYỄN VĂN AN"},
        documents=[],
        submitted_by="citizen-1",
        correlation_id="c1",
    )


def _receive(dossier: Dossier, code: str = f"{AGENCY}-261122-0001") -> None:
    dossier.receive(
        code=code,
        received_at=datetime(2026, 11, 22, 2, 0, tzinfo=UTC),
        appointment_date=date(2026, 11, 23),
        time_limit_working_days=1,
        received_by="officer-1",
        correlation_id="c1",
        appointment_at=datetime(2026, 11, 23, 9, 0, tzinfo=UTC),
        calendar_version=0,
    )


def _request_completion(dossier: Dossier) -> None:
    dossier.request_completion(
        reason="Thiếu giấy chứng sinh",
        missing_documents=["giay_chung_sinh"],
        requested_by="officer-1",
        correlation_id="c1",
    )


def _refuse(dossier: Dossier) -> None:
    dossier.refuse(reason="Không thuộc thẩm quyền", refused_by="officer-1", correlation_id="c1")


def _withdraw(dossier: Dossier) -> None:
    dossier.withdraw(reason="Nộp nhầm", withdrawn_by="citizen-1", correlation_id="c1")


def test_new_dossier_is_submitted_without_a_code() -> None:
    dossier = _submitted()

    status, code = dossier.status, dossier.code

    assert status == "submitted"
    assert code is None


def test_receiving_a_submitted_dossier_gives_it_its_code_and_status() -> None:
    dossier = _submitted()

    _receive(dossier, code=f"{AGENCY}-261122-0007")

    assert dossier.status == "received"
    assert dossier.code == f"{AGENCY}-261122-0007"
    assert dossier.appointment_date == date(2026, 11, 23)
    assert dossier.received_by == "officer-1"


def test_receiving_a_dossier_twice_is_a_conflict() -> None:
    dossier = _submitted()
    _receive(dossier)

    with pytest.raises(NotAwaitingAcceptance, match="cannot accept a dossier that is received"):
        _receive(dossier)


def test_not_awaiting_acceptance_is_a_conflict() -> None:
    error = NotAwaitingAcceptance("x")

    is_conflict = isinstance(error, Conflict)

    assert is_conflict


def test_completed_dossier_can_be_received_after_resubmission() -> None:
    dossier = _submitted()
    _request_completion(dossier)
    dossier.resubmit(
        form_data={"ho_ten": "NGUYỄN VĂN AN"},
        documents=[{"document_id": "giay_chung_sinh"}],
        resubmitted_by="citizen-1",
        correlation_id="c1",
    )

    _receive(dossier)

    assert dossier.status == "received"
    assert dossier.documents == [{"document_id": "giay_chung_sinh"}]


def test_dossier_awaiting_completion_cannot_be_received() -> None:
    dossier = _submitted()
    _request_completion(dossier)

    with pytest.raises(NotAwaitingAcceptance, match="completion_requested"):
        _receive(dossier)


def test_resubmitting_without_a_completion_request_is_refused() -> None:
    dossier = _submitted()

    with pytest.raises(NotAwaitingCompletion, match="only when completion was requested"):
        dossier.resubmit(
            form_data={}, documents=[], resubmitted_by="citizen-1", correlation_id="c1"
        )


def test_refused_dossier_cannot_be_withdrawn() -> None:
    dossier = _submitted()
    _refuse(dossier)

    with pytest.raises(DossierClosed, match="already refused"):
        _withdraw(dossier)


def test_submitted_dossier_can_be_withdrawn() -> None:
    dossier = _submitted()

    _withdraw(dossier)

    assert dossier.status == "withdrawn"
    assert dossier.reason == "Nộp nhầm"


def test_received_dossier_is_withdrawn_through_workflow_not_intake() -> None:
    dossier = _submitted()
    _receive(dossier)

    with pytest.raises(InProcess, match="workflow"):
        _withdraw(dossier)


def test_failed_command_adds_no_pending_event() -> None:
    dossier = _submitted()
    _refuse(dossier)
    with pytest.raises(DossierClosed):
        _withdraw(dossier)

    events = dossier.collect_events()

    assert [type(e).__name__ for e in events] == ["Submitted", "IntakeRefused"]
    assert dossier.version == 2


def test_daily_sequence_issues_consecutive_codes() -> None:
    sequence = DailySequence(AGENCY, DAY)

    codes = []
    for _ in range(3):
        sequence.issue(uuid4())
        codes.append(sequence.code_for_last())

    assert codes == [f"{AGENCY}-261122-0001", f"{AGENCY}-261122-0002", f"{AGENCY}-261122-0003"]


def test_daily_sequence_refuses_a_number_past_9999() -> None:
    sequence = DailySequence(AGENCY, DAY)
    sequence.last = MAX_DAILY_SEQUENCE - 1
    sequence.issue(uuid4())

    with pytest.raises(SequenceExhausted, match="already received 9999 dossiers on 2026-11-22"):
        sequence.issue(uuid4())

    assert sequence.last == MAX_DAILY_SEQUENCE
    assert sequence.code_for_last() == f"{AGENCY}-261122-9999"


def test_an_exhausted_sequence_is_a_limit_reached_error() -> None:
    error = SequenceExhausted("x")

    is_limit = isinstance(error, LimitReached)

    assert is_limit


def test_daily_sequence_id_is_the_same_for_the_same_agency_and_day() -> None:
    first = DailySequence.create_id(AGENCY, DAY)

    second = DailySequence.create_id(AGENCY, date(2026, 11, 22))

    assert first == second


def test_daily_sequence_id_differs_across_days_and_agencies() -> None:
    ids = {
        DailySequence.create_id(AGENCY, DAY),
        DailySequence.create_id(AGENCY, date(2026, 11, 23)),
        DailySequence.create_id("000.00.32.H23", DAY),
    }

    count = len(ids)

    assert count == 3


def test_daily_sequence_aggregate_id_comes_from_agency_and_day() -> None:
    sequence = DailySequence(AGENCY, DAY)

    aggregate_id = sequence.id

    assert aggregate_id == DailySequence.create_id(AGENCY, DAY)
