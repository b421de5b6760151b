"""The workflow's process (services/workflow/domain.py) and its planned due dates."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from uuid import uuid4

import pytest

from motcua.core.calendar import BASE, VIETNAM_TZ, add_working_days
from motcua.core.errors import Conflict
from services.catalogue.procedures import Procedure, load_catalogue
from services.workflow.domain import (
    AlreadyMarked,
    AwaitingPayment,
    IllegalTransition,
    Process,
    ResultKindNotAllowed,
    StepCannotComplete,
)
from services.workflow.policy import planned_steps

LAND_TRANSFER = "1.004227"
BIRTH_REGISTRATION = "1.001193"
BUILDING_PERMIT = "1.009994"  # level 3
MARITAL_STATUS = "1.004873"  # level 2
ONE_STOP = "000.00.31.H23"
LAND_OFFICE = "000.01.25.H23"
TAX_OFFICE = "000.00.35.H23"
COMMUNE = "001.20.51.H23"
BEFORE_TET = date(2026, 2, 13)  # Friday, the last working day before Tết 2026
AFTER_TET = date(2026, 2, 23)  # Monday, the first working day after it
FRIDAY = date(2026, 3, 6)
MONDAY = date(2026, 3, 9)


def _procedure(procedure_id: str) -> Procedure:
    procedure = load_catalogue().get(procedure_id)
    assert procedure is not None
    return procedure


def _process(
    procedure_id: str = LAND_TRANSFER,
    received_on: date = BEFORE_TET,
    appointment_at: datetime | None = None,
) -> Process:
    procedure = _procedure(procedure_id)
    steps = planned_steps(procedure, _afternoon(received_on), BASE, None)
    process = Process(
        dossier_id=uuid4(),
        code="X",
        procedure_id=procedure.id,
        procedure_name=procedure.name,
        applicant_account="citizen-1",
        applicant_id_number="001190000001",
        level=procedure.level,
        steps=steps,
        received_on=received_on,
        appointment_date=steps[-1]["due_date"],
        fee_due_before_result=procedure.fee_due_before_result,
        correlation_id="c",
        appointment_at=appointment_at,
    )
    process.start_step(
        index=0,
        started_on=received_on,
        due_date=steps[0]["due_date"],
        correlation_id="c",
        due_at=None,  # by the day, as processes started before working hours
    )
    return process


def _afternoon(day: date) -> datetime:
    """Received at 16:00: a whole-day limit then ends on the day it did when limits were
    counted in whole days."""
    return datetime.combine(day, time(16), tzinfo=VIETNAM_TZ)


def _complete(process: Process, on: date | None = None) -> None:
    process.complete_step(
        officer="officer-1",
        notes="Đã xử lý",
        documents=[],
        completed_on=on or process.step["due_date"],
        correlation_id="c",
        completed_at=None,
        role=process.step["role"],
    )


def _start_next(process: Process, on: date | None = None) -> None:
    index = process.current + 1
    process.start_step(
        index=index,
        started_on=on or process.step["completed_on"],
        due_date=process.steps[index]["due_date"],
        correlation_id="c",
        due_at=None,
    )


def _advance(process: Process) -> None:
    """Complete the current step on time and start the next, handing over if needed."""
    _complete(process)
    if process.next_agency != process.agency:
        process.hand_over(officer="officer-1", correlation_id="c")
    _start_next(process)


def _at_last_step(procedure_id: str = LAND_TRANSFER) -> Process:
    process = _process(procedure_id)
    while not process.is_last_step:
        _advance(process)
    return process


def _approve(process: Process) -> None:
    process.approve(officer="officer-1", notes="Đồng ý", correlation_id="c", role="lanh_dao")


def _issue_result(process: Process, kind: str = "electronic") -> None:
    process.issue_result(
        officer="officer-1",
        kind=kind,
        document=None,
        issued_at=datetime(2026, 3, 6, 3, 0, tzinfo=UTC),
        issued_on=date(2026, 3, 6),
        correlation_id="c",
        timeliness=None,
    )


def _with_result() -> Process:
    process = _at_last_step()
    _approve(process)
    process.record_payment(payment_code="PAY-1", amount_vnd=100_000, correlation_id="c")
    _issue_result(process)
    return process


def _request_supplement(process: Process, on: date = AFTER_TET) -> None:
    process.request_supplement(
        officer="officer-1",
        reason="Thiếu hợp đồng chuyển nhượng",
        documents=["hop_dong"],
        requested_on=on,
        correlation_id="c",
        requested_at=None,
    )


def _provide_supplement(
    process: Process, appointment_date: date, step_due_dates: list[date | None]
) -> None:
    process.provide_supplement(
        by="citizen-1",
        documents=[],
        provided_on=date(2026, 2, 26),
        paused_working_days=3,
        appointment_date=appointment_date,
        step_due_dates=step_due_dates,
        correlation_id="c",
        appointment_at=None,
        step_due_moments=None,
        statutory_appointment_date=None,
        statutory_appointment_at=None,
    )


def _mark_overdue(process: Process) -> None:
    process.mark_overdue(responsible_agency=ONE_STOP, late_agencies=[ONE_STOP], correlation_id="c")


def _apologise(process: Process, new_date: date) -> None:
    process.apologise(
        officer="officer-1",
        agency_code=ONE_STOP,
        reason="Quá tải hồ sơ",
        appointment_date=new_date,
        previous_appointment_date=process.appointment_date,
        correlation_id="c",
    )


def _withdraw(process: Process) -> None:
    process.withdraw(by="citizen-1", reason="Không còn nhu cầu", correlation_id="c")


def _event_names(process: Process) -> list[str]:
    return [type(e).__name__ for e in process.collect_events()]


# -- planned_steps ----------------------------------------------------------------------


def test_planned_steps_follow_the_procedures_agencies_in_order() -> None:
    procedure = _procedure(LAND_TRANSFER)

    steps = planned_steps(procedure, _afternoon(BEFORE_TET), BASE, None)

    assert [s["agency_code"] for s in steps] == [
        ONE_STOP,
        LAND_OFFICE,
        TAX_OFFICE,
        LAND_OFFICE,
        LAND_OFFICE,
        ONE_STOP,
    ]


def test_first_step_received_before_tet_is_due_on_the_first_working_day_after_it() -> None:
    procedure = _procedure(LAND_TRANSFER)

    steps = planned_steps(procedure, _afternoon(BEFORE_TET), BASE, None)

    assert steps[0]["due_date"] == AFTER_TET


def test_last_step_is_due_when_the_procedures_time_limit_runs_out() -> None:
    procedure = _procedure(LAND_TRANSFER)

    steps = planned_steps(procedure, _afternoon(BEFORE_TET), BASE, None)

    assert steps[-1]["due_date"] == add_working_days(BEFORE_TET, 10)
    assert steps[-1]["due_at"] == _afternoon(add_working_days(BEFORE_TET, 10))


def test_planned_due_dates_never_decrease_along_the_steps() -> None:
    procedure = _procedure(LAND_TRANSFER)

    dues = [s["due_at"] for s in planned_steps(procedure, _afternoon(BEFORE_TET), BASE, None)]

    assert dues == sorted(dues)


def test_quarter_day_steps_received_in_the_morning_fall_due_through_the_day() -> None:
    procedure = _procedure(BIRTH_REGISTRATION)
    received = datetime.combine(FRIDAY, time(8), tzinfo=VIETNAM_TZ)

    dues = [s["due_at"] for s in planned_steps(procedure, received, BASE, None)]

    # 7.5 working hours a day: 1 h 52 min 30 s a quarter, lunch 11:30–13:30 not counted.
    assert [d.strftime("%a %H:%M:%S") for d in dues] == [
        "Fri 09:52:30",
        "Fri 13:45:00",
        "Fri 15:37:30",
        "Mon 08:00:00",
    ]


def test_the_last_step_is_due_at_the_appointment_on_the_receipt() -> None:
    procedure = _procedure(BIRTH_REGISTRATION)
    received = datetime.combine(FRIDAY, time(8), tzinfo=VIETNAM_TZ)
    on_receipt = datetime.combine(MONDAY, time(9), tzinfo=VIETNAM_TZ)

    steps = planned_steps(procedure, received, BASE, on_receipt)

    assert (steps[-1]["due_at"], steps[-1]["due_date"]) == (on_receipt, MONDAY)


# -- starting ---------------------------------------------------------------------------


def test_started_process_is_in_progress_at_its_first_steps_agency() -> None:
    process = _process()

    state = (process.status, process.current, process.agency, process.step["status"])

    assert state == ("in_progress", 0, ONE_STOP, "started")


def test_fee_gate_leaves_a_new_land_transfer_unpaid() -> None:
    process = _process(LAND_TRANSFER)

    paid = process.paid

    assert paid is False


# -- steps and handover -----------------------------------------------------------------


def test_completing_a_step_awaits_handover() -> None:
    process = _process()

    _complete(process)

    assert process.status == "awaiting_handover"
    assert process.step["status"] == "completed"


def test_hand_over_before_completing_the_step_is_refused() -> None:
    process = _process()

    with pytest.raises(IllegalTransition, match="complete the current step first"):
        process.hand_over(officer="officer-1", correlation_id="c")


def test_hand_over_after_completing_lets_the_next_agency_start() -> None:
    process = _process()
    _complete(process)

    process.hand_over(officer="officer-1", correlation_id="c")
    _start_next(process)

    assert (process.current, process.agency, process.status) == (1, LAND_OFFICE, "in_progress")


def test_completing_a_step_twice_is_refused() -> None:
    process = _process()
    _complete(process)

    with pytest.raises(
        IllegalTransition, match="cannot complete a step of a dossier that is awaiting_handover"
    ):
        _complete(process)


def test_officer_who_claimed_a_step_is_kept_when_another_completes_it() -> None:
    process = _process()
    process.claim(officer="officer-7", assigned_by="lead-1", correlation_id="c", role="lanh_dao")

    _complete(process)

    assert process.step["officer"] == "officer-7"


def test_last_step_cannot_be_completed_it_ends_with_the_result() -> None:
    process = _at_last_step()

    with pytest.raises(StepCannotComplete, match="issuing the result"):
        _complete(process)


def test_refused_command_records_no_event() -> None:
    process = _process()

    with pytest.raises(IllegalTransition):
        process.hand_over(officer="officer-1", correlation_id="c")

    assert _event_names(process) == ["Started", "StepStarted"]


def test_refused_command_leaves_the_version_unchanged() -> None:
    process = _process()
    version = process.version

    with pytest.raises(IllegalTransition):
        process.hand_over(officer="officer-1", correlation_id="c")

    assert process.version == version


# -- approval, payment, result ----------------------------------------------------------


def test_approving_twice_is_refused() -> None:
    process = _at_last_step()
    _approve(process)

    with pytest.raises(IllegalTransition, match="already been decided"):
        _approve(process)


def test_result_before_the_last_step_is_refused() -> None:
    process = _process(BIRTH_REGISTRATION, FRIDAY)
    _approve(process)

    with pytest.raises(IllegalTransition, match="at the last step"):
        _issue_result(process)


def test_result_before_approval_is_refused() -> None:
    process = _at_last_step()
    process.record_payment(payment_code="PAY-1", amount_vnd=100_000, correlation_id="c")

    with pytest.raises(IllegalTransition, match="has not been approved"):
        _issue_result(process)


def test_result_behind_the_fee_gate_waits_for_payment() -> None:
    process = _at_last_step(LAND_TRANSFER)
    _approve(process)

    with pytest.raises(AwaitingPayment, match="fee must be paid"):
        _issue_result(process)


def test_result_is_issued_once_the_fee_is_paid() -> None:
    process = _at_last_step(LAND_TRANSFER)
    _approve(process)
    process.record_payment(payment_code="PAY-1", amount_vnd=100_000, correlation_id="c")

    _issue_result(process)

    assert process.status == "result_issued"


def test_result_without_a_fee_gate_needs_no_payment() -> None:
    process = _at_last_step(BIRTH_REGISTRATION)
    _approve(process)

    _issue_result(process)

    assert process.status == "result_issued"


def test_issuing_the_result_completes_the_last_step() -> None:
    process = _at_last_step(BIRTH_REGISTRATION)
    _approve(process)

    _issue_result(process)

    assert (process.step["status"], process.step["completed_on"]) == ("completed", FRIDAY)


def test_returning_a_result_before_it_is_issued_is_refused() -> None:
    process = _at_last_step()

    with pytest.raises(IllegalTransition, match="no result to return: the dossier is in_progress"):
        process.record_returned(
            officer="officer-1", method="post", returned_on=FRIDAY, correlation_id="c"
        )


def test_returning_an_issued_result_closes_the_process() -> None:
    process = _with_result()

    process.record_returned(
        officer="officer-1", method="post", returned_on=FRIDAY, correlation_id="c"
    )

    assert process.status == "returned"


def _ready_for_the_result(procedure_id: str) -> Process:
    process = _at_last_step(procedure_id)
    _approve(process)
    process.record_payment(payment_code="PAY-1", amount_vnd=100_000, correlation_id="c")
    return process


def test_a_level_3_procedure_refuses_an_electronic_result_with_the_reason() -> None:
    process = _ready_for_the_result(BUILDING_PERMIT)

    with pytest.raises(ResultKindNotAllowed) as refused:
        _issue_result(process, "electronic")

    assert isinstance(refused.value, Conflict)
    assert "level 3" in refused.value.message
    assert "at the counter or by post" in refused.value.message
    assert process.status == "in_progress"


@pytest.mark.parametrize("kind", ["pickup", "post"])
def test_a_level_3_procedure_returns_its_result_at_the_counter_or_by_post(kind: str) -> None:
    process = _ready_for_the_result(BUILDING_PERMIT)

    _issue_result(process, kind)

    assert process.result is not None
    assert (process.status, process.result["kind"]) == ("result_issued", kind)


@pytest.mark.parametrize("kind", ["electronic", "pickup", "post"])
def test_a_level_4_procedure_returns_its_result_online_by_post_or_at_the_counter(
    kind: str,
) -> None:
    process = _ready_for_the_result(BIRTH_REGISTRATION)

    _issue_result(process, kind)

    assert process.result is not None
    assert (process.status, process.result["kind"]) == ("result_issued", kind)


def test_a_level_2_procedure_refuses_an_electronic_result() -> None:
    process = _ready_for_the_result(MARITAL_STATUS)

    with pytest.raises(ResultKindNotAllowed, match="level 2"):
        _issue_result(process, "electronic")


def test_a_level_3_result_cannot_be_recorded_as_returned_electronically() -> None:
    process = _ready_for_the_result(BUILDING_PERMIT)
    _issue_result(process, "pickup")

    with pytest.raises(ResultKindNotAllowed, match="level 3"):
        process.record_returned(
            officer="officer-1", method="electronic", returned_on=FRIDAY, correlation_id="c"
        )

    assert process.status == "result_issued"


def test_a_process_without_a_recorded_level_accepts_any_kind() -> None:
    """Processes started before the level was recorded: the application checks them
    against the catalogue (tests/unit/test_workflow_results.py)."""
    process = _ready_for_the_result(BUILDING_PERMIT)
    process.level = None

    _issue_result(process, "electronic")

    assert process.status == "result_issued"


def test_the_process_knows_the_applicant_by_account_and_id_number() -> None:
    process = _process()

    known = (process.applicant_account, process.applicant_id_number, process.level)

    assert known == ("citizen-1", "001190000001", 4)


# -- rejection and withdrawal -----------------------------------------------------------


def test_rejecting_marks_the_dossier_rejected() -> None:
    process = _process()

    process.reject(
        officer="officer-1", reason="Đất đang tranh chấp", correlation_id="c", role="lanh_dao"
    )

    assert (process.status, process.approved) == ("rejected", False)


def test_withdrawing_a_rejected_dossier_is_refused() -> None:
    process = _process()
    process.reject(
        officer="officer-1", reason="Đất đang tranh chấp", correlation_id="c", role="lanh_dao"
    )

    with pytest.raises(IllegalTransition, match="cannot withdraw: the dossier is rejected"):
        _withdraw(process)


def test_withdrawing_after_the_result_is_issued_is_refused() -> None:
    process = _with_result()

    with pytest.raises(IllegalTransition, match="cannot withdraw: the dossier is result_issued"):
        _withdraw(process)


def test_withdrawing_a_paused_dossier_is_allowed() -> None:
    process = _process()
    _request_supplement(process)

    _withdraw(process)

    assert process.status == "withdrawn"


# -- supplements ------------------------------------------------------------------------


def test_requesting_a_supplement_pauses_the_process() -> None:
    process = _process()

    _request_supplement(process)

    assert (process.status, process.paused_on) == ("paused", AFTER_TET)


def test_completing_a_step_of_a_paused_dossier_is_refused() -> None:
    process = _process()
    _request_supplement(process)

    with pytest.raises(IllegalTransition, match="dossier that is paused"):
        _complete(process)


def test_providing_a_supplement_nobody_requested_is_refused() -> None:
    process = _process()
    dues: list[date | None] = [s["due_date"] for s in process.steps]

    with pytest.raises(IllegalTransition, match="no supplement was requested"):
        _provide_supplement(process, process.appointment_date, dues)


def test_providing_the_supplement_resumes_with_the_new_appointment_date() -> None:
    process = _process()
    _request_supplement(process)
    dues: list[date | None] = [s["due_date"] for s in process.steps]

    _provide_supplement(process, date(2026, 3, 11), dues)

    assert (process.status, process.appointment_date) == ("in_progress", date(2026, 3, 11))


def test_providing_the_supplement_moves_the_steps_due_dates() -> None:
    process = _process()
    _request_supplement(process)
    dues: list[date | None] = [add_working_days(s["due_date"], 3) for s in process.steps]

    _provide_supplement(process, date(2026, 3, 11), dues)

    assert [s["due_date"] for s in process.steps] == dues


def test_providing_the_supplement_records_the_paused_working_days() -> None:
    process = _process()
    _request_supplement(process)
    dues: list[date | None] = [s["due_date"] for s in process.steps]

    _provide_supplement(process, date(2026, 3, 11), dues)

    assert process.pauses == [
        {
            "from": AFTER_TET,
            "to": date(2026, 2, 26),
            "reason": "Thiếu hợp đồng chuyển nhượng",
            "days": 3,
        }
    ]


# -- the clock --------------------------------------------------------------------------


def test_marking_a_step_overdue_twice_is_refused() -> None:
    process = _process()
    process.mark_step_overdue(index=0, correlation_id="c")

    with pytest.raises(AlreadyMarked, match="already overdue"):
        process.mark_step_overdue(index=0, correlation_id="c")


def test_marking_a_completed_step_overdue_is_refused() -> None:
    process = _process()
    _complete(process)

    with pytest.raises(AlreadyMarked, match="or completed"):
        process.mark_step_overdue(index=0, correlation_id="c")


def test_marking_the_dossier_overdue_names_the_responsible_agency() -> None:
    process = _process()

    _mark_overdue(process)

    assert (process.overdue, process.responsible_agency) == (True, ONE_STOP)


def test_marking_the_dossier_overdue_twice_is_refused() -> None:
    process = _process()
    _mark_overdue(process)

    with pytest.raises(AlreadyMarked, match="already overdue"):
        _mark_overdue(process)


def test_marking_a_finished_dossier_overdue_is_refused() -> None:
    process = _with_result()

    with pytest.raises(AlreadyMarked, match="or finished"):
        _mark_overdue(process)


def test_apology_for_a_dossier_that_is_not_overdue_is_refused() -> None:
    process = _process()

    with pytest.raises(IllegalTransition, match="only for an overdue dossier"):
        _apologise(process, date(2026, 3, 20))


def test_apology_must_set_a_later_appointment_date() -> None:
    process = _process()
    _mark_overdue(process)

    with pytest.raises(IllegalTransition, match="must be later than 2026-03-06"):
        _apologise(process, process.appointment_date)


def test_apology_sets_the_new_appointment_date() -> None:
    process = _process()
    _mark_overdue(process)

    _apologise(process, date(2026, 3, 20))

    assert (process.appointment_date, process.apologies) == (date(2026, 3, 20), 1)


def test_after_an_apology_a_result_by_its_new_date_is_still_late() -> None:
    process = _process()  # due 2026-03-06
    _mark_overdue(process)
    _apologise(process, date(2026, 3, 20))

    timeliness = process.timeliness_of(datetime(2026, 3, 10, 9, tzinfo=VIETNAM_TZ))

    assert timeliness == "late"
    assert process.statutory_appointment_date == date(2026, 3, 6)
    assert process.appointment_date == date(2026, 3, 20)  # what the applicant is promised


def test_a_result_on_the_appointment_day_but_after_its_hour_is_late() -> None:
    due = datetime(2026, 3, 6, 16, tzinfo=VIETNAM_TZ)
    process = _process(appointment_at=due)

    before, after = process.timeliness_of(due), process.timeliness_of(due + timedelta(minutes=1))

    assert (before, after) == ("on_time", "late")


def test_a_result_a_day_before_the_appointment_is_early() -> None:
    process = _process(appointment_at=datetime(2026, 3, 6, 16, tzinfo=VIETNAM_TZ))

    timeliness = process.timeliness_of(datetime(2026, 3, 5, 16, tzinfo=VIETNAM_TZ))

    assert timeliness == "early"


def test_a_supplement_pause_moves_the_statutory_appointment_as_the_law_allows() -> None:
    process = _process()
    _request_supplement(process, on=date(2026, 2, 23))

    _provide_supplement(process, date(2026, 3, 11), [date(2026, 3, 11)] * len(process.steps))

    assert process.statutory_appointment_date == date(2026, 3, 11)


def test_no_agency_is_late_while_every_step_is_on_time() -> None:
    process = _process()
    _complete(process, on=AFTER_TET)
    process.hand_over(officer="officer-1", correlation_id="c")
    _start_next(process)

    late = process.late_agencies(date(2026, 2, 25))

    assert late == []


def test_agency_that_completed_its_step_after_the_due_date_is_late() -> None:
    process = _process()
    _complete(process, on=date(2026, 2, 24))
    process.hand_over(officer="officer-1", correlation_id="c")
    _start_next(process)

    late = process.late_agencies(date(2026, 2, 24))

    assert late == [ONE_STOP]


def test_agency_holding_a_step_past_its_due_date_is_late() -> None:
    process = _process()
    _complete(process, on=AFTER_TET)
    process.hand_over(officer="officer-1", correlation_id="c")
    _start_next(process)

    late = process.late_agencies(date(2026, 2, 26))

    assert late == [LAND_OFFICE]


def test_late_agencies_are_named_once_in_process_order() -> None:
    process = _process()
    _complete(process, on=date(2026, 2, 24))
    process.hand_over(officer="officer-1", correlation_id="c")
    _start_next(process)
    process.mark_step_overdue(index=1, correlation_id="c")

    late = process.late_agencies(date(2026, 2, 26))

    assert late == [ONE_STOP, LAND_OFFICE]


# -- replay -----------------------------------------------------------------------------


def test_process_rebuilt_from_its_events_has_the_same_state() -> None:
    process = _process()
    _advance(process)
    _request_supplement(process, on=date(2026, 2, 24))
    dues: list[date | None] = [s["due_date"] for s in process.steps]
    _provide_supplement(process, date(2026, 3, 11), dues)
    events = process.collect_events()

    rebuilt: Any = None
    for e in events:
        rebuilt = e.mutate(rebuilt)

    assert isinstance(rebuilt, Process)
    assert (rebuilt.steps, rebuilt.status, rebuilt.pauses, rebuilt.version) == (
        process.steps,
        process.status,
        process.pauses,
        process.version,
    )
