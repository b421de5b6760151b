"""WorkflowApplication: runs each dossier's electronic process and keeps its clock.

It reacts to ``DossierReceived`` (start the process) and ``PaymentSucceeded`` /
``FeeWaived`` (open the payment gate) from ``dossier-events``, and to officers and
applicants over HTTP. Every save also writes the process's queue row and, for
consumed events, the consumer's positions: one transaction each time.
"""

from __future__ import annotations

import hmac
import math
from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import IntegrityError, JSONTranscoder

from contracts.intake import DossierReceived
from contracts.payment import FeeWaived, PaymentSucceeded
from motcua.core.calendar import add_working_days, local_date, working_days_between
from motcua.core.clock import Clock, system_clock
from motcua.core.errors import Forbidden, NotFound
from motcua.core.retry import retry_on_conflict
from motcua.core.transcoding import DateAsISO
from motcua.runtime.attachments import Attachments
from motcua.runtime.handlers import Handlers
from motcua.runtime.store import Store, Write
from motcua.runtime.unit_of_work import UnitOfWork
from motcua.web.auth import Caller, agency_scope
from services.catalogue.procedures import Catalogue, Procedure
from services.workflow.domain import (
    AlreadyMarked,
    IllegalTransition,
    Process,
    check_result_kind,
)
from services.workflow.readmodel import create_tables, process_row
from services.workflow.timeline import Timelines, history_entry

# The one answer to an unknown code and to a caller who may not have the dossier.
NO_SUCH_DOSSIER = "no dossier matches that code and ID number"


class WorkflowApplication(Application[UUID]):
    """Commands and queries of the process; the clock that marks late dossiers."""

    name = "workflow"

    def __init__(
        self, env: dict[str, str] | None = None, *, catalogue: Catalogue, clock: Clock | None = None
    ) -> None:
        super().__init__(env)
        self.catalogue = catalogue
        self.clock: Clock = clock or system_clock
        self.store = Store(self.recorder)  # type: ignore[arg-type]
        self.store.write(create_tables)
        self.timelines = Timelines(self, self.store)
        self.attachments = Attachments(self.store)

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        transcoder.register(DateAsISO())

    def today(self) -> date:
        return local_date(self.clock())

    # -- events from other services ---------------------------------------------------

    def handlers(self) -> Handlers:
        """The consumed contract events this service acts on (others are only tracked)."""
        return Handlers(
            {
                DossierReceived: self.start,
                (PaymentSucceeded, FeeWaived): self.open_payment_gate,
            }
        )

    def start(self, event: DossierReceived, uow: UnitOfWork) -> None:
        """Start the procedure's process; the first step begins on the day of receipt."""
        if uow.get(event.dossier_id, Process) is not None:
            return
        procedure = self.catalogue.require(event.procedure_id)
        received_on = local_date(event.received_at)
        steps = planned_steps(procedure, received_on)
        process = Process(
            dossier_id=event.dossier_id,
            code=event.code,
            procedure_id=procedure.id,
            procedure_name=procedure.name,
            applicant_account=event.applicant.account,
            applicant_id_number=event.applicant.id_number,
            level=event.level,
            steps=steps,
            received_on=received_on,
            appointment_date=event.appointment_date,
            fee_due_before_result=procedure.fee_due_before_result,
            correlation_id=str(event.event_id),
        )
        process.start_step(
            index=0,
            started_on=received_on,
            due_date=steps[0]["due_date"],
            correlation_id=str(event.event_id),
        )
        uow.save(process, writes=self._rows(process))

    def open_payment_gate(self, event: PaymentSucceeded | FeeWaived, uow: UnitOfWork) -> None:
        process = uow.get(event.dossier_id, Process)
        if process is None:
            raise NotFound("no such dossier in process")
        amount = event.amount_vnd if isinstance(event, PaymentSucceeded) else 0
        code = event.payment_code if isinstance(event, PaymentSucceeded) else "waived"
        process.record_payment(
            payment_code=code, amount_vnd=amount, correlation_id=str(event.event_id)
        )
        uow.save(process, writes=self._rows(process))

    # -- officers ---------------------------------------------------------------------

    @retry_on_conflict
    def claim(self, caller: Caller, dossier_id: UUID, officer: str | None, cid: str) -> None:
        """Take the current step, or assign it to another officer of the same agency."""
        process = self._at_agency(caller, dossier_id)
        process.claim(officer=officer or caller.sub, assigned_by=caller.sub, correlation_id=cid)
        self._save(process)

    @retry_on_conflict
    def complete_step(
        self, caller: Caller, dossier_id: UUID, notes: str, refs: list[dict[str, str]], cid: str
    ) -> None:
        """Finish the current step; the next one starts now if it is at the same agency."""
        process = self._at_agency(caller, dossier_id)
        process.complete_step(
            officer=caller.sub,
            notes=notes,
            documents=self.attachments.describe(refs),
            completed_on=self.today(),
            correlation_id=cid,
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
        )

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
    def approve(self, caller: Caller, dossier_id: UUID, notes: str, cid: str) -> None:
        process = self._at_agency(caller, dossier_id)
        process.approve(officer=caller.sub, notes=notes, correlation_id=cid)
        self._save(process)

    @retry_on_conflict
    def reject(self, caller: Caller, dossier_id: UUID, reason: str, cid: str) -> None:
        process = self._at_agency(caller, dossier_id)
        process.reject(officer=caller.sub, reason=reason, correlation_id=cid)
        self._save(process)

    @retry_on_conflict
    def issue_result(
        self, caller: Caller, dossier_id: UUID, kind: str, ref: dict[str, str] | None, cid: str
    ) -> None:
        """Issue the result: an electronic document, or ready for pickup or post (W-5)."""
        process = self._at_agency(caller, dossier_id)
        self._check_kind_of_legacy(process, kind)
        document = self.attachments.describe([ref])[0] if ref else None
        now = self.clock()
        process.issue_result(
            officer=caller.sub,
            kind=kind,
            document=document,
            issued_at=now,
            issued_on=local_date(now),
            correlation_id=cid,
        )
        self._save(process)

    @retry_on_conflict
    def record_returned(self, caller: Caller, dossier_id: UUID, method: str, cid: str) -> None:
        process = self._at_agency(caller, dossier_id)
        self._check_kind_of_legacy(process, method)
        process.record_returned(
            officer=caller.sub, method=method, returned_on=self.today(), correlation_id=cid
        )
        self._save(process)

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

    # -- applicants -------------------------------------------------------------------

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

    # -- the clock --------------------------------------------------------------------

    def check_deadlines(self) -> int:
        """Mark steps and dossiers whose deadline has passed; return how many changed.

        Safe to run in several processes at once: each mark is guarded by the aggregate
        and a concurrent save of the same mark fails on the event store's key.
        """
        today = self.today().isoformat()
        rows = self.store.read(
            "SELECT dossier_id FROM {workflow_processes} WHERE "
            "((status = 'in_progress' AND step_overdue = 0 AND step_due_date < ?) "
            "OR (status IN ('in_progress', 'awaiting_handover') AND overdue = 0 "
            "AND appointment_date < ?))",
            (today, today),
        )
        marked = 0
        for row in rows:
            try:
                marked += self._mark_late(UUID(row["dossier_id"]))
            except (AlreadyMarked, IntegrityError):
                continue  # another clock got there first
        return marked

    def _mark_late(self, dossier_id: UUID) -> int:
        process = self._process(dossier_id)
        today = self.today()
        cid = f"clock:{today.isoformat()}"
        step = process.step
        changed = 0
        if process.status == "in_progress" and not step["overdue"] and step["due_date"] < today:
            process.mark_step_overdue(index=process.current, correlation_id=cid)
            changed += 1
        if not process.overdue and process.appointment_date < today:
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

    # -- queries ----------------------------------------------------------------------

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
    ) -> list[dict[str, Any]]:
        """Dossiers currently at the officer's agency, earliest deadline first."""
        where, params = agency_scope(caller)
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
        return self.store.read(
            f"SELECT * FROM {{workflow_processes}} WHERE {' AND '.join(where)} "
            "ORDER BY step_due_date ASC, code ASC LIMIT ? OFFSET ?",
            (*params, limit, offset),
        )

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

    def result_document(
        self, caller: Caller | None, ref: str, id_number: str | None
    ) -> dict[str, Any]:
        """The electronic result's file (``data``) and its description (W-5).

        For the applicant (their token, or the dossier's code with their ID number, as
        for intake's lookup), the officers of the agency holding the dossier, an admin.
        Anyone else gets the 404 of an unknown code: the answer never tells that a code
        exists. Those who may see it learn whether there is a file yet.
        """
        process = self._by_ref(ref)
        if process is None or not self._may_take_result(caller, process, ref, id_number):
            raise NotFound(NO_SUCH_DOSSIER)
        document = process.electronic_result
        if document is None:
            raise NotFound(
                f"no electronic result has been issued for this dossier (it is {process.status})"
            )
        stored = self.attachments.get(document["sha256"])
        return {**document, "content_type": stored["content_type"], "data": stored["data"]}

    def check_result(self, code: str, sha256: str) -> dict[str, Any]:
        """Whether ``sha256`` is that of the electronic result issued under ``code``.

        Anyone may ask; the answer names the procedure, the issuing agency and the day
        when the document matches, and nothing at all otherwise (an unknown code, no
        electronic result, another document: all the same ``matches: false``).
        """
        sha256 = sha256.lower()
        row = self.store.read_one(
            "SELECT dossier_id FROM {workflow_processes} WHERE code = ?", (code,)
        )
        process = self._process(UUID(row["dossier_id"])) if row else None
        document = process.electronic_result if process else None
        matches = document is not None and hmac.compare_digest(
            str(document["sha256"]).encode(), sha256.encode()
        )
        issued = process if matches and process and process.result else None
        return {
            "code": code,
            "sha256": sha256,
            "matches": issued is not None,
            "procedure_name": issued.procedure_name if issued else None,
            "agency_code": issued.agency if issued else None,
            "issued_on": issued.result["issued_on"] if issued and issued.result else None,
        }

    def history(self, process: Process) -> list[dict[str, Any]]:
        """Every workflow event of the dossier up to the state loaded, with time and actor.

        Bounded by the process's version so that the timeline describes the same state
        as the steps beside it, even when an officer saves a new event in between."""
        return [history_entry(e) for e in self.events.get(process.id, lte=process.version)]

    # -- helpers ----------------------------------------------------------------------

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

    def _check_kind_of_legacy(self, process: Process, kind: str) -> None:
        """A process started before its level was recorded: the catalogue's level."""
        if process.level is None:
            check_result_kind(self.catalogue.require(process.procedure_id).level, kind)

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

    def _own(self, caller: Caller, dossier_id: UUID) -> Process:
        caller.require("citizen")
        process = self._process(dossier_id)
        if process.applicant_account != caller.sub:
            raise NotFound("no such dossier in process")
        return process

    @staticmethod
    def _may_take_result(
        caller: Caller | None, process: Process, ref: str, id_number: str | None
    ) -> bool:
        """The applicant (by token, or by code and ID number), the officers of the agency
        holding the dossier, an admin."""
        if caller is not None and (
            caller.role == "admin"
            or (caller.role == "citizen" and process.applicant_account == caller.sub)
            or (caller.role == "officer" and caller.agency == process.agency)
        ):
            return True
        return (
            id_number is not None
            and process.applicant_id_number is not None
            and ref == process.code
            and hmac.compare_digest(
                id_number.strip().encode(), process.applicant_id_number.encode()
            )
        )

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


def planned_steps(procedure: Procedure, received_on: date) -> list[dict[str, Any]]:
    """The process's steps with their due dates: each step's share of the time limit,
    counted cumulatively in working days from the day of receipt (W-1, W-3)."""
    elapsed, steps = Decimal(0), []
    for step in procedure.process:
        elapsed += step.working_days
        steps.append(
            {
                "id": step.id,
                "name": step.name,
                "agency_code": step.agency.code,
                "agency_name": step.agency.name,
                "role": step.role,
                "working_days": str(step.working_days),
                "due_date": add_working_days(received_on, math.ceil(elapsed)),
            }
        )
    return steps
