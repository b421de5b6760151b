"""The overdue clock and apologies: what happens when a deadline passes.

A periodic job marks the steps and the dossiers whose due date has gone by (the
stats and the notices count on those marks); the agency responsible for the delay, or
the one holding the dossier, then writes the applicant an apology with a new
appointment date.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from uuid import UUID

from eventsourcing.persistence import IntegrityError

from motcua.core.calendar import local_date
from motcua.core.errors import Forbidden
from motcua.core.retry import retry_on_conflict
from motcua.web.auth import Caller
from services.workflow.base import WorkflowBase
from services.workflow.domain import AlreadyMarked


class DeadlinesMixin(WorkflowBase):
    """The clock's marks of late steps and dossiers, and the apology for a delay."""

    def check_deadlines(self) -> int:
        """Mark steps and dossiers whose deadline has passed; return how many changed.

        Safe to run in several processes at once: each mark is guarded by the aggregate
        and a concurrent save of the same mark fails on the event store's key.
        """
        now = self.clock()
        today, moment = local_date(now).isoformat(), now.astimezone(UTC).isoformat()
        # To the minute where the deadline has its minute; else by the day, as before.
        rows = self.store.read(
            "SELECT dossier_id FROM {workflow_processes} WHERE "
            "((status = 'in_progress' AND step_overdue = 0 AND (step_due_at < ? "
            "OR (step_due_at IS NULL AND step_due_date < ?))) "
            "OR (status IN ('in_progress', 'awaiting_handover') AND overdue = 0 "
            "AND (appointment_at < ? OR (appointment_at IS NULL AND appointment_date < ?))))",
            (moment, today, moment, today),
        )
        marked = 0
        for row in rows:
            # Not ``retry_on_conflict``: this loop goes over dossiers, it does not run one
            # command again. A lost race (the domain's AlreadyMarked, or the store's key)
            # skips the dossier; the next run of the clock reads it again if still late.
            try:
                marked += self._mark_late(UUID(row["dossier_id"]))
            except (AlreadyMarked, IntegrityError):
                continue  # another clock got there first
        return marked

    def _mark_late(self, dossier_id: UUID) -> int:
        process = self._process(dossier_id)
        now = self.clock()
        today = local_date(now)
        cid = f"clock:{today.isoformat()}"
        step = process.step
        changed = 0
        step_late = _passed(step["due_date"], step.get("due_at"), now)
        if process.status == "in_progress" and not step["overdue"] and step_late:
            process.mark_step_overdue(index=process.current, correlation_id=cid)
            changed += 1
        if not process.overdue and _passed(process.appointment_date, process.appointment_at, now):
            late = process.late_agencies(today)
            process.mark_overdue(
                responsible_agency=late[0] if late else process.agency,
                late_agencies=late or [process.agency],
                correlation_id=cid,
            )
            changed += 1
        if changed:
            self._save(process)
        return changed

    @retry_on_conflict
    def apologise(
        self, caller: Caller, dossier_id: UUID, reason: str, new_date: date, cid: str
    ) -> None:
        """The responsible agency's written apology with a new appointment date."""
        process = self._process(dossier_id)
        caller.require("officer")
        if caller.agency not in (process.responsible_agency, process.agency):
            raise Forbidden(
                "the apology is issued by the agency responsible for the delay "
                f"({process.responsible_agency}) or the one holding the dossier"
            )
        assert caller.agency is not None
        process.apologise(
            officer=caller.sub,
            agency_code=caller.agency,
            reason=reason,
            appointment_date=new_date,
            previous_appointment_date=process.appointment_date,
            correlation_id=cid,
        )
        self._save(process)


def _passed(due_date: date, due_at: datetime | None, now: datetime) -> bool:
    """Whether a deadline has gone by: its minute where it has one, else its whole day."""
    if due_at is not None:
        return due_at < now
    return due_date < local_date(now)
