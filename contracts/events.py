"""The events on Kafka: the only payloads services exchange (topic ``dossier-events``).

Frozen pydantic models, discriminated on ``type``. Every event carries the envelope
fields; a change that breaks the exported JSON Schemas in ``contracts/schemas/`` is
caught by a test. Consumers ignore event types they do not know (see ``decode``).
"""

from __future__ import annotations

import json
from datetime import date
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

Channel = Literal["online", "counter", "post"]
NoticeChannel = Literal["inbox", "email", "sms"]
FormValue = str | int | float | bool | None


class Contract(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Applicant(Contract):
    """Who applies and how to reach them (from the form and the account)."""

    account: str | None = Field(description="Portal account (token subject), if any")
    full_name: str
    id_number: str = Field(description="Citizen identity number (số định danh cá nhân)")
    phone: str | None = None
    email: str | None = None
    notify_by: tuple[NoticeChannel, ...] = ("inbox",)


class Document(Contract):
    """A document of the dossier, stored once by the SHA-256 of its content."""

    document_id: str = Field(description="Id of the required document in the procedure")
    filename: str
    content_type: str
    size: int
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


class Envelope(Contract):
    schema_version: int = 1
    event_id: UUID = Field(description="Unique and stable: a re-published event keeps its id")
    dossier_id: UUID = Field(description="Also the Kafka message key")
    occurred_at: AwareDatetime = Field(description="When it happened, UTC")
    producer: str = Field(description="Service that published the event")
    correlation_id: str = Field(description="Id of the request or event that caused this one")


class DossierFacts(Contract):
    """What every consumer needs to know of a dossier, repeated where it is useful."""

    procedure_id: str
    procedure_name: str
    level: int
    agency_code: str = Field(description="Receiving unit, QCVN 102:2016 code")
    channel: Channel
    applicant: Applicant
    form_data: dict[str, FormValue]
    documents: tuple[Document, ...]


class DossierSubmitted(Envelope, DossierFacts):
    """An applicant submitted online, or a one-stop officer entered a counter/post dossier."""

    type: Literal["DossierSubmitted"] = "DossierSubmitted"
    submitted_by: str


class DossierCompletionRequested(Envelope):
    """The one-stop officer asks the applicant to complete the dossier before acceptance."""

    type: Literal["DossierCompletionRequested"] = "DossierCompletionRequested"
    reason: str
    missing_documents: tuple[str, ...] = ()
    requested_by: str


class DossierResubmitted(Envelope):
    """The applicant completed the dossier as asked; it awaits acceptance again."""

    type: Literal["DossierResubmitted"] = "DossierResubmitted"
    form_data: dict[str, FormValue]
    documents: tuple[Document, ...]
    resubmitted_by: str


class DossierReceived(Envelope, DossierFacts):
    """Accepted at the one-stop: the dossier has its legal code and appointment date (I-1, I-2)."""

    type: Literal["DossierReceived"] = "DossierReceived"
    code: str = Field(description="<agency code>-YYMMDD-XXXX")
    received_at: AwareDatetime
    appointment_date: date
    time_limit_working_days: int
    received_by: str


class DossierIntakeRefused(Envelope):
    """The one-stop officer refused the dossier, with the reason given to the applicant."""

    type: Literal["DossierIntakeRefused"] = "DossierIntakeRefused"
    reason: str
    refused_by: str


class DossierWithdrawn(Envelope):
    """The applicant withdrew the dossier."""

    type: Literal["DossierWithdrawn"] = "DossierWithdrawn"
    reason: str
    withdrawn_by: str


DossierEvent = Annotated[
    DossierSubmitted
    | DossierCompletionRequested
    | DossierResubmitted
    | DossierReceived
    | DossierIntakeRefused
    | DossierWithdrawn,
    Field(discriminator="type"),
]
EVENT_TYPES: dict[str, type[Envelope]] = {
    cls.__name__: cls
    for cls in (
        DossierSubmitted,
        DossierCompletionRequested,
        DossierResubmitted,
        DossierReceived,
        DossierIntakeRefused,
        DossierWithdrawn,
    )
}
_adapter: TypeAdapter[Envelope] = TypeAdapter(DossierEvent)


class UndecodableEvent(ValueError):
    """A message that is not a valid contract event; it goes to the DLQ with this reason."""


def decode(payload: bytes) -> Envelope | None:
    """The contract event in ``payload``; None for a well-formed event of an unknown type."""
    try:
        raw: Any = _adapter.validate_json(payload)
    except ValidationError as error:
        kind = _peek_type(payload)
        if kind is not None and kind not in EVENT_TYPES:
            return None
        raise UndecodableEvent(_summary(error)) from None
    event: Envelope = raw
    return event


def encode(event: Envelope) -> bytes:
    return event.model_dump_json().encode()


def _peek_type(payload: bytes) -> str | None:
    try:
        data = json.loads(payload)
    except (ValueError, UnicodeDecodeError):
        return None
    kind = data.get("type") if isinstance(data, dict) else None
    return kind if isinstance(kind, str) else None


def _summary(error: ValidationError) -> str:
    parts = [f"{'.'.join(map(str, e['loc'])) or '<root>'}: {e['msg']}" for e in error.errors()[:5]]
    return "; ".join(parts)
