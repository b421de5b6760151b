"""Supplements and withdrawal: the exchanges with the applicant while the process runs.

An officer asks for more documents and the clock stops; the applicant's documents
arrive and it resumes, every open deadline and the appointment moved on by the working
days it was stopped. The applicant may also withdraw a dossier before its result.
"""

from __future__ import annotations

from uuid import UUID

from motcua.core.calendar import add_working_days, working_days_between
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
        today = self.today()
        paused = working_days_between(process.paused_on, today)
        dues = [
            s["due_date"]
            if s["status"] == "completed" or s.get("due_date") is None
            else add_working_days(s["due_date"], paused)
            for s in process.steps
        ]
        process.provide_supplement(
            by=caller.sub,
            documents=self.attachments.describe(refs),
            provided_on=today,
            paused_working_days=paused,
            appointment_date=add_working_days(process.appointment_date, paused),
            step_due_dates=dues,
            correlation_id=cid,
        )
        self._save(process)

    @retry_on_conflict
    def withdraw(self, caller: Caller, dossier_id: UUID, reason: str, cid: str) -> None:
        """The applicant withdraws a dossier in process (before its result)."""
        process = self._own(caller, dossier_id)
        process.withdraw(by=caller.sub, reason=reason, correlation_id=cid)
        self._save(process)
