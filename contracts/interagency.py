"""The curated events of the inter-agency topics, for ministry systems.

``interagency-events`` follows every dossier whose process involves more than one
agency, or whose procedure a ministry receives: its code, procedure, agencies, steps,
dates and status. It carries **no personal data**: no names, ID numbers, contacts,
addresses, form data, documents or officers, and no free-text reasons (they may name
people). A ministry's own topic ``interagency-events.<ministry>`` carries the same
events of the dossiers it receives, plus the optional fields its configuration allows
(``services/interagency/data/ministries.json``); those fields are always null on the
default topic.

Each event is derived from one event on ``dossier-events``; its ``event_id`` is a UUID5
of that event's id, so a message published again (a relay restart, a republish) has the
same id and subscribers deduplicate on it. ``correlation_id`` is the source event's id.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any, Literal
from uuid import NAMESPACE_URL, UUID, uuid5

from pydantic import AwareDatetime, Field, TypeAdapter, ValidationError

from contracts.envelope import Channel, Contract, Envelope, FormValue, one_of
from contracts.workflow import ResultKind, Timeliness

# The workflow's statuses, as a ministry sees them after the event.
DossierStatus = Literal[
    "in_progress",
    "awaiting_handover",
    "paused",
    "rejected",
    "result_issued",
    "returned",
    "withdrawn",
]


def interagency_event_id(source_event_id: UUID) -> UUID:
    """The curated event's id: stable over re-deliveries of its source event."""
    return uuid5(NAMESPACE_URL, f"motcua:interagency:{source_event_id}")


class DisclosedApplicant(Contract):
    """The applicant's details a ministry may receive; each only if configured."""

    full_name: str | None = None
    id_number: str | None = Field(
        default=None, description="Citizen identity number (số định danh cá nhân)"
    )
    phone: str | None = None
    email: str | None = None


class InteragencyEvent(Envelope):
    """What every curated event says about its dossier, after the event."""

    code: str = Field(description="The dossier's legal code, <agency code>-YYMMDD-XXXX")
    procedure_id: str = Field(description="Id of the procedure in the national catalogue")
    status: DossierStatus
    appointment_date: date = Field(description="The date the result is due (ngày hẹn trả)")


class InteragencyDossierReceived(InteragencyEvent):
    """Accepted at the one-stop with its code; the process across ``agencies`` begins."""

    type: Literal["InteragencyDossierReceived"] = "InteragencyDossierReceived"
    procedure_name: str
    level: int = Field(description="Online public-service level of the procedure (2, 3, 4)")
    receiving_agency: str = Field(description="QCVN 102:2016 code of the receiving unit")
    agencies: tuple[str, ...] = Field(description="Agencies of the process, in order")
    channel: Channel
    received_at: AwareDatetime
    time_limit_working_days: int
    applicant: DisclosedApplicant | None = Field(
        default=None, description="Ministry topics only: the applicant fields configured"
    )
    form_data: dict[str, FormValue] | None = Field(
        default=None, description="Ministry topics only: the form fields configured"
    )


class InteragencyStepStarted(InteragencyEvent):
    type: Literal["InteragencyStepStarted"] = "InteragencyStepStarted"
    step_index: int
    step_id: str
    step_name: str
    agency_code: str
    started_on: date
    due_date: date = Field(description="End of this working day is the step's deadline")


class InteragencyStepCompleted(InteragencyEvent):
    type: Literal["InteragencyStepCompleted"] = "InteragencyStepCompleted"
    step_index: int
    step_id: str
    agency_code: str
    completed_on: date
    late: bool


class InteragencyDossierHandedOver(InteragencyEvent):
    """The dossier moves to the next agency (liên thông)."""

    type: Literal["InteragencyDossierHandedOver"] = "InteragencyDossierHandedOver"
    from_agency: str
    to_agency: str
    step_index: int = Field(description="The step that starts at the receiving agency")


class InteragencyDossierPaused(InteragencyEvent):
    """The applicant must supply documents; the statutory clock stops."""

    type: Literal["InteragencyDossierPaused"] = "InteragencyDossierPaused"
    agency_code: str
    requested_on: date
    documents: tuple[str, ...] = Field(description="Ids of the documents asked for")
    reason: str | None = Field(default=None, description="Ministry topics only, if configured")


class InteragencyDossierResumed(InteragencyEvent):
    """Supplied; the clock runs again and the appointment moved by the paused days."""

    type: Literal["InteragencyDossierResumed"] = "InteragencyDossierResumed"
    provided_on: date
    paused_working_days: int


class InteragencyStepOverdue(InteragencyEvent):
    type: Literal["InteragencyStepOverdue"] = "InteragencyStepOverdue"
    step_index: int
    step_id: str
    agency_code: str
    due_date: date


class InteragencyDossierOverdue(InteragencyEvent):
    """The appointment passed without a result."""

    type: Literal["InteragencyDossierOverdue"] = "InteragencyDossierOverdue"
    responsible_agency: str = Field(description="Agency of the first step that ran late")
    late_agencies: tuple[str, ...]


class InteragencyAppointmentRescheduled(InteragencyEvent):
    """The late agency apologised in writing and set a new appointment date."""

    type: Literal["InteragencyAppointmentRescheduled"] = "InteragencyAppointmentRescheduled"
    agency_code: str
    previous_appointment_date: date
    reason: str | None = Field(default=None, description="Ministry topics only, if configured")


class InteragencyDossierApproved(InteragencyEvent):
    type: Literal["InteragencyDossierApproved"] = "InteragencyDossierApproved"
    agency_code: str


class InteragencyDossierRefused(InteragencyEvent):
    """The resolving agency refused the dossier (it is closed without a result)."""

    type: Literal["InteragencyDossierRefused"] = "InteragencyDossierRefused"
    agency_code: str
    reason: str | None = Field(default=None, description="Ministry topics only, if configured")


class InteragencyResultIssued(InteragencyEvent):
    """The result is ready; the document itself never travels on these topics."""

    type: Literal["InteragencyResultIssued"] = "InteragencyResultIssued"
    agency_code: str
    kind: ResultKind
    issued_at: AwareDatetime
    timeliness: Timeliness


class InteragencyDossierClosed(InteragencyEvent):
    """The result was handed to the applicant: the dossier is closed."""

    type: Literal["InteragencyDossierClosed"] = "InteragencyDossierClosed"
    returned_on: date
    method: ResultKind


class InteragencyDossierWithdrawn(InteragencyEvent):
    """The applicant withdrew the dossier after its acceptance."""

    type: Literal["InteragencyDossierWithdrawn"] = "InteragencyDossierWithdrawn"
    reason: str | None = Field(default=None, description="Ministry topics only, if configured")


INTERAGENCY_EVENT_TYPES: dict[str, type[InteragencyEvent]] = {
    cls.__name__: cls
    for cls in list(globals().values())
    if isinstance(cls, type) and issubclass(cls, InteragencyEvent) and "type" in cls.model_fields
}
_adapter: TypeAdapter[InteragencyEvent] = TypeAdapter(one_of(INTERAGENCY_EVENT_TYPES.values()))


def parse(data: dict[str, Any]) -> InteragencyEvent:
    """The curated event in ``data`` (a JSON object); ValidationError if it is not one."""
    event: InteragencyEvent = _adapter.validate_python(data)
    return event


def decode_interagency(payload: bytes) -> InteragencyEvent | None:
    """The curated event in a message; None for an event type this version does not know."""
    try:
        event: InteragencyEvent = _adapter.validate_json(payload)
    except ValidationError:
        data = json.loads(payload)
        if isinstance(data, dict) and data.get("type") not in INTERAGENCY_EVENT_TYPES:
            return None
        raise
    return event
