"""Events published by payment that other services act on (the workflow's payment gate)."""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, Field

from contracts.envelope import Contract, Envelope

PaymentMethod = Literal["online", "counter", "bank_transfer", "post"]


class PaymentSucceeded(Envelope):
    """The fee of a dossier is paid (online through the gateway, or recorded offline)."""

    type: Literal["PaymentSucceeded"] = "PaymentSucceeded"
    payment_code: str
    amount_vnd: int = Field(ge=0, description="Integer VND, never a float")
    method: PaymentMethod
    paid_at: AwareDatetime


class FeeWaived(Envelope):
    """Nothing is due for this dossier (no fee, or the applicant is exempt)."""

    type: Literal["FeeWaived"] = "FeeWaived"
    reason: str


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
