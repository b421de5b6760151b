"""The bill's life as the dossier's events arrive on ``dossier-events``.

``DossierReceived`` assesses the fees (a bill with a payment code, or a waiver when
nothing is due); ``DossierRejected`` and ``DossierWithdrawn`` close the bill and pay
back what may be paid back; ``ResultIssued`` marks it so that no refund follows the
result. Each handler saves through the consumer's unit of work, so the bill, its
lookup rows and the consumer's position are one transaction.
"""

from __future__ import annotations

from contracts.intake import DossierReceived, DossierWithdrawn
from contracts.workflow import DossierRejected, ResultIssued
from motcua.core.calendar import local_date
from motcua.runtime.handlers import Handlers
from motcua.runtime.unit_of_work import UnitOfWork
from services.payment import fees
from services.payment.base import PaymentBase
from services.payment.domain import Bill, Counter, payment_code
from services.payment.readmodel import bill_rows
from services.payment.refunds import plan_refunds


class BillingMixin(PaymentBase):
    """The consumer policy: what each consumed contract event does to the bill."""

    def handlers(self) -> Handlers:
        """The consumed contract events this service acts on (others are only tracked)."""
        return Handlers(
            {
                DossierReceived: self.assess,
                DossierRejected: lambda event, uow: self.close_bill(event, "refused", uow),
                DossierWithdrawn: lambda event, uow: self.close_bill(event, "withdrawn", uow),
                ResultIssued: self.result_issued,
            }
        )

    def assess(self, event: DossierReceived, uow: UnitOfWork) -> None:
        """The dossier's bill from its procedure's fee schedule (P-1): FeeAssessed with a
        new payment code, or FeeWaived when nothing is due."""
        if uow.get(event.dossier_id, Bill) is not None:
            return
        procedure = self.catalogue.require(event.procedure_id)
        lines = fees.assess(procedure, event.form_data)
        amount = fees.total(lines)
        counter, code = None, None
        if amount > 0:
            day = local_date(event.received_at)
            name = f"code:{day:%y%m%d}"
            counter = uow.get(Counter.create_id(name), Counter) or Counter(name)
            counter.issue()
            code = payment_code(day, counter.last)
        bill = Bill(
            dossier_id=event.dossier_id,
            dossier_code=event.code,
            procedure_id=procedure.id,
            procedure_name=procedure.name,
            level=procedure.level,
            agencies=list(procedure.agencies),
            payer={
                "account": event.applicant.account,
                "full_name": event.applicant.full_name,
                "id_number": event.applicant.id_number,
            },
            payment_code=code,
            items=[line.as_dict() for line in lines],
            amount_vnd=amount,
            waived_reason=None if amount else fees.waiver_reason(procedure, lines),
            correlation_id=str(event.event_id),
        )
        uow.save(bill, counter, writes=[bill_rows(bill)])

    def close_bill(
        self, event: DossierRejected | DossierWithdrawn, reason: str, uow: UnitOfWork
    ) -> None:
        """No more payments for a closed dossier; refundable money goes back."""
        bill = uow.get(event.dossier_id, Bill)
        if bill is None or bill.closed_reason or bill.result_issued:
            return
        cid = str(event.event_id)
        bill.close(reason=reason, correlation_id=cid)
        why = f"Hồ sơ bị {'từ chối' if reason == 'refused' else 'rút'}"
        plan_refunds(bill, why, cid, self.clock())
        uow.save(bill, writes=[bill_rows(bill)])

    def result_issued(self, event: ResultIssued, uow: UnitOfWork) -> None:
        bill = uow.get(event.dossier_id, Bill)
        if bill is None or bill.result_issued:
            return
        bill.mark_result_issued(correlation_id=str(event.event_id))
        uow.save(bill, writes=[bill_rows(bill)])
