"""Events published by workflow: the electronic process across agencies (W-1..W-5)."""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from pydantic import AwareDatetime, Field

from contracts.envelope import Document, Envelope

ResultKind = Literal["electronic", "pickup", "post"]
Timeliness = Literal["early", "on_time", "late"]


def _acted_as(what: str) -> Any:
    """The optional ``role`` of an officer's act: added after the first release, so an
    event published before reads as None."""
    return Field(
        default=None,
        description=f"The step role (mot_cua, chuyen_vien, lanh_dao) {what}; "
        "None for events before step roles were checked",
    )


class StepStarted(Envelope):
    """A step of the procedure's process starts at an agency, with its due date."""

    type: Literal["StepStarted"] = "StepStarted"
    step_index: int
    step_id: str
    step_name: str
    agency_code: str
    role: str
    started_on: date
    due_date: date = Field(description="End of this working day is the step's deadline")
    due_at: AwareDatetime | None = Field(
        default=None, description="The step's deadline to the minute, in working hours"
    )


class StepClaimed(Envelope):
    type: Literal["StepClaimed"] = "StepClaimed"
    step_index: int
    agency_code: str
    officer: str
    assigned_by: str
    role: str | None = _acted_as("the assigning officer acted in")


class StepCompleted(Envelope):
    type: Literal["StepCompleted"] = "StepCompleted"
    step_index: int
    step_id: str
    agency_code: str
    officer: str
    notes: str
    documents: tuple[Document, ...] = ()
    completed_on: date
    late: bool
    role: str | None = _acted_as("the officer completing the step acted in")


class DossierHandedOver(Envelope):
    """The dossier moves from one agency to the next (liên thông)."""

    type: Literal["DossierHandedOver"] = "DossierHandedOver"
    from_agency: str
    to_agency: str
    step_index: int = Field(description="The step that starts at the receiving agency")
    officer: str


class SupplementRequested(Envelope):
    """The applicant must supply documents; the statutory clock pauses."""

    type: Literal["SupplementRequested"] = "SupplementRequested"
    agency_code: str
    officer: str
    reason: str
    documents: tuple[str, ...] = ()
    requested_on: date


class SupplementProvided(Envelope):
    """The applicant supplied them; the clock resumes and the appointment moves."""

    type: Literal["SupplementProvided"] = "SupplementProvided"
    documents: tuple[Document, ...] = ()
    provided_on: date
    paused_working_days: int
    appointment_date: date
    appointment_at: AwareDatetime | None = Field(
        default=None, description="The moved return time, the pause counted in working hours"
    )


class DossierApproved(Envelope):
    type: Literal["DossierApproved"] = "DossierApproved"
    agency_code: str
    officer: str
    notes: str = ""
    role: str | None = _acted_as("the approving officer acted in")


class DossierRejected(Envelope):
    type: Literal["DossierRejected"] = "DossierRejected"
    agency_code: str
    officer: str
    reason: str
    role: str | None = _acted_as("the rejecting officer acted in")


class ResultIssued(Envelope):
    """The result is ready: an electronic document, or for pickup or post (W-5)."""

    type: Literal["ResultIssued"] = "ResultIssued"
    agency_code: str
    officer: str
    kind: ResultKind
    document: Document | None = None
    issued_at: AwareDatetime
    appointment_date: date
    timeliness: Timeliness = Field(
        description=(
            "Against the statutory appointment: the receipt's, moved only by supplement "
            "pauses; an apology's new date never makes a late result on time"
        )
    )
    appointment_at: AwareDatetime | None = Field(
        default=None,
        description="The statutory appointment to the minute, when it was counted in hours",
    )


class ResultReturned(Envelope):
    type: Literal["ResultReturned"] = "ResultReturned"
    officer: str
    method: ResultKind
    returned_on: date


class StepOverdue(Envelope):
    """A step passed its due date unfinished; the delay is its agency's."""

    type: Literal["StepOverdue"] = "StepOverdue"
    step_index: int
    step_id: str
    agency_code: str
    due_date: date


class DossierOverdue(Envelope):
    """The appointment passed without a result."""

    type: Literal["DossierOverdue"] = "DossierOverdue"
    appointment_date: date
    responsible_agency: str = Field(description="Agency of the first step that ran late")
    late_agencies: tuple[str, ...]


class ApologyIssued(Envelope):
    """The responsible agency apologises in writing and sets a new appointment date."""

    type: Literal["ApologyIssued"] = "ApologyIssued"
    agency_code: str
    officer: str
    reason: str
    previous_appointment_date: date
    appointment_date: date
