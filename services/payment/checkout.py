"""Online payment: the attempt at the gateway, its signed callbacks, its expiry.

An applicant (or anyone holding the payment code) checks out: the bill's live attempt,
or a new order at the gateway. The gateway then calls back, any number of times and in
any order, and exactly one outcome is kept per attempt; a success takes the next
receipt number. The clock expires attempts nobody finished, so another may start.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any
from uuid import UUID, uuid4

import structlog
from eventsourcing.persistence import IntegrityError

from motcua.core.calendar import local_date
from motcua.core.errors import Invalid, NotFound, Unauthorized, Unavailable
from motcua.core.retry import retry_on_conflict
from motcua.core.signatures import BadSignature
from services.payment.base import PaymentBase
from services.payment.domain import Bill, BillConflict, receipt_number
from services.payment.gateway import Callback, GatewayError, Order
from services.payment.readmodel import bill_rows
from services.payment.refunds import plan_refunds

log = structlog.get_logger(__name__)


def attempt_view(bill: Bill, attempt: dict[str, Any]) -> dict[str, Any]:
    """One attempt as the API shows it, with its bill's codes."""
    return {
        "attempt_id": attempt["attempt_id"],
        "payment_code": bill.payment_code,
        "dossier_code": bill.dossier_code,
        "amount_vnd": attempt["amount_vnd"],
        "status": attempt["status"],
        "expires_at": attempt["expires_at"],
        "pay_url": attempt["pay_url"],
        "transaction_id": attempt["transaction_id"],
    }


class CheckoutMixin(PaymentBase):
    """Checkout, the gateway's callbacks, an attempt's status, and the attempts' clock."""

    # A lost race means another checkout of the same bill won: the next run returns its
    # attempt (still live) instead of opening a second one.
    @retry_on_conflict(message="the bill is being changed by others; retry")  # 20 attempts
    def checkout(self, ref: str, cid: str) -> dict[str, Any]:
        """The attempt to pay the bill online: the live one if any, else a new one at
        the gateway. Never two live attempts for one bill."""
        bill = self._bill(ref)
        now = self.clock()
        bill.check_can_pay_online()
        live = bill.pending_attempt(now)
        if live is not None:
            return attempt_view(bill, live)
        attempt_id = uuid4().hex
        expires_at = now + timedelta(minutes=self.settings.payment_attempt_minutes)
        order = Order(
            order_id=attempt_id,
            payment_code=bill.payment_code or "",
            amount_vnd=bill.outstanding_vnd,
            description=f"Phí, lệ phí hồ sơ {bill.dossier_code}",
            return_url=self.settings.payment_return_url,
            callback_url=self.settings.payment_callback_url,
            expires_at=expires_at,
        )
        try:
            pay_url = self.gateway.create_order(order)
        except GatewayError as error:
            log.warning("gateway unavailable", error=str(error))
            raise Unavailable("the payment gateway cannot be reached; retry shortly") from None
        bill.start_attempt(
            attempt_id=attempt_id,
            amount_vnd=order.amount_vnd,
            started_at=now,
            expires_at=expires_at,
            pay_url=pay_url,
            correlation_id=cid,
        )
        self.save(bill, writes=[bill_rows(bill)])
        return attempt_view(bill, bill.attempts[attempt_id])

    def attempt_status(self, attempt_id: str) -> dict[str, Any]:
        row = self.store.read_one(
            "SELECT dossier_id FROM {payment_attempts} WHERE attempt_id = ?", (attempt_id,)
        )
        if row is None:
            raise NotFound(f"no payment attempt {attempt_id}")
        bill = self._get(UUID(row["dossier_id"]))
        return attempt_view(bill, bill.attempts[attempt_id])

    def callback(self, headers: Mapping[str, str], body: bytes, remote: str) -> str:
        """Apply one gateway callback; exactly one outcome per attempt whatever the order
        and number of callbacks. Returns what happened, for the gateway's log."""
        try:
            callback = self.gateway.verify_callback(headers, body)
        except BadSignature as error:
            log.warning("gateway callback rejected", reason=str(error), remote=remote)
            raise Unauthorized(f"callback rejected: {error}") from None
        except ValueError as error:
            raise Invalid(f"callback body is not valid: {error}") from None
        row = self.store.read_one(
            "SELECT dossier_id FROM {payment_attempts} WHERE attempt_id = ?", (callback.order_id,)
        )
        if row is None:
            log.error("callback for an unknown attempt", order_id=callback.order_id)
            raise NotFound(f"no payment attempt {callback.order_id}")
        if callback.status == "processing":
            return "noted"
        return self._apply_outcome(UUID(row["dossier_id"]), callback)

    @retry_on_conflict
    def _apply_outcome(self, dossier_id: UUID, callback: Callback) -> str:
        bill = self._get(dossier_id)
        attempt = bill.attempts[callback.order_id]
        if bill.has_outcome(callback.order_id):
            if attempt["status"] != callback.status:
                log.error(
                    "gateway contradicts an earlier outcome; kept the first",
                    order_id=callback.order_id,
                    first=attempt["status"],
                    now=callback.status,
                )
            return "duplicate"
        cid = f"gateway:{callback.event_id}"
        if callback.status == "failed":
            bill.attempt_failed(
                attempt_id=callback.order_id,
                reason=callback.reason or "declined",
                failed_at=callback.occurred_at,
                correlation_id=cid,
            )
            self.save(bill, writes=[bill_rows(bill)])
            return "failed"
        if not callback.transaction_id:
            raise Invalid("a successful callback needs the transaction_id")
        book = self._counter(f"receipt:{local_date(callback.occurred_at).year}")
        book.issue()
        bill.attempt_succeeded(
            attempt_id=callback.order_id,
            transaction_id=callback.transaction_id,
            amount_vnd=callback.amount_vnd,
            paid_at=callback.occurred_at,
            receipt_number=receipt_number(local_date(callback.occurred_at).year, book.last),
            correlation_id=cid,
        )
        why = "Thanh toán vượt số phải nộp (trùng hoặc sau khi hồ sơ đóng)"
        plan_refunds(bill, why, cid, self.clock())
        self.save(bill, book, writes=[bill_rows(bill)])
        return "succeeded"

    def expire_attempts(self) -> int:
        """Mark pending attempts past their lifetime; the applicant may start another."""
        now = self.clock()
        rows = self.store.read(
            "SELECT attempt_id, dossier_id FROM {payment_attempts} "
            "WHERE status = 'pending' AND expires_epoch < ?",
            (now.timestamp(),),
        )
        expired = 0
        for row in rows:
            bill = self._get(UUID(row["dossier_id"]))
            # Not retry_on_conflict: a lost race (IntegrityError) or an attempt no longer
            # pending (BillConflict) means an outcome or another clock got there first,
            # so the round skips this attempt rather than loading it again.
            try:
                bill.expire_attempt(
                    attempt_id=row["attempt_id"],
                    expired_at=now,
                    correlation_id=f"clock:{now.isoformat()}",
                )
                self.save(bill, writes=[bill_rows(bill)])
                expired += 1
            except (BillConflict, IntegrityError):
                continue  # an outcome or another clock got there first
        return expired
