"""Offline payments: cash at the counter, a bank transfer, a postal order.

Many applicants still pay at the one-stop counter or by transfer; an officer of one of
the dossier's agencies records the payment with its reference (receipt, transfer or
postal number), which is never recorded twice, and the payment takes the next receipt
number like an online one.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from motcua.core.calendar import local_date
from motcua.core.errors import Conflict, Forbidden, Invalid
from motcua.core.retry import retry_on_conflict
from motcua.web.auth import Caller
from services.payment.base import PaymentBase
from services.payment.domain import receipt_number
from services.payment.readmodel import bill_rows

OFFLINE_METHODS = ("counter", "bank_transfer", "post")


class OfflinePaymentsMixin(PaymentBase):
    """The officer's record of a payment received outside the gateway."""

    def record_offline(
        self,
        caller: Caller,
        ref: str,
        *,
        method: str,
        reference: str,
        amount_vnd: int,
        paid_at: datetime | None,
        cid: str,
    ) -> dict[str, Any]:
        """An officer records cash at the counter, a bank transfer or a postal payment."""
        caller.require("officer")
        if method not in OFFLINE_METHODS:
            raise Invalid(f"method must be one of {', '.join(OFFLINE_METHODS)}")
        reference = reference.strip()
        if not reference:
            raise Invalid("the payment's reference (receipt, transfer or postal number) is needed")
        transaction_id = f"{method}:{reference}"

        @retry_on_conflict
        def record() -> dict[str, Any]:
            bill = self._bill(ref)
            if caller.agency not in bill.agencies:
                raise Forbidden(f"the dossier is handled by {', '.join(bill.agencies)}")
            taken = self.store.read_one(
                "SELECT dossier_id FROM {payment_transactions} WHERE transaction_id = ?",
                (transaction_id,),
            )
            if taken is not None:
                raise Conflict(f"{method} reference {reference} is already recorded")
            bill.check_due()
            if amount_vnd != bill.outstanding_vnd:
                raise Invalid(f"the amount due is {bill.outstanding_vnd} đ, not {amount_vnd} đ")
            when = paid_at or self.clock()
            book = self._counter(f"receipt:{local_date(when).year}")
            book.issue()
            bill.record_offline(
                method=method,
                reference=reference,
                amount_vnd=amount_vnd,
                paid_at=when,
                officer=caller.sub,
                receipt_number=receipt_number(local_date(when).year, book.last),
                correlation_id=cid,
            )
            self.save(bill, book, writes=[bill_rows(bill)])
            return self.view_bill(bill)

        return record()
