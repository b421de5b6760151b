"""Request and response bodies of payment's HTTP API (what /docs shows)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, Field


class FeeLine(BaseModel):
    id: str
    name: str
    amount_vnd: int
    refundable: bool
    exempt: bool


class PublicBill(BaseModel):
    payment_code: str | None = Field(description="None when nothing is due")
    dossier_code: str
    procedure_name: str
    level: int
    items: list[FeeLine]
    amount_vnd: int = Field(description="Integer VND")
    outstanding_vnd: int
    status: Literal["due", "paid", "waived", "closed", "refunded"]
    waived_reason: str | None


class Attempt(BaseModel):
    attempt_id: str
    payment_code: str | None
    dossier_code: str
    amount_vnd: int
    status: Literal["pending", "succeeded", "failed", "expired"]
    expires_at: datetime
    pay_url: str = Field(description="Send the applicant's browser here")
    transaction_id: str | None


class BillView(PublicBill):
    dossier_id: str
    procedure_id: str
    agencies: list[str]
    paid_vnd: int
    refunded_vnd: int
    closed_reason: str | None
    attempts: list[dict[str, Any]]
    payments: list[dict[str, Any]]
    refunds: list[dict[str, Any]]


class OfflinePayment(BaseModel):
    method: Literal["counter", "bank_transfer", "post"]
    reference: str = Field(
        min_length=1, max_length=100, description="Cash receipt, bank or postal transfer number"
    )
    amount_vnd: int = Field(gt=0, description="Must equal what is due")
    paid_at: AwareDatetime | None = Field(default=None, description="Default: now")


class RefundPaid(BaseModel):
    reference: str = Field(min_length=1, max_length=100, description="Payout slip number")


class CallbackAnswer(BaseModel):
    outcome: Literal["noted", "duplicate", "succeeded", "failed"]


class Receipt(BaseModel):
    receipt_number: str
    issued_at: datetime
    payer: dict[str, str]
    dossier_code: str
    payment_code: str | None
    procedure_id: str
    procedure_name: str
    collecting_agency: str
    items: list[FeeLine]
    amount_vnd: int
    method: str
    transaction_id: str
    reference: str


class ReconciliationLine(BaseModel):
    transaction_id: str
    kind: Literal["payment", "refund"]
    payment_code: str | None
    recorded_vnd: int | None
    gateway_vnd: int | None
    outcome: Literal["matched", "amount_mismatch", "missing_in_records", "missing_at_gateway"]


class Reconciliation(BaseModel):
    day: date
    run_at: datetime
    counts: dict[str, int]
    recorded_vnd: int
    gateway_vnd: int
    lines: list[ReconciliationLine]
