"""The workflow's consumer policy: what the events of other services make it do.

A received dossier (``DossierReceived``, from intake) starts its procedure's process,
with every step's deadline planned in working time from the moment of receipt; a
payment or a waived fee (from payment) opens the gate before the result; the postal
operator's news of a result sent by post (from postal) goes on the timeline, and its
delivery is the result's return; a change of
the working calendar (from intake) is recorded, so that later deadlines count with it,
and so is a change of the directory of agencies and officers, by which steps are assigned.
These run in the consumer's unit of work, so the process, its rows and the consumer's
positions commit together; the commands of officers and applicants (the other modules)
are HTTP's.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from contracts.intake import DossierReceived
from contracts.payment import FeeWaived, PaymentSucceeded
from contracts.postal import ShipmentDelivered, ShipmentOrdered, ShipmentPickedUp, ShipmentReturned
from motcua.core.calendar import WorkingCalendar, local_date
from motcua.core.errors import NotFound
from motcua.runtime import directory, working_calendar
from motcua.runtime.handlers import Handlers
from motcua.runtime.unit_of_work import UnitOfWork
from services.catalogue.procedures import Procedure
from services.workflow.base import WorkflowBase
from services.workflow.domain import Process

Shipment = ShipmentOrdered | ShipmentPickedUp | ShipmentDelivered | ShipmentReturned


class ConsumerPolicyMixin(WorkflowBase):
    """Starts processes from received dossiers; records their payments."""

    def handlers(self) -> Handlers:
        """The consumed contract events this service acts on (others are only tracked)."""
        return Handlers(
            {
                DossierReceived: self.start,
                (PaymentSucceeded, FeeWaived): self.open_payment_gate,
                (ShipmentOrdered, ShipmentPickedUp, ShipmentDelivered, ShipmentReturned): (
                    self.record_post
                ),
                working_calendar.CALENDAR_CHANGES: self.record_calendar_change,
                directory.DIRECTORY_CHANGES: self.record_directory_change,
            }
        )

    def record_calendar_change(
        self, event: working_calendar.CalendarChange, uow: UnitOfWork
    ) -> None:
        """The administrator's change of the working calendar, for the deadlines to come."""
        uow.save(writes=[working_calendar.apply(event)])

    def record_directory_change(self, event: directory.DirectoryChange, uow: UnitOfWork) -> None:
        """The administrator's change of the directory, for the assignments to come."""
        uow.save(writes=[directory.apply(event)])

    def start(self, event: DossierReceived, uow: UnitOfWork) -> None:
        """Start the procedure's process; the first step begins at receipt."""
        if uow.get(event.dossier_id, Process) is not None:
            return
        procedure = self.catalogue.require(event.procedure_id)
        received_on = local_date(event.received_at)
        steps = planned_steps(
            procedure, event.received_at, self.calendar_reader(uow.tx), event.appointment_at
        )
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
            appointment_at=event.appointment_at,
        )
        process.start_step(
            index=0,
            started_on=received_on,
            due_date=steps[0]["due_date"],
            correlation_id=str(event.event_id),
            due_at=steps[0]["due_at"],
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

    def record_post(self, event: Shipment, uow: UnitOfWork) -> None:
        """The postal operator's news of a result sent by post, on the timeline; its
        delivery is the result's return (W-5)."""
        process = uow.get(event.dossier_id, Process)
        if process is None:
            raise NotFound("no such dossier in process")
        by, cid = f"post {event.tracking_number}", str(event.event_id)
        if isinstance(event, ShipmentOrdered):
            process.sent_by_post(by=by, tracking_number=event.tracking_number, correlation_id=cid)
        elif isinstance(event, ShipmentPickedUp):
            process.picked_up_by_post(
                by=by, tracking_number=event.tracking_number, correlation_id=cid
            )
        elif isinstance(event, ShipmentReturned):
            process.returned_to_sender(
                by=by,
                tracking_number=event.tracking_number,
                reason=event.reason,
                correlation_id=cid,
            )
        elif process.status == "result_issued":
            process.record_returned(
                officer=by, method="post", returned_on=local_date(event.at), correlation_id=cid
            )
        uow.save(process, writes=self._rows(process))


def planned_steps(
    procedure: Procedure,
    received_at: datetime,
    calendar: WorkingCalendar,
    appointment_at: datetime | None,
) -> list[dict[str, Any]]:
    """The process's steps with their deadlines: each step's share of the time limit,
    counted cumulatively in working time from the moment of receipt (W-1, W-3); a
    quarter-day first step received in the morning is due that morning.

    The last step is due at the appointment on the receipt, when the receipt gives its
    hour: that is the promise, whatever calendar change arrived in between."""
    elapsed, steps = Decimal(0), []
    for step in procedure.process:
        elapsed += step.working_days
        due_at = calendar.deadline(received_at, elapsed)
        steps.append(
            {
                "id": step.id,
                "name": step.name,
                "agency_code": step.agency.code,
                "agency_name": step.agency.name,
                "role": step.role,
                "working_days": str(step.working_days),
                "due_date": due_at.date(),
                "due_at": due_at,
            }
        )
    if appointment_at is not None:
        last = steps[-1]
        last["due_at"] = appointment_at
        last["due_date"] = local_date(appointment_at)
    return steps
