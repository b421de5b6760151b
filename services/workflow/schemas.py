"""Request and response bodies of workflow's HTTP API (what /docs shows)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, Field


class DocumentRef(BaseModel):
    document_id: str
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$", description="From POST /v1/attachments")
    filename: str = Field(min_length=1, max_length=255)


class Claim(BaseModel):
    officer: str | None = Field(default=None, description="Assign to this officer; default: me")


class StepDone(BaseModel):
    notes: str = Field(default="", max_length=4000)
    documents: list[DocumentRef] = []


class Reason(BaseModel):
    reason: str = Field(min_length=3, max_length=2000)


class SupplementRequest(Reason):
    documents: list[str] = Field(default=[], description="What the applicant must supply")


class Supplement(BaseModel):
    documents: list[DocumentRef] = Field(min_length=1)


class Decision(BaseModel):
    notes: str = Field(default="", max_length=4000)


class Result(BaseModel):
    kind: Literal["electronic", "pickup", "post"]
    document: DocumentRef | None = Field(default=None, description="Required for electronic")


class Returned(BaseModel):
    method: Literal["electronic", "pickup", "post"]


class Apology(Reason):
    appointment_date: date


class QueueRow(BaseModel):
    dossier_id: UUID
    code: str
    procedure_id: str
    procedure_name: str
    agency_code: str
    step_index: int
    step_id: str
    step_name: str
    step_role: str | None = Field(description="The role the current step needs")
    can_act: bool = Field(
        description="Whether you may claim, complete, approve or reject the current step now: "
        "it is in progress and your token holds its role"
    )
    officer: str | None
    status: str
    step_due_date: date | None
    step_overdue: bool
    appointment_date: date
    overdue: bool
    paid: bool
    approved: bool | None


class Step(BaseModel):
    index: int
    id: str
    name: str
    agency_code: str
    agency_name: str
    role: str
    working_days: str
    status: str
    officer: str | None
    started_on: date | None
    due_date: date | None
    due_at: datetime | None = Field(
        default=None, description="The step's deadline to the minute (working hours)"
    )
    completed_on: date | None
    overdue: bool


class Pause(BaseModel):
    reason: str
    from_: date = Field(alias="from")
    to: date | None
    days: int | None


class HistoryEntry(BaseModel):
    event: str
    at: datetime
    by: str | None
    role: str | None = Field(
        default=None, description="The step role the officer acted in (claim, complete, decide)"
    )


class Timeline(BaseModel):
    dossier_id: UUID
    code: str
    procedure_name: str
    status: str
    agency_code: str = Field(description="Where the dossier is now")
    received_on: date
    appointment_date: date = Field(description="What the applicant is promised now")
    appointment_at: datetime | None = Field(
        default=None, description="The promised return time to the minute, when it has one"
    )
    statutory_appointment_date: date | None = Field(
        default=None,
        description=(
            "The receipt's appointment moved only by supplement pauses: what lateness is "
            "judged against (an apology's new date does not move it)"
        ),
    )
    overdue: bool
    responsible_agency: str | None
    paid: bool
    approved: bool | None
    steps: list[Step]
    pauses: list[Pause]
    history: list[HistoryEntry]
    blocked: str | None = Field(description="Why the result cannot be issued yet, if so")


class SignatureCheck(BaseModel):
    """What the document's digital signature says (O-5), checked now: that the document
    is unchanged since it was signed, that the signature is the certificate's, and that
    the certificate chains to a root trusted here (no revocation lookup)."""

    signed: bool = Field(description="The file is a PDF carrying at least one signature")
    valid: bool = Field(description="Every signature is intact, valid and trusted")
    intact: bool = Field(description="Nothing signed was changed after signing")
    trusted: bool = Field(description="Every signer's certificate chains to a trusted root")
    reason: str | None = Field(description="Why it is not valid, when it is not")
    signer_common_name: str | None = Field(description="The signer certificate's CN")
    signer_organization: str | None = Field(description="The signer certificate's O")
    signing_time: datetime | None = Field(description="When the signer says it signed")
    signatures: int = Field(description="How many signatures the file carries")


class ResultCheck(BaseModel):
    """Whether a document is the electronic result issued under a dossier code, and
    whether its signature holds.

    Nothing personal: when it matches, the procedure, the issuing agency and the day;
    otherwise only ``matches: false``, the same for an unknown code, a dossier without
    an electronic result and another document. ``signature`` is that of the uploaded
    copy (whatever the code), or, given a hash, that of the issued document when the
    hash is its own (null otherwise)."""

    code: str
    sha256: str = Field(description="The SHA-256 checked (lower case)")
    matches: bool = Field(description="It is the document the agency issued under the code")
    valid: bool = Field(
        default=False, description="It is the document issued and its signature holds"
    )
    procedure_name: str | None = Field(description="If it matches: the procedure")
    agency_code: str | None = Field(description="If it matches: the agency that issued it")
    issued_on: date | None = Field(description="If it matches: the day it was issued")
    signature: SignatureCheck | None = Field(
        default=None, description="The document's signature, checked (see above)"
    )


class CalendarInForce(BaseModel):
    """The working calendar as this service last received it from intake."""

    version: int
    sessions: list[dict[str, str]] = Field(description="Local times in Vietnam, HH:MM")
    entered: dict[date, bool] = Field(description="Entered days: true worked, false off")
