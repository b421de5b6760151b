"""Supplements and withdrawal: the exchanges with the applicant while the process runs.

An officer asks for more documents and the clock stops; the applicant's documents
arrive and it resumes, every open deadline and the appointment moved on by the working
time it was stopped (whole working days for a process started before working hours).
The pause moves the statutory appointment too: it is a lawful stop of the clock.
The applicant may also withdraw a dossier before its result.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from uuid import UUID

from motcua.core.calendar import WorkingCalendar, local_date
from motcua.core.retry import retry_on_conflict
from motcua.web.auth import Caller
from services.workflow.base import WorkflowBase
from services.workflow.domain import IllegalTransition


class SupplementsAndWithdrawalMixin(WorkflowBase):
    """The officer's request for documents, the applicant's answer and withdrawal."""

    @retry_on_conflict
    def request_supplement(
        self, caller: Caller, dossier_id: UUID, reason: str, documents: list[str], cid: str
    ) -> None:
        """Ask the applicant for more documents; the clock stops until they arrive."""
        process = self._at_agency(caller, dossier_id)
        process.request_supplement(
            officer=caller.sub,
            reason=reason,
            documents=documents,
            requested_on=self.today(),
            correlation_id=cid,
            requested_at=self.clock(),
        )
        self._save(process)

    @retry_on_conflict
    def provide_supplement(
        self, caller: Caller, dossier_id: UUID, refs: list[dict[str, str]], cid: str
    ) -> None:
        """The applicant's documents arrive: the clock resumes, deadlines move on."""
        process = self._own(caller, dossier_id)
        if process.paused_on is None:
            raise IllegalTransition(f"no supplement was requested; the dossier is {process.status}")
        now, calendar = self.clock(), self.calendar()
        today = local_date(now)
        paused_days = calendar.working_days_between(process.paused_on, today)
        moved = _Moved(calendar, process.paused_at, now, paused_days)
        open_steps = [s["status"] != "completed" and s.get("due_date") for s in process.steps]
        process.provide_supplement(
            by=caller.sub,
            documents=self.attachments.describe(refs),
            provided_on=today,
            paused_working_days=paused_days,
            appointment_date=moved.date(process.appointment_date, process.appointment_at),
            step_due_dates=[
                moved.date(s["due_date"], s.get("due_at")) if is_open else s.get("due_date")
                for s, is_open in zip(process.steps, open_steps, strict=True)
            ],
            correlation_id=cid,
            appointment_at=moved.moment(process.appointment_at),
            step_due_moments=[
                moved.moment(s.get("due_at")) if is_open else s.get("due_at")
                for s, is_open in zip(process.steps, open_steps, strict=True)
            ],
            statutory_appointment_date=moved.date(
                process.statutory_appointment_date, process.statutory_appointment_at
            ),
            statutory_appointment_at=moved.moment(process.statutory_appointment_at),
        )
        self._save(process)

    @retry_on_conflict
    def withdraw(self, caller: Caller, dossier_id: UUID, reason: str, cid: str) -> None:
        """The applicant withdraws a dossier in process (before its result)."""
        process = self._own(caller, dossier_id)
        process.withdraw(by=caller.sub, reason=reason, correlation_id=cid)
        self._save(process)


class _Moved:
    """Deadlines moved on by a pause: by its working time where a deadline has its
    minute and the pause its start, else by the pause's whole working days."""

    def __init__(
        self, calendar: WorkingCalendar, paused_at: datetime | None, now: datetime, days: int
    ) -> None:
        self.calendar, self.days = calendar, days
        self.paused = calendar.working_time_between(paused_at, now) if paused_at else None

    def moment(self, due_at: datetime | None) -> datetime | None:
        if due_at is None or self.paused is None:
            return None
        return self.calendar.add_working_time(due_at, self.paused)

    def date(self, due_date: Any, due_at: datetime | None) -> date:
        moved = self.moment(due_at)
        if moved is not None:
            return local_date(moved)
        result: date = self.calendar.add_working_days(due_date, self.days)
        return result
