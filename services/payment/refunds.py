"""Refunds: money that may not be kept goes back to whoever paid it.

A refund is requested in the bill's own save whenever money is held that is no longer
due (``plan_refunds``: the dossier was refused or withdrawn, or it was paid twice or
after it closed). Online refunds are then sent to the gateway by the clock
(``send_refunds``), in their own saves, because the gateway may be unreachable for a
while; refunds of offline payments are paid out at the counter and recorded by an
officer (``record_refund_paid``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

import structlog
from eventsourcing.persistence import IntegrityError

from motcua.core.errors import Conflict, Forbidden, NotFound
from motcua.core.retry import retry_on_conflict
from motcua.web.auth import Caller
from services.payment.base import PaymentBase
from services.payment.domain import Bill, BillConflict
from services.payment.gateway import GatewayError, RefundRequest
from services.payment.readmodel import bill_rows

log = structlog.get_logger(__name__)


def plan_refunds(bill: Bill, reason: str, cid: str, now: datetime) -> None:
    """Request a refund of each amount the bill holds and may not keep."""
    for transaction_id, amount in bill.refunds_due():
        bill.request_refund(
            refund_id=uuid4().hex,
            transaction_id=transaction_id,
            amount_vnd=amount,
            reason=reason,
            requested_at=now,
            correlation_id=cid,
        )


class RefundsMixin(PaymentBase):
    """The refunds worker and the officer's record of a refund paid at the counter."""

    def send_refunds(self) -> int:
        """Ask the gateway for each requested online refund; unsure answers are retried.

        Refunds of offline payments are paid out at the counter and recorded by an
        officer (``record_refund_paid``)."""
        rows = self.store.read(
            "SELECT refund_id, dossier_id, transaction_id, amount_vnd FROM {payment_refunds} "
            "WHERE status = 'requested' AND method = 'online'"
        )
        done = 0
        for row in rows:
            bill = self._get(UUID(row["dossier_id"]))
            refund = bill.refunds[row["refund_id"]]
            request = RefundRequest(
                refund_id=refund["refund_id"],
                transaction_id=refund["transaction_id"],
                amount_vnd=refund["amount_vnd"],
                reason=refund["reason"],
            )
            try:
                outcome = self.gateway.refund(request)
            except GatewayError as error:
                log.warning(
                    "refund not sent; will retry", refund_id=request.refund_id, error=str(error)
                )
                continue
            cid = f"gateway:refund:{outcome.refund_id}"
            # Not retry_on_conflict: a lost race (IntegrityError) or a refund already
            # settled (BillConflict) means another instance recorded this outcome, so
            # the round moves on to the next refund instead of deciding again.
            try:
                if outcome.status == "succeeded":
                    bill.refund_succeeded(
                        refund_id=refund["refund_id"],
                        refund_transaction_id=outcome.transaction_id,
                        refunded_at=self.clock(),
                        correlation_id=cid,
                    )
                else:
                    bill.refund_failed(
                        refund_id=refund["refund_id"],
                        reason=outcome.reason or "refused by the gateway",
                        failed_at=self.clock(),
                        correlation_id=cid,
                    )
                self.save(bill, writes=[bill_rows(bill)])
                done += 1
            except (BillConflict, IntegrityError):
                continue  # another instance recorded it; the gateway call was idempotent
        return done

    def record_refund_paid(
        self, caller: Caller, ref: str, refund_id: str, reference: str, cid: str
    ) -> dict[str, Any]:
        """An officer paid an offline refund out at the counter."""
        caller.require("officer")

        @retry_on_conflict
        def record() -> dict[str, Any]:
            bill = self._bill(ref)
            if caller.agency not in bill.agencies:
                raise Forbidden(f"the dossier is handled by {', '.join(bill.agencies)}")
            refund = bill.refunds.get(refund_id)
            if refund is None:
                raise NotFound(f"no refund {refund_id} on this bill")
            if bill.payments[refund["transaction_id"]]["method"] == "online":
                raise Conflict("online refunds go back through the gateway")
            bill.refund_succeeded(
                refund_id=refund_id,
                refund_transaction_id=reference,
                refunded_at=self.clock(),
                correlation_id=cid,
            )
            self.save(bill, writes=[bill_rows(bill)])
            return self.view_bill(bill)

        return record()
