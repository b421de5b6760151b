"""Officers' step commands: claim, complete, hand over, approve, reject.

The everyday work on a dossier at the agency holding it: taking the current step,
finishing it (the next one starts at once when it is at the same agency), handing the
dossier to the next step's agency (liên thông), and the decision. Each command loads
the process, lets the aggregate check its rules, and saves; a lost race runs it again.

Claiming, completing, approving and rejecting need the current step's role
(services/workflow/authority.py), recorded in the event; handing over is the agency's.
"""

from __future__ import annotations

from uuid import UUID

from motcua.core.retry import retry_on_conflict
from motcua.web.auth import Caller
from services.workflow.authority import check_assignee
from services.workflow.base import WorkflowBase
from services.workflow.domain import Process


class OfficerStepsMixin(WorkflowBase):
    """The commands of the officers of the agency that holds the dossier now."""

    @retry_on_conflict
    def claim(self, caller: Caller, dossier_id: UUID, officer: str | None, cid: str) -> None:
        """Take the current step, or assign it to another officer of the same agency.

        The assigner must hold the step's role or be the agency's leader (lanh_dao); the
        assignee must be listed in the directory at the step's agency with the step's
        role (``authority.check_assignee``; 422 otherwise). Claiming for oneself goes by
        the token's roles. The assignee still needs the step's role to complete it."""
        assigning = officer is not None and officer != caller.sub
        action = "assign" if assigning else "claim"
        process, role = self._on_step(caller, dossier_id, action, assigning=assigning)
        if assigning and officer is not None:
            check_assignee(self.store, officer, process.agency, process.step)
        process.claim(
            officer=officer or caller.sub, assigned_by=caller.sub, correlation_id=cid, role=role
        )
        self._save(process)

    @retry_on_conflict
    def complete_step(
        self, caller: Caller, dossier_id: UUID, notes: str, refs: list[dict[str, str]], cid: str
    ) -> None:
        """Finish the current step; the next one starts now if it is at the same agency."""
        process, role = self._on_step(caller, dossier_id, "complete")
        process.complete_step(
            officer=caller.sub,
            role=role,
            notes=notes,
            documents=self.attachments.describe(refs),
            completed_on=self.today(),
            correlation_id=cid,
            completed_at=self.clock(),
        )
        if process.next_agency == process.agency:
            self._start_next(process, cid)
        self._save(process)

    @retry_on_conflict
    def hand_over(self, caller: Caller, dossier_id: UUID, cid: str) -> None:
        """Send the dossier to the next step's agency (liên thông)."""
        process = self._at_agency(caller, dossier_id)
        process.hand_over(officer=caller.sub, correlation_id=cid)
        self._start_next(process, cid)
        self._save(process)

    def _start_next(self, process: Process, cid: str) -> None:
        index = process.current + 1
        process.start_step(
            index=index,
            started_on=self.today(),
            due_date=process.steps[index]["due_date"],
            correlation_id=cid,
            due_at=process.steps[index].get("due_at"),
        )

    @retry_on_conflict
    def approve(self, caller: Caller, dossier_id: UUID, notes: str, cid: str) -> None:
        process, role = self._on_step(caller, dossier_id, "approve")
        process.approve(officer=caller.sub, notes=notes, correlation_id=cid, role=role)
        self._save(process)

    @retry_on_conflict
    def reject(self, caller: Caller, dossier_id: UUID, reason: str, cid: str) -> None:
        process, role = self._on_step(caller, dossier_id, "reject")
        process.reject(officer=caller.sub, reason=reason, correlation_id=cid, role=role)
        self._save(process)
