"""The workflow's queries: the agency queue, the timeline, a process and its history.

Reads only: the queue from the processes' queue rows, the timeline from its document
row (built from the aggregate once for a process saved before those rows existed), each
answer limited to those who may see the dossier.
"""

from __future__ import annotations

from typing import Any

from motcua.core.calendar import add_working_days
from motcua.core.errors import NotFound
from motcua.web.auth import Caller, agency_scope
from services.workflow.base import WorkflowBase
from services.workflow.domain import Process
from services.workflow.timeline import history_entry


class QueriesMixin(WorkflowBase):
    """What officers and applicants read about the dossiers in process."""

    def queue(
        self,
        caller: Caller,
        *,
        step: str | None,
        due_within_days: int | None,
        overdue: bool | None,
        status: str | None,
        limit: int,
        offset: int,
        can_act: bool | None = None,
    ) -> list[dict[str, Any]]:
        """Dossiers currently at the officer's agency, earliest deadline first, each with
        ``can_act``: whether the caller may work on its current step now (it is in
        progress and they hold its role); ``can_act`` given keeps only those (or the rest)."""
        where, params = agency_scope(caller)
        roles = list(caller.step_roles) if caller.role == "officer" else []
        actionable = (
            f"(status = 'in_progress' AND step_role IN ({', '.join('?' * len(roles))}))"
            if roles
            else "(1 = 0)"
        )
        if can_act is not None:
            where.append(actionable if can_act else f"NOT {actionable}")
            params.extend(roles)
        if step:
            where.append("step_id = ?")
            params.append(step)
        if status:
            where.append("status = ?")
            params.append(status)
        if due_within_days is not None:
            where.append("step_due_date <= ?")
            params.append(add_working_days(self.today(), due_within_days).isoformat())
        if overdue is not None:
            where.append(
                "(step_overdue = 1 OR overdue = 1)"
                if overdue
                else "(step_overdue = 0 AND overdue = 0)"
            )
        rows = self.store.read(
            f"SELECT * FROM {{workflow_processes}} WHERE {' AND '.join(where)} "
            "ORDER BY step_due_date ASC, code ASC LIMIT ? OFFSET ?",
            (*params, limit, offset),
        )
        return [
            {**r, "can_act": r["status"] == "in_progress" and r["step_role"] in roles} for r in rows
        ]

    def timeline(self, caller: Caller, ref: str) -> dict[str, Any]:
        """The timeline's document by dossier id or code, for whoever may ``view`` it.

        Read from the process's timeline row; a process saved before those rows existed
        is built from the aggregate once, and its row kept."""
        found = self.timelines.find(ref)
        if found is None:
            process = self.view(caller, ref)
            return self.timelines.keep(process, self.history(process))
        applicant_account, document = found
        agencies = {step["agency_code"] for step in document["steps"]}
        if not self._may_see_as(caller, applicant_account, agencies):
            raise NotFound("no such dossier in process")
        return document

    def view(self, caller: Caller, ref: str) -> Process:
        """The process by dossier id or code, for the applicant, its agencies, an admin."""
        process = self._by_ref(ref)
        if process is None or not self._may_see(caller, process):
            raise NotFound("no such dossier in process")
        return process

    def history(self, process: Process) -> list[dict[str, Any]]:
        """Every workflow event of the dossier up to the state loaded, with time and actor.

        Bounded by the process's version so that the timeline describes the same state
        as the steps beside it, even when an officer saves a new event in between."""
        return [history_entry(e) for e in self.events.get(process.id, lte=process.version)]
