"""What every feature of ``WorkflowApplication`` shares: loading and saving a process,
and who may see or act on it.

The application's features (the consumer policy, officers' steps, supplements, results,
the clock, the queries) are mixins of this one class, so that each lives in a module of
its own while they all remain the one eventsourcing ``Application`` whose saves write
the process's read-model rows in the same transaction. ``WorkflowApplication.__init__``
(services/workflow/application.py) sets the attributes declared here.
"""

from __future__ import annotations

from datetime import date
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application

from motcua.core.calendar import WorkingCalendar, local_date
from motcua.core.clock import Clock
from motcua.core.errors import Forbidden, NotFound
from motcua.runtime.attachments import Attachments
from motcua.runtime.store import Store, Write
from motcua.runtime.working_calendar import CalendarReader
from motcua.web.auth import Caller
from services.catalogue.procedures import Catalogue
from services.workflow.authority import acting_role
from services.workflow.domain import Process
from services.workflow.readmodel import process_row
from services.workflow.timeline import Timelines


class WorkflowBase(Application[UUID]):
    """The state and helpers the workflow's features have in common."""

    catalogue: Catalogue
    clock: Clock
    store: Store
    timelines: Timelines
    attachments: Attachments
    calendar_reader: CalendarReader

    def today(self) -> date:
        return local_date(self.clock())

    def calendar(self) -> WorkingCalendar:
        """The working calendar as the last change consumed from intake left it."""
        return self.calendar_reader()

    # -- loading and saving -----------------------------------------------------------

    def _save(self, process: Process) -> None:
        self.save(process, writes=self._rows(process))

    def _rows(self, process: Process) -> list[Write]:
        """The process's read-model rows: its queue row and its timeline."""
        return [process_row(process), self.timelines.row(process)]

    def _process(self, dossier_id: UUID) -> Process:
        try:
            process: Process = self.repository.get(dossier_id)
        except AggregateNotFoundError:
            raise NotFound("no such dossier in process") from None
        return process

    def _by_ref(self, ref: str) -> Process | None:
        row = self.store.read_one(
            "SELECT dossier_id FROM {workflow_processes} WHERE dossier_id = ? OR code = ?",
            (ref, ref),
        )
        return self._process(UUID(row["dossier_id"])) if row else None

    # -- who may act or see -----------------------------------------------------------

    def _at_agency(self, caller: Caller, dossier_id: UUID) -> Process:
        """The process, if the caller is an officer of the agency that holds it now."""
        caller.require("officer")
        process = self._process(dossier_id)
        if caller.agency != process.agency:
            if not self._may_see(caller, process):
                raise NotFound("no such dossier in process")
            raise Forbidden(
                f"the dossier is at agency {process.agency} now; you act for {caller.agency}"
            )
        return process

    def _on_step(
        self, caller: Caller, dossier_id: UUID, action: str, *, assigning: bool = False
    ) -> tuple[Process, str]:
        """The process and the step role the caller acts in, if they are an officer of
        the agency holding it now and hold the current step's role (services/workflow/
        authority.py); 404 or 403 otherwise."""
        process = self._at_agency(caller, dossier_id)
        return process, acting_role(caller, process.step, action, assigning=assigning)

    def _own(self, caller: Caller, dossier_id: UUID) -> Process:
        caller.require("citizen")
        process = self._process(dossier_id)
        if process.applicant_account != caller.sub:
            raise NotFound("no such dossier in process")
        return process

    @classmethod
    def _may_see(cls, caller: Caller, process: Process) -> bool:
        agencies = {s["agency_code"] for s in process.steps}
        return cls._may_see_as(caller, process.applicant_account, agencies)

    @staticmethod
    def _may_see_as(caller: Caller, applicant_account: str | None, agencies: set[str]) -> bool:
        """The applicant, an officer of an agency of one of the steps, an admin."""
        if caller.role == "admin":
            return True
        if caller.role == "citizen":
            return applicant_account == caller.sub
        return caller.role == "officer" and caller.agency in agencies
