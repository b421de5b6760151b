"""The gateway simulator's records: the behaviour settings, transactions, refunds, and
the deliveries of callbacks, as pydantic models (so the journal can hold them) or
dataclasses (what lives in memory only)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from services.payment.gateway import Callback, Order, RefundOutcome, RefundRequest

Status = Literal["succeeded", "failed"]


class SimConfig(BaseModel):
    """How badly the gateway behaves towards the merchant's callback receiver."""

    model_config = ConfigDict(extra="forbid")

    duplicates: int = Field(default=1, ge=0, description="Extra copies of every callback")
    delay_seconds: float = Field(default=0.0, ge=0, description="Wait before each send")
    shuffle: bool = Field(default=True, description="Send an outcome's callbacks in any order")
    drop_callbacks: bool = Field(
        default=False, description="Never call back about outcomes created while on"
    )


class ConfigUpdate(BaseModel):
    """``PUT /sim/config``: the fields given replace the current ones."""

    model_config = ConfigDict(extra="forbid")

    duplicates: int | None = Field(default=None, ge=0)
    delay_seconds: float | None = Field(default=None, ge=0)
    shuffle: bool | None = None
    drop_callbacks: bool | None = None


class Adjustment(BaseModel):
    """Make the settlement file report ``amount_vnd`` for a transaction (a mismatch)."""

    model_config = ConfigDict(extra="forbid")

    transaction_id: str
    amount_vnd: int = Field(ge=0)


class Transaction(BaseModel):
    """Money that moved (or was refused): a payment outcome or a refund."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    transaction_id: str
    order_id: str
    payment_code: str
    kind: Literal["payment", "refund"]
    status: Status
    amount_vnd: int
    occurred_at: AwareDatetime
    reason: str | None = None
    callbacks: tuple[Callback, ...] = ()
    callbacks_dropped: bool = False


class RefundRecord(BaseModel):
    """A refund request with its answer; one journal line, so both exist or neither."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    request: RefundRequest
    outcome: RefundOutcome
    transaction: Transaction | None = None


@dataclass
class Delivery:
    """One copy of one callback on its way to the merchant."""

    callback: Callback
    url: str
    copy: int
    attempts: int = 0
    http_status: int | None = None
    delivered: bool = False
    error: str | None = None

    def view(self) -> dict[str, Any]:
        return {
            "order_id": self.callback.order_id,
            "event_id": self.callback.event_id,
            "status": self.callback.status,
            "copy": self.copy,
            "attempts": self.attempts,
            "http_status": self.http_status,
            "delivered": self.delivered,
            "error": self.error,
        }


@dataclass(frozen=True)
class Decision:
    """The applicant's click: the order's outcome, and whether this click created it."""

    order: Order
    transaction: Transaction
    new: bool
    config: SimConfig


class Conflict(Exception):
    """An id reused for a different request."""
