"""The rules of the simulated gateway, over its books (``books.Books``).

Orders registered by the merchant, the applicant's decision on each (one outcome per
order, made by the first click), refunds judged against what was paid, the
settlement file of a day, the test controls, and the bookkeeping of callbacks sent.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import quote

from devtools.gateway_simulator.books import Books
from devtools.gateway_simulator.models import (
    Adjustment,
    ConfigUpdate,
    Conflict,
    Decision,
    Delivery,
    RefundRecord,
    SimConfig,
    Status,
    Transaction,
)
from motcua.core.calendar import local_date
from motcua.core.clock import Clock, system_clock
from motcua.core.money import money_vnd
from services.payment.gateway import (
    Callback,
    Order,
    RefundOutcome,
    RefundRequest,
    SettlementRow,
    verify,
)

DECLINED_REASON = "Người thanh toán từ chối"


def new_id(prefix: str) -> str:
    return prefix + uuid.uuid4().hex[:12].upper()


class Simulator(Books):
    """The gateway: its books (``Books``), its protocol, and how it misbehaves."""

    def __init__(
        self,
        secret: str,
        folder: Path,
        *,
        config: SimConfig | None = None,
        clock: Clock = system_clock,
        port: int = 8007,
        base_url: str | None = None,
        tolerance: float = 300.0,
        rng: random.Random | None = None,
    ) -> None:
        self.secret, self.clock, self.tolerance = secret, clock, tolerance
        self.base_url = (base_url or f"http://127.0.0.1:{port}").rstrip("/")
        self.config = config or SimConfig()
        self.rng = rng or random.Random()
        super().__init__(folder)

    # -- the protocol ---------------------------------------------------------------

    def check_signature(self, headers: Mapping[str, str], payload: bytes) -> None:
        verify(self.secret, headers, payload, tolerance=self.tolerance)

    def pay_url(self, order_id: str) -> str:
        return f"{self.base_url}/pay/{quote(order_id, safe='')}"

    def create_order(self, order: Order) -> str:
        """Register the order (again: no change) and return its hosted page's URL."""
        with self.lock:
            known = self.orders.get(order.order_id)
            if known is None:
                self._record("order", order.model_dump(mode="json"))
            elif known != order:
                raise Conflict(f"order {order.order_id} exists with other details")
        return self.pay_url(order.order_id)

    def decide(self, order_id: str, approve: bool) -> Decision | None:
        """The order's outcome, created by the first click only; None if no such order."""
        with self.lock:
            order = self.orders.get(order_id)
            if order is None:
                return None
            known = self.outcomes.get(order_id)
            if known is not None:
                return Decision(order, self.transactions[known], False, self.config)
            transaction = self._outcome(order, approve)
            self._record("transaction", transaction.model_dump(mode="json"))
            return Decision(order, transaction, True, self.config)

    def _outcome(self, order: Order, approve: bool) -> Transaction:
        transaction_id, now = new_id("GW"), self.clock()
        status: Status = "succeeded" if approve else "failed"
        reason = None if approve else DECLINED_REASON
        processing = Callback(
            event_id=f"{transaction_id}.processing",
            order_id=order.order_id,
            status="processing",
            amount_vnd=order.amount_vnd,
            occurred_at=now,
        )
        final = processing.model_copy(
            update={
                "event_id": f"{transaction_id}.{status}",
                "status": status,
                "transaction_id": transaction_id,
                "reason": reason,
            }
        )
        return Transaction(
            transaction_id=transaction_id,
            order_id=order.order_id,
            payment_code=order.payment_code,
            kind="payment",
            status=status,
            amount_vnd=order.amount_vnd,
            occurred_at=now,
            reason=reason,
            callbacks=(processing, final),
            callbacks_dropped=self.config.drop_callbacks,
        )

    def refund(self, request: RefundRequest) -> RefundOutcome:
        """Refund once per ``refund_id``; the same id gets the same answer again."""
        with self.lock:
            known = self.refunds.get(request.refund_id)
            if known is not None:
                if known.request != request:
                    raise Conflict(f"refund {request.refund_id} exists with other details")
                return known.outcome
            record = self._judge_refund(request)
            self._record("refund", record.model_dump(mode="json"))
            return record.outcome

    def _judge_refund(self, request: RefundRequest) -> RefundRecord:
        paid = self.transactions.get(request.transaction_id)
        if paid is None:
            return self._refused(request, "Không tìm thấy giao dịch")
        if paid.kind != "payment" or paid.status != "succeeded":
            return self._refused(request, "Giao dịch không phải là một khoản thanh toán thành công")
        refunded = sum(
            r.request.amount_vnd
            for r in self.refunds.values()
            if r.request.transaction_id == paid.transaction_id and r.outcome.status == "succeeded"
        )
        if refunded + request.amount_vnd > paid.amount_vnd:
            left = paid.amount_vnd - refunded
            return self._refused(
                request, f"Số tiền hoàn vượt quá số còn có thể hoàn ({money_vnd(left, 'đồng')})"
            )
        transaction = Transaction(
            transaction_id=new_id("RF"),
            order_id=paid.order_id,
            payment_code=paid.payment_code,
            kind="refund",
            status="succeeded",
            amount_vnd=request.amount_vnd,
            occurred_at=self.clock(),
            reason=request.reason,
        )
        outcome = RefundOutcome(
            refund_id=request.refund_id,
            status="succeeded",
            transaction_id=transaction.transaction_id,
        )
        return RefundRecord(request=request, outcome=outcome, transaction=transaction)

    @staticmethod
    def _refused(request: RefundRequest, reason: str) -> RefundRecord:
        outcome = RefundOutcome(refund_id=request.refund_id, status="failed", reason=reason)
        return RefundRecord(request=request, outcome=outcome)

    def settlement(self, day: date) -> list[SettlementRow]:
        """Successful payments and refunds of ``day`` (Vietnam time), adjustments applied."""
        with self.lock:
            settled = sorted(
                (
                    t
                    for t in self.transactions.values()
                    if t.status == "succeeded" and local_date(t.occurred_at) == day
                ),
                key=lambda t: t.occurred_at,
            )
            return [
                SettlementRow(
                    transaction_id=t.transaction_id,
                    order_id=t.order_id,
                    payment_code=t.payment_code,
                    kind=t.kind,
                    amount_vnd=self.adjustments.get(t.transaction_id, t.amount_vnd),
                    occurred_at=t.occurred_at,
                )
                for t in settled
            ]

    # -- test controls --------------------------------------------------------------

    def update_config(self, update: ConfigUpdate) -> SimConfig:
        with self.lock:
            self.config = self.config.model_copy(update=update.model_dump(exclude_none=True))
            return self.config

    def adjust(self, adjustment: Adjustment) -> bool:
        """Record a settlement mismatch; False if the transaction does not exist."""
        with self.lock:
            if adjustment.transaction_id not in self.transactions:
                return False
            self._record("adjustment", adjustment.model_dump(mode="json"))
            return True

    def order_state(self, order_id: str) -> tuple[Order, Transaction | None] | None:
        """The order and its payment outcome (None while pending); None if unknown."""
        with self.lock:
            order = self.orders.get(order_id)
            if order is None:
                return None
            outcome = self.outcomes.get(order_id)
            return order, self.transactions[outcome] if outcome else None

    def order_view(self, order_id: str) -> dict[str, Any] | None:
        """``GET /sim/orders/<id>``: the order, its status and all its transactions."""
        with self.lock:
            order = self.orders.get(order_id)
            if order is None:
                return None
            outcome = self.outcomes.get(order_id)
            transactions = sorted(
                (t for t in self.transactions.values() if t.order_id == order_id),
                key=lambda t: t.occurred_at,
            )
            return {
                "order": order.model_dump(mode="json"),
                "status": self.transactions[outcome].status if outcome else "pending",
                "transaction_id": outcome,
                "transactions": [
                    t.model_dump(mode="json", exclude={"callbacks"}) for t in transactions
                ],
            }

    # -- callback bookkeeping -------------------------------------------------------

    def plan(self, callbacks: Sequence[Callback], url: str, config: SimConfig) -> list[Delivery]:
        """Every copy of every callback, in the order they will be sent."""
        sends = [
            Delivery(callback=c, url=url, copy=n + 1)
            for c in callbacks
            for n in range(1 + config.duplicates)
        ]
        with self.lock:
            if config.shuffle:
                self.rng.shuffle(sends)
            self.deliveries.extend(sends)
        return sends

    def note_attempt(self, send: Delivery, http_status: int | None, error: str | None) -> None:
        """Count an attempt; a 2xx marks the callback's event delivered (journaled once)."""
        with self.lock:
            send.attempts += 1
            send.http_status, send.error = http_status, error
            send.delivered = http_status is not None and 200 <= http_status < 300
            event_id = send.callback.event_id
            if send.delivered and event_id not in self.delivered:
                self._record("delivered", {"event_id": event_id})

    def undelivered(self) -> list[tuple[tuple[Callback, ...], str]]:
        """Callbacks never acknowledged (say, before a restart), with their URL."""
        with self.lock:
            pending = []
            for t in self.transactions.values():
                if t.kind != "payment" or t.callbacks_dropped:
                    continue
                missing = tuple(c for c in t.callbacks if c.event_id not in self.delivered)
                if missing:
                    pending.append((missing, self.orders[t.order_id].callback_url))
            return pending

    def delivery_views(self) -> list[dict[str, Any]]:
        with self.lock:
            return [d.view() for d in self.deliveries]
