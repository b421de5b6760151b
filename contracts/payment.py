"""Events published by payment: fees assessed, payments, attempts' outcomes and refunds.

Money is always an integer number of đồng (VND), never a float. Each online attempt
ends with exactly one ``PaymentSucceeded`` or ``PaymentFailed`` (and possibly an earlier
``PaymentExpired``: a gateway success that arrives after expiry is still recorded).
"""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, Field

from contracts.envelope import Contract, Envelope

PaymentMethod = Literal["online", "counter", "bank_transfer", "post"]


class FeeItem(Contract):
    name: str
    amount_vnd: int = Field(ge=0)


class FeeAssessed(Envelope):
    """The fees of a dossier are known; the applicant can pay them online (L-4, P-2)."""

    type: Literal["FeeAssessed"] = "FeeAssessed"
    payment_code: str = Field(description="Unique over time; quoted on every payment")
    amount_vnd: int = Field(ge=0, description="Integer VND, never a float")
    items: tuple[FeeItem, ...]
    payment_url: str


class FeeWaived(Envelope):
    """Nothing is due for this dossier (no fee, or the applicant is exempt)."""

    type: Literal["FeeWaived"] = "FeeWaived"
    reason: str


class PaymentSucceeded(Envelope):
    """Money for the dossier's fees was received, online or recorded by an officer."""

    type: Literal["PaymentSucceeded"] = "PaymentSucceeded"
    payment_code: str
    amount_vnd: int = Field(ge=0, description="Integer VND, never a float")
    method: PaymentMethod
    paid_at: AwareDatetime
    transaction_id: str = Field(description="Gateway transaction id, or method:reference")
    attempt_id: str | None = Field(default=None, description="Online attempt, if online")
    receipt_number: str = Field(description="Number of the electronic receipt (biên lai)")
    after_expiry: bool = Field(default=False, description="The attempt had already expired")


class PaymentFailed(Envelope):
    """The gateway reports that an online attempt failed (declined, cancelled)."""

    type: Literal["PaymentFailed"] = "PaymentFailed"
    payment_code: str
    attempt_id: str
    reason: str


class PaymentExpired(Envelope):
    """An online attempt had no outcome within its lifetime; the applicant may retry."""

    type: Literal["PaymentExpired"] = "PaymentExpired"
    payment_code: str
    attempt_id: str
    expired_at: AwareDatetime


class RefundRequested(Envelope):
    """Money goes back to the payer: dossier refused or withdrawn, or paid twice."""

    type: Literal["RefundRequested"] = "RefundRequested"
    payment_code: str
    refund_id: str
    transaction_id: str = Field(description="The payment being refunded")
    amount_vnd: int = Field(gt=0)
    reason: str


class RefundSucceeded(Envelope):
    type: Literal["RefundSucceeded"] = "RefundSucceeded"
    payment_code: str
    refund_id: str
    amount_vnd: int = Field(gt=0)
    refund_transaction_id: str | None


class RefundFailed(Envelope):
    type: Literal["RefundFailed"] = "RefundFailed"
    payment_code: str
    refund_id: str
    reason: str
