"""The bill of one dossier: its fees, every payment attempt and its outcome, refunds.

One aggregate per dossier (same id) keeps the money rules in one place:

* each online attempt ends with exactly one outcome from the gateway, whatever the
  order and number of its callbacks (``pending`` → ``succeeded`` | ``failed``; the
  clock may first move it to ``expired``, and a late success is still recorded);
* money received when nothing is due (paid twice, or the dossier was closed) is
  recorded and a refund of it is requested at once: never keep money twice;
* refunds never exceed what was paid by the transaction they return.

``Counter`` numbers payment codes per day and receipts per year, gap-free.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import event

from motcua.core.errors import Conflict
from motcua.core.sequence import GapFreeSequence
from motcua.core.tracing import TracedAggregate
from services.payment.fees import check_digits

MAX_PAYMENT_CODES_PER_DAY = 999_999  # the payment code's six digits
MAX_RECEIPTS_PER_YEAR = 9_999_999  # the receipt number's seven digits
# What a counter numbers (the part of its name before the colon) -> its last number.
LIMITS = {"code": MAX_PAYMENT_CODES_PER_DAY, "receipt": MAX_RECEIPTS_PER_YEAR}
WHAT = {"code": "payment codes of day", "receipt": "receipt numbers of year"}
DIGITS = {"code": "payment code's six digits", "receipt": "receipt number's seven digits"}


class Counter(GapFreeSequence):
    """A named gap-free sequence: ``code:<yymmdd>`` numbers one day's payment codes,
    ``receipt:<yyyy>`` one year's receipts. Saved with what it numbers, in one commit."""

    @staticmethod
    def create_id(name: str) -> UUID:
        return uuid5(NAMESPACE_URL, f"motcua:payment:counter:{name}")

    @event("Started")
    def __init__(self, name: str) -> None:
        self.name = name
        self.last = 0

    @event("Issued")
    def issue(self) -> None:
        self.advance()

    def limit(self) -> int:
        return LIMITS[self.name.split(":")[0]]

    def exhausted(self) -> str:
        kind, period = self.name.split(":")
        return (
            f"all {self.limit()} {WHAT[kind]} {period} are used; the {DIGITS[kind]} allow no more"
        )


class BillConflict(Conflict):
    pass


class Bill(TracedAggregate):
    """What a dossier owes and everything paid or paid back for it."""

    @staticmethod
    def create_id(dossier_id: UUID) -> UUID:
        return dossier_id

    @event("Assessed")
    def __init__(
        self,
        *,
        dossier_id: UUID,
        dossier_code: str,
        procedure_id: str,
        procedure_name: str,
        level: int,
        agencies: list[str],
        payer: dict[str, Any],
        payment_code: str | None,
        items: list[dict[str, Any]],
        amount_vnd: int,
        waived_reason: str | None,
        correlation_id: str,
    ) -> None:
        self.dossier_code, self.procedure_id = dossier_code, procedure_id
        self.procedure_name, self.level, self.agencies = procedure_name, level, agencies
        self.payer, self.payment_code = payer, payment_code
        self.items, self.amount_vnd = items, amount_vnd
        self.waived_reason = waived_reason
        self.closed_reason: str | None = None
        self.result_issued = False
        self.attempts: dict[str, dict[str, Any]] = {}
        self.payments: dict[str, dict[str, Any]] = {}  # by transaction id
        self.refunds: dict[str, dict[str, Any]] = {}  # by refund id

    # -- state --------------------------------------------------------------------------

    @property
    def paid_vnd(self) -> int:
        return sum(p["amount_vnd"] for p in self.payments.values())

    @property
    def refunded_vnd(self) -> int:
        return sum(r["amount_vnd"] for r in self.refunds.values() if r["status"] != "failed")

    @property
    def status(self) -> str:
        """``waived``, ``due``, ``paid``, ``closed`` or ``refunded`` (for the read model)."""
        if self.waived_reason is not None:
            return "waived"
        if self.paid_vnd and self.refunded_vnd >= self.paid_vnd:
            return "refunded"
        if self.paid_vnd >= self.amount_vnd:
            return "paid"
        return "closed" if self.closed_reason else "due"

    @property
    def outstanding_vnd(self) -> int:
        """What is still due: nothing once closed, waived or paid."""
        if self.closed_reason or self.waived_reason is not None:
            return 0
        return max(self.amount_vnd - self.paid_vnd, 0)

    def pending_attempt(self, now: datetime) -> dict[str, Any] | None:
        return next(
            (
                a
                for a in self.attempts.values()
                if a["status"] == "pending" and a["expires_at"] > now
            ),
            None,
        )

    def refundable_vnd(self, transaction_id: str) -> int:
        paid: int = self.payments[transaction_id]["amount_vnd"]
        back: int = sum(
            r["amount_vnd"]
            for r in self.refunds.values()
            if r["transaction_id"] == transaction_id and r["status"] != "failed"
        )
        return paid - back

    # -- online attempts ----------------------------------------------------------------

    def check_due(self) -> None:
        """Refuse a payment when nothing is due (waived, closed or already paid)."""
        if self.waived_reason is not None:
            raise BillConflict(f"nothing is due for this dossier: {self.waived_reason}")
        if self.closed_reason:
            raise BillConflict(f"the dossier is closed ({self.closed_reason}); nothing is due")
        if self.outstanding_vnd == 0:
            raise BillConflict("the fees of this dossier are already paid")

    def check_can_pay_online(self) -> None:
        self.check_due()
        if self.level < 4:
            raise BillConflict(
                "online payment is offered for level-4 services only; pay at the counter, "
                "by bank transfer or by post quoting the payment code"
            )

    @event("AttemptStarted")
    def start_attempt(
        self,
        *,
        attempt_id: str,
        amount_vnd: int,
        started_at: datetime,
        expires_at: datetime,
        pay_url: str,
        correlation_id: str,
    ) -> None:
        self.attempts[attempt_id] = {
            "attempt_id": attempt_id,
            "amount_vnd": amount_vnd,
            "started_at": started_at,
            "expires_at": expires_at,
            "pay_url": pay_url,
            "status": "pending",
            "expired": False,
            "transaction_id": None,
            "reason": None,
        }

    def has_outcome(self, attempt_id: str) -> bool:
        return self.attempts[attempt_id]["status"] in ("succeeded", "failed")

    @event("AttemptSucceeded")
    def attempt_succeeded(
        self,
        *,
        attempt_id: str,
        transaction_id: str,
        amount_vnd: int,
        paid_at: datetime,
        receipt_number: str,
        correlation_id: str,
    ) -> None:
        attempt = self._open_attempt(attempt_id)
        attempt["status"], attempt["transaction_id"] = "succeeded", transaction_id
        self._add_payment(
            transaction_id=transaction_id,
            method="online",
            amount_vnd=amount_vnd,
            paid_at=paid_at,
            receipt_number=receipt_number,
            attempt_id=attempt_id,
            after_expiry=attempt["expired"],
            recorded_by="gateway",
            reference=transaction_id,
        )

    @event("AttemptFailed")
    def attempt_failed(
        self, *, attempt_id: str, reason: str, failed_at: datetime, correlation_id: str
    ) -> None:
        attempt = self._open_attempt(attempt_id)
        attempt["status"], attempt["reason"] = "failed", reason

    @event("AttemptExpired")
    def expire_attempt(self, *, attempt_id: str, expired_at: datetime, correlation_id: str) -> None:
        attempt = self.attempts[attempt_id]
        if attempt["status"] != "pending" or attempt["expired"]:
            raise BillConflict(f"attempt {attempt_id} is not pending")
        attempt["expired"], attempt["status"] = True, "expired"

    def _open_attempt(self, attempt_id: str) -> dict[str, Any]:
        attempt = self.attempts.get(attempt_id)
        if attempt is None:
            raise BillConflict(f"no attempt {attempt_id} on this bill")
        if attempt["status"] in ("succeeded", "failed"):
            raise BillConflict(f"attempt {attempt_id} already {attempt['status']}")
        return attempt

    # -- offline payments ---------------------------------------------------------------

    @event("OfflinePaymentRecorded")
    def record_offline(
        self,
        *,
        method: str,
        reference: str,
        amount_vnd: int,
        paid_at: datetime,
        officer: str,
        receipt_number: str,
        correlation_id: str,
    ) -> None:
        self._add_payment(
            transaction_id=f"{method}:{reference}",
            method=method,
            amount_vnd=amount_vnd,
            paid_at=paid_at,
            receipt_number=receipt_number,
            attempt_id=None,
            after_expiry=False,
            recorded_by=officer,
            reference=reference,
        )

    def _add_payment(self, *, transaction_id: str, **payment: Any) -> None:
        if transaction_id in self.payments:
            raise BillConflict(f"payment {transaction_id} is already recorded")
        self.payments[transaction_id] = {"transaction_id": transaction_id, **payment}

    # -- closing and refunds ------------------------------------------------------------

    @event("Closed")
    def close(self, *, reason: str, correlation_id: str) -> None:
        self.closed_reason = reason

    @event("ResultIssued")
    def mark_result_issued(self, *, correlation_id: str) -> None:
        self.result_issued = True

    def kept_vnd(self) -> int:
        """What the agencies keep: the whole bill, or after a closure only the items
        that are not refundable (e.g. an appraisal already carried out)."""
        if self.waived_reason is not None:
            return 0
        if self.closed_reason:
            return sum(i["amount_vnd"] for i in self.items if not i["refundable"])
        return self.amount_vnd

    def refunds_due(self) -> list[tuple[str, int]]:
        """(transaction, amount) to pay back so that no more than ``kept_vnd`` is held,
        taken from the latest payments first and never beyond what each one paid."""
        surplus = self.paid_vnd - self.refunded_vnd - self.kept_vnd()
        plan = []
        for transaction_id in reversed(list(self.payments)):
            if surplus <= 0:
                break
            amount = min(self.refundable_vnd(transaction_id), surplus)
            if amount > 0:
                plan.append((transaction_id, amount))
                surplus -= amount
        return plan

    @event("RefundRequested")
    def request_refund(
        self,
        *,
        refund_id: str,
        transaction_id: str,
        amount_vnd: int,
        reason: str,
        requested_at: datetime,
        correlation_id: str,
    ) -> None:
        if transaction_id not in self.payments:
            raise BillConflict(f"no payment {transaction_id} to refund")
        if amount_vnd <= 0 or amount_vnd > self.refundable_vnd(transaction_id):
            raise BillConflict(
                f"refund of {amount_vnd} đ exceeds the {self.refundable_vnd(transaction_id)} đ "
                f"left of payment {transaction_id}"
            )
        self.refunds[refund_id] = {
            "refund_id": refund_id,
            "transaction_id": transaction_id,
            "amount_vnd": amount_vnd,
            "reason": reason,
            "requested_at": requested_at,
            "status": "requested",
            "refund_transaction_id": None,
            "outcome_at": None,
        }

    @event("RefundSucceeded")
    def refund_succeeded(
        self,
        *,
        refund_id: str,
        refund_transaction_id: str | None,
        refunded_at: datetime,
        correlation_id: str,
    ) -> None:
        refund = self._open_refund(refund_id)
        refund.update(
            status="succeeded", refund_transaction_id=refund_transaction_id, outcome_at=refunded_at
        )

    @event("RefundFailed")
    def refund_failed(
        self, *, refund_id: str, reason: str, failed_at: datetime, correlation_id: str
    ) -> None:
        refund = self._open_refund(refund_id)
        refund.update(
            status="failed", reason=f"{refund['reason']} — {reason}", outcome_at=failed_at
        )

    def _open_refund(self, refund_id: str) -> dict[str, Any]:
        refund = self.refunds.get(refund_id)
        if refund is None or refund["status"] != "requested":
            raise BillConflict(f"refund {refund_id} is not awaiting an outcome")
        return refund


def payment_code(day: date, number: int) -> str:
    """``YYMMDD`` + 6-digit number of the day + 2 check digits: unique over time."""
    base = f"{day:%y%m%d}{number:06d}"
    return base + check_digits(base)


def receipt_number(year: int, number: int) -> str:
    """Number of an electronic receipt (biên lai): ``BL<yy>-<7 digits>``, per year."""
    return f"BL{year % 100:02d}-{number:07d}"
