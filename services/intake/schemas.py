"""Request and response bodies of intake's HTTP API (what /docs shows)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, Field

from services.intake.receipt import Receipt


class ProcedureSummary(BaseModel):
    id: str
    name: str
    sector: str
    field: str
    tier: str
    level: int
    time_limit_working_days: int
    receiving_agency: str


class DocumentRef(BaseModel):
    document_id: str = Field(description="Id of the required document in the procedure")
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$", description="From POST /v1/attachments")
    filename: str = Field(min_length=1, max_length=255)


class Submission(BaseModel):
    procedure_id: str
    form_data: dict[str, str | int | float | bool | None]
    documents: list[DocumentRef] = []
    channel: Literal["online", "counter", "post"] = "online"
    notify_by: list[Literal["inbox", "email", "sms", "webhook"]] = Field(
        default=["inbox"], description="webhook: a messaging app reached by phone number"
    )
    applicant_account: str | None = Field(
        default=None, description="Counter/post only: the applicant's portal account, if known"
    )


class Resubmission(BaseModel):
    form_data: dict[str, str | int | float | bool | None]
    documents: list[DocumentRef] = []


class Reason(BaseModel):
    reason: str = Field(min_length=3, max_length=2000)


class CompletionRequest(Reason):
    missing_documents: list[str] = []


class Created(BaseModel):
    id: UUID
    status: str


class Accepted(BaseModel):
    code: str
    receipt: Receipt


class TimelineEntry(BaseModel):
    event: str
    at: datetime
    by: str | None
    details: dict[str, Any]


class DossierSummary(BaseModel):
    id: UUID
    code: str | None
    status: str
    procedure_id: str
    procedure_name: str
    agency_code: str
    channel: str
    applicant_name: str
    received_at: datetime | None
    appointment_date: date | None


class DossierView(DossierSummary):
    reason: str | None
    timeline: list[TimelineEntry]
    form_data: dict[str, Any] | None = Field(
        default=None, description="Only for the applicant and the officers of the agency"
    )
    documents: list[dict[str, Any]] | None = None


class DossierRow(DossierSummary):
    submitted_at: datetime


class Attachment(BaseModel):
    sha256: str
    size: int
    content_type: str
