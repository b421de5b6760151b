"""The electronic process of one dossier (W-1..W-4): steps across agencies, on the clock.

A ``Process`` starts when intake has received the dossier. Its steps come from the
procedure's electronic process; each step belongs to an agency and has a due date.
Dates are computed by the application (working days) and passed in, so the rules
here stay plain and testable.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import event

from motcua.core.calendar import VIETNAM_TZ
from motcua.core.errors import Conflict
from motcua.core.tracing import TracedAggregate

ACTIVE = ("in_progress", "awaiting_handover")

# How each level of online public service may return its result (W-5): level 3 at the
# counter or by post; level 4 also online, as an electronic document. Level 2 takes
# no online submission, let alone an electronic result.
RESULT_KINDS: dict[int, tuple[str, ...]] = {
    2: ("pickup", "post"),
    3: ("pickup", "post"),
    4: ("electronic", "pickup", "post"),
}
_KIND_NAMES = {"electronic": "online", "pickup": "at the counter", "post": "by post"}


def check_result_kind(level: int, kind: str) -> None:
    """Refuse a kind of result (or of return) that the procedure's level does not offer."""
    allowed = RESULT_KINDS.get(level, ())
    if kind not in allowed:
        ways = " or ".join(_KIND_NAMES[k] for k in allowed) or "in no way"
        raise ResultKindNotAllowed(
            f"a level {level} procedure returns its result {ways}, "
            f"not {_KIND_NAMES.get(kind, kind)} (W-5)"
        )


class Process(TracedAggregate):
    """Where a dossier is in its procedure's process, and whether it is on time."""

    @staticmethod
    def create_id(dossier_id: UUID) -> UUID:
        return dossier_id  # one process per dossier; workflow has its own store

    @event("Started")
    def __init__(
        self,
        *,
        dossier_id: UUID,
        code: str,
        procedure_id: str,
        procedure_name: str,
        applicant_account: str | None,
        steps: list[dict[str, Any]],
        received_on: date,
        appointment_date: date,
        fee_due_before_result: bool,
        correlation_id: str,
        applicant_id_number: str | None = None,
        level: int | None = None,
        appointment_at: datetime | None = None,
    ) -> None:
        # The ID number and the level arrived later than the other facts: a process
        # started before has None (the application then looks the level up instead).
        self.dossier_id, self.code = dossier_id, code
        self.procedure_id, self.procedure_name = procedure_id, procedure_name
        self.applicant_account = applicant_account
        self.applicant_id_number = applicant_id_number
        self.level = level
        self.steps = [
            {
                **s,
                "status": "pending",
                "officer": None,
                "started_on": None,
                "completed_on": None,
                "overdue": False,
                "notes": None,
            }
            for s in steps
        ]
        self.received_on, self.appointment_date = received_on, appointment_date
        # The statutory appointment: the receipt's, moved only by supplement pauses. An
        # apology moves ``appointment_date`` (what the applicant is promised), never this:
        # lateness is judged against it. ``appointment_at`` (to the minute) is None for a
        # process started before working hours.
        self.appointment_at = appointment_at
        self.statutory_appointment_date = appointment_date
        self.statutory_appointment_at = appointment_at
        self.paused_at: datetime | None = None
        self.current = -1
        self.status = "in_progress"
        self.paid = not fee_due_before_result
        self.approved: bool | None = None
        self.paused_on: date | None = None
        self.pauses: list[dict[str, Any]] = []
        self.overdue = False
        self.responsible_agency: str | None = None
        self.apologies = 0
        self.result: dict[str, Any] | None = None

    @property
    def step(self) -> dict[str, Any]:
        return self.steps[self.current]

    @property
    def agency(self) -> str:
        """The agency the dossier is at now."""
        agency: str = self.step["agency_code"]
        return agency

    @property
    def is_last_step(self) -> bool:
        return self.current == len(self.steps) - 1

    @property
    def next_agency(self) -> str | None:
        return None if self.is_last_step else self.steps[self.current + 1]["agency_code"]

    @event("StepStarted")
    def start_step(
        self,
        *,
        index: int,
        started_on: date,
        due_date: date,
        correlation_id: str,
        due_at: datetime | None = None,
    ) -> None:
        self.current = index
        self.step.update(status="started", started_on=started_on, due_date=due_date, due_at=due_at)
        self.status = "in_progress"

    @event("StepClaimed")
    def claim(
        self, *, officer: str, assigned_by: str, correlation_id: str, role: str | None = None
    ) -> None:
        # ``role``: the step role the assigner acted in (None before roles were checked).
        self.check_active("claim")
        self.step["officer"] = officer

    @event("StepCompleted")
    def complete_step(
        self,
        *,
        officer: str,
        notes: str,
        documents: list[dict[str, Any]],
        completed_on: date,
        correlation_id: str,
        completed_at: datetime | None = None,
        role: str | None = None,
    ) -> None:
        self.check_in_progress("complete a step of")
        if self.is_last_step:
            raise StepCannotComplete(
                "the last step ends by issuing the result (POST …/result), not by completing it"
            )
        self.step.update(
            status="completed",
            officer=self.step["officer"] or officer,
            completed_on=completed_on,
            completed_at=completed_at,
            notes=notes,
            documents=documents,
        )
        self.status = "awaiting_handover"

    @event("HandedOver")
    def hand_over(self, *, officer: str, correlation_id: str) -> None:
        if self.status != "awaiting_handover":
            raise IllegalTransition(
                f"cannot hand over: the dossier is {self.status}; complete the current step first"
            )

    @event("SupplementRequested")
    def request_supplement(
        self,
        *,
        officer: str,
        reason: str,
        documents: list[str],
        requested_on: date,
        correlation_id: str,
        requested_at: datetime | None = None,
    ) -> None:
        self.check_in_progress("request a supplement for")
        self.status, self.paused_on, self.paused_at = "paused", requested_on, requested_at
        self.pauses.append({"from": requested_on, "to": None, "reason": reason, "days": None})

    @event("SupplementProvided")
    def provide_supplement(
        self,
        *,
        by: str,
        documents: list[dict[str, Any]],
        provided_on: date,
        paused_working_days: int,
        appointment_date: date,
        step_due_dates: list[date | None],
        correlation_id: str,
        appointment_at: datetime | None = None,
        step_due_moments: list[datetime | None] | None = None,
        statutory_appointment_date: date | None = None,
        statutory_appointment_at: datetime | None = None,
    ) -> None:
        # The last four arrived with working hours and the statutory appointment: an
        # older event moved the one appointment it knew, which was both.
        if self.status != "paused":
            raise IllegalTransition(f"no supplement was requested; the dossier is {self.status}")
        self.pauses[-1].update(to=provided_on, days=paused_working_days)
        self.appointment_date, self.status, self.paused_on = appointment_date, "in_progress", None
        self.appointment_at, self.paused_at = appointment_at, None
        self.statutory_appointment_date = statutory_appointment_date or appointment_date
        self.statutory_appointment_at = statutory_appointment_at or appointment_at
        moments = step_due_moments or [None] * len(self.steps)
        for step, due, due_at in zip(self.steps, step_due_dates, moments, strict=True):
            step["due_date"], step["due_at"] = due, due_at

    @event("Approved")
    def approve(
        self, *, officer: str, notes: str, correlation_id: str, role: str | None = None
    ) -> None:
        self.check_in_progress("approve")
        if self.approved is not None:
            raise IllegalTransition("the dossier has already been decided")
        self.approved = True

    @event("Rejected")
    def reject(
        self, *, officer: str, reason: str, correlation_id: str, role: str | None = None
    ) -> None:
        self.check_active("reject")
        self.status, self.approved = "rejected", False
        self.result = {"reason": reason}

    @event("PaymentRecorded")
    def record_payment(self, *, payment_code: str, amount_vnd: int, correlation_id: str) -> None:
        self.paid = True

    @event("ResultIssued")
    def issue_result(
        self,
        *,
        officer: str,
        kind: str,
        document: dict[str, Any] | None,
        issued_at: datetime,
        issued_on: date,
        correlation_id: str,
        timeliness: str | None = None,
    ) -> None:
        # ``timeliness`` (against the statutory appointment) is stored from working hours
        # on; for an older event the publisher judges it as it did then.
        self.check_in_progress("issue the result of")
        if self.level is not None:
            check_result_kind(self.level, kind)
        if not self.is_last_step:
            raise IllegalTransition("the result is issued at the last step of the process")
        if not self.approved:
            raise IllegalTransition("the dossier has not been approved")
        if not self.paid:
            raise AwaitingPayment(
                "the fee must be paid before the result is issued; "
                "no payment has been recorded for this dossier yet"
            )
        self.step.update(
            status="completed", completed_on=issued_on, officer=self.step["officer"] or officer
        )
        self.status = "result_issued"
        self.result = {
            "kind": kind,
            "document": document,
            "issued_on": issued_on,
            "timeliness": timeliness,
        }

    @event("ResultReturned")
    def record_returned(
        self, *, officer: str, method: str, returned_on: date, correlation_id: str
    ) -> None:
        if self.status != "result_issued":
            raise IllegalTransition(f"no result to return: the dossier is {self.status}")
        if self.level is not None:
            check_result_kind(self.level, method)
        self.status = "returned"

    # A result sent by post, as the postal operator reports it (the delivery itself is
    # recorded as the result's return, ``record_returned``). Internal events: the
    # timeline's history shows them, ``dossier-events`` has postal's own.
    @event("SentByPost")
    def sent_by_post(self, *, by: str, tracking_number: str, correlation_id: str) -> None:
        self.tracking_number = tracking_number

    @event("PickedUpByPost")
    def picked_up_by_post(self, *, by: str, tracking_number: str, correlation_id: str) -> None:
        self.tracking_number = tracking_number

    @event("ReturnedToSenderByPost")
    def returned_to_sender(
        self, *, by: str, tracking_number: str, reason: str, correlation_id: str
    ) -> None:
        self.tracking_number = tracking_number

    @property
    def electronic_result(self) -> dict[str, Any] | None:
        """The issued electronic result's document (sha256, filename, type), if any."""
        if self.status not in ("result_issued", "returned") or self.result is None:
            return None
        if self.result.get("kind") != "electronic":
            return None
        document: dict[str, Any] | None = self.result.get("document")
        return document

    @event("StepOverdue")
    def mark_step_overdue(self, *, index: int, correlation_id: str) -> None:
        step = self.steps[index]
        if step["overdue"] or step["status"] == "completed":
            raise AlreadyMarked("step already overdue or completed")
        step["overdue"] = True

    @event("Overdue")
    def mark_overdue(
        self, *, responsible_agency: str, late_agencies: list[str], correlation_id: str
    ) -> None:
        if self.overdue or self.status not in (*ACTIVE, "paused"):
            raise AlreadyMarked("dossier already overdue or finished")
        self.overdue, self.responsible_agency = True, responsible_agency

    @event("ApologyIssued")
    def apologise(
        self,
        *,
        officer: str,
        agency_code: str,
        reason: str,
        appointment_date: date,
        previous_appointment_date: date,
        correlation_id: str,
    ) -> None:
        if not self.overdue:
            raise IllegalTransition("an apology is issued only for an overdue dossier")
        if appointment_date <= self.appointment_date:
            raise IllegalTransition(
                f"the new appointment must be later than {self.appointment_date.isoformat()}"
            )
        # The promise moves; the statutory appointment, against which the result is
        # judged, does not: a dossier resolved late stays late (S-1).
        self.appointment_date, self.apologies = appointment_date, self.apologies + 1
        self.appointment_at = None  # the apology's new date has no hour

    @event("Withdrawn")
    def withdraw(self, *, by: str, reason: str, correlation_id: str) -> None:
        if self.status not in (*ACTIVE, "paused"):
            raise IllegalTransition(f"cannot withdraw: the dossier is {self.status}")
        self.status = "withdrawn"

    def timeliness_of(self, issued_at: datetime) -> str:
        """Early (a day or more before), on time or late against the statutory appointment."""
        issued_on = issued_at.astimezone(VIETNAM_TZ).date()
        due_on = self.statutory_appointment_date
        if issued_on < due_on:
            return "early"
        due_at = self.statutory_appointment_at
        if issued_on == due_on and (due_at is None or issued_at <= due_at):
            return "on_time"
        return "late"

    def check_in_progress(self, action: str) -> None:
        if self.status != "in_progress":
            raise IllegalTransition(f"cannot {action} a dossier that is {self.status}")

    def check_active(self, action: str) -> None:
        if self.status not in ACTIVE:
            raise IllegalTransition(f"cannot {action} a dossier that is {self.status}")

    def late_agencies(self, today: date) -> list[str]:
        """Agencies whose steps ran (or are running) past their due date, in order."""
        late = [s["agency_code"] for s in self.steps if s["overdue"] or finished_late(s)]
        if self.status in ACTIVE and self.step.get("due_date") and self.step["due_date"] < today:
            late.append(self.agency)
        return list(dict.fromkeys(late))


def finished_late(step: dict[str, Any]) -> bool:
    """Whether a step was completed after its deadline: to the minute where both have
    one (from working hours on), else by the day."""
    if step.get("completed_at") and step.get("due_at"):
        return bool(step["completed_at"] > step["due_at"])
    return bool(
        step["completed_on"] and step.get("due_date") and step["completed_on"] > step["due_date"]
    )


class IllegalTransition(Conflict):
    pass


class StepCannotComplete(IllegalTransition):
    pass


class AwaitingPayment(IllegalTransition):
    pass


class ResultKindNotAllowed(IllegalTransition):
    """The procedure's level does not offer this kind of result (W-5)."""


class AlreadyMarked(Conflict):
    """The clock found nothing new to mark (idempotent: not an error for callers)."""
