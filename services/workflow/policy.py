"""The workflow's consumer policy: what the events of other services make it do.

A received dossier (``DossierReceived``, from intake) starts its procedure's process,
with every step's due date planned from the day of receipt; a payment or a waived fee
(from payment) opens the gate before the result. These run in the consumer's unit of
work, so the process, its rows and the consumer's positions commit together; the
commands of officers and applicants (the other modules) are HTTP's.
"""

from __future__ import annotations

import math
from datetime import date
from decimal import Decimal
from typing import Any

from contracts.intake import DossierReceived
from contracts.payment import FeeWaived, PaymentSucceeded
from motcua.core.calendar import add_working_days, local_date
from motcua.core.errors import NotFound
from motcua.runtime.handlers import Handlers
from motcua.runtime.unit_of_work import UnitOfWork
from services.catalogue.procedures import Procedure
from services.workflow.base import WorkflowBase
from services.workflow.domain import Process


class ConsumerPolicyMixin(WorkflowBase):
    """Starts processes from received dossiers; records their payments."""

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
