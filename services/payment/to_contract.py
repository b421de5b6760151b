"""How payment's stored events become contract events on ``dossier-events``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import UUID

from eventsourcing.domain import DomainEventProtocol

from contracts import payment as cp
from contracts.envelope import Envelope
from motcua.runtime.envelope import envelope
from motcua.runtime.mapping import BatchAggregates
from services.payment.application import PaymentApplication
from services.payment.domain import Bill

PRODUCER = "payment"

Build = Callable[[Any, Bill], tuple[type[Envelope], dict[str, Any]]]


def _assessed(e: Any, bill: Bill, public_url: str) -> tuple[type[Envelope], dict[str, Any]]:
    if bill.waived_reason is not None:
        return cp.FeeWaived, {"reason": bill.waived_reason}
    return cp.FeeAssessed, {
        "payment_code": bill.payment_code,
        "amount_vnd": bill.amount_vnd,
        "items": [{"name": i["name"], "amount_vnd": i["amount_vnd"]} for i in bill.items],
        "payment_url": f"{public_url}/pay/{bill.payment_code}",
    }


def _paid(transaction_id: str, bill: Bill) -> tuple[type[Envelope], dict[str, Any]]:
    p = bill.payments[transaction_id]
    return cp.PaymentSucceeded, {
        "payment_code": bill.payment_code or "",
        "amount_vnd": p["amount_vnd"],
        "method": p["method"],
        "paid_at": p["paid_at"],
        "transaction_id": transaction_id,
        "attempt_id": p["attempt_id"],
        "receipt_number": p["receipt_number"],
        "after_expiry": p["after_expiry"],
    }


RULES: dict[str, Build] = {
    "AttemptSucceeded": lambda e, b: _paid(e.transaction_id, b),
    "OfflinePaymentRecorded": lambda e, b: _paid(f"{e.method}:{e.reference}", b),
    "AttemptFailed": lambda e, b: (
        cp.PaymentFailed,
        {"payment_code": b.payment_code or "", "attempt_id": e.attempt_id, "reason": e.reason},
    ),
    "AttemptExpired": lambda e, b: (
        cp.PaymentExpired,
        {
            "payment_code": b.payment_code or "",
            "attempt_id": e.attempt_id,
            "expired_at": e.expired_at,
        },
    ),
    "RefundRequested": lambda e, b: (
        cp.RefundRequested,
        {
            "payment_code": b.payment_code or "",
            "refund_id": e.refund_id,
            "transaction_id": e.transaction_id,
            "amount_vnd": e.amount_vnd,
            "reason": e.reason,
        },
    ),
    "RefundSucceeded": lambda e, b: (
        cp.RefundSucceeded,
        {
            "payment_code": b.payment_code or "",
            "refund_id": e.refund_id,
            "amount_vnd": b.refunds[e.refund_id]["amount_vnd"],
            "refund_transaction_id": e.refund_transaction_id,
        },
    ),
    "RefundFailed": lambda e, b: (
        cp.RefundFailed,
        {"payment_code": b.payment_code or "", "refund_id": e.refund_id, "reason": e.reason},
    ),
}


class PaymentPublisher:
    """Maps payment's stored events to contract events (None for internal ones)."""

    def __init__(self, app: PaymentApplication) -> None:
        self.app = app

    def __call__(
        self, event: DomainEventProtocol[UUID], aggregates: BatchAggregates
    ) -> Envelope | None:
        name = type(event).__name__
        if name == "Assessed":
            bill: Bill = aggregates.at(event)
            model, fields = _assessed(event, bill, self.app.public_url)
        elif name in RULES:
            bill = aggregates.at(event)
            model, fields = RULES[name](event, bill)
        else:
            return None  # counters, attempts started, closing: internal
        return model.model_validate({**envelope(PRODUCER, event), **fields})
