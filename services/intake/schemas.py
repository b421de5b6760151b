"""Request and response bodies of intake's HTTP API (what /docs shows)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import BaseModel, Field

from contracts.envelope import PostalAddress
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
    postal_tracking_number: str | None = Field(
        default=None,
        pattern=r"^[A-Z0-9]{8,20}$",
        description="Required when received by post: the tracking number of its parcel",
    )
    delivery_address: PostalAddress | None = Field(
        default=None, description="The applicant wants the result by post, to this address"
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


class Rating(BaseModel):
    rating: int = Field(ge=1, le=5, description="1 (very poor) to 5 (very good)")
    comment: str = Field(default="", max_length=2000)


class FeedbackIn(BaseModel):
    kind: Literal["feedback", "complaint"] = Field(
        description="feedback: phản ánh; complaint: kiến nghị"
    )
    text: str = Field(min_length=3, max_length=4000)


class FeedbackCreated(BaseModel):
    feedback_id: UUID


class Answer(BaseModel):
    answer: str = Field(min_length=3, max_length=4000)


class FeedbackView(BaseModel):
    """One feedback of the dossier and the agency's answer, if any."""

    feedback_id: UUID
    kind: str
    text: str
    answer: str | None
    agency_code: str | None = Field(default=None, description="The agency that answered")


class FeedbackRow(BaseModel):
    """A row of the agency's feedback queue."""

    feedback_id: UUID
    dossier_id: UUID
    code: str | None
    agency_code: str
    procedure_id: str
    kind: str
    text: str
    sent_at: datetime
    answer: str | None
    answered_by: str | None
    answered_at: datetime | None


class DossierView(DossierSummary):
    appointment_at: datetime | None = Field(
        default=None,
        description=(
            "The return time with its hour (Vietnam time): the receipt's, moved by "
            "supplements; null when only a date is set (an apology's new date)"
        ),
    )
    reason: str | None
    rating: int | None = Field(default=None, description="The applicant's rating, once given")
    feedback: list[FeedbackView] = []
    timeline: list[TimelineEntry]
    form_data: dict[str, Any] | None = Field(
        default=None, description="Only for the applicant and the officers of the agency"
    )
    documents: list[dict[str, Any]] | None = None


class DossierRow(DossierSummary):
    submitted_at: datetime


# -- the working calendar -----------------------------------------------------------


class CalendarDayIn(BaseModel):
    """A day the government announced as a day off or as a working day."""

    kind: Literal["day_off", "working_day"] = Field(
        description="day_off: ngày nghỉ (bù); working_day: ngày làm (bù), e.g. a Saturday"
    )
    reason: str = Field(
        min_length=3, max_length=500, description="The announcement: its number and date"
    )


ClockTime = Annotated[
    str,
    Field(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$", description="Local time in Vietnam, HH:MM"),
]


class OfficeSessionIn(BaseModel):
    start: ClockTime = Field(examples=["07:30"])
    end: ClockTime = Field(examples=["11:30"])


class OfficeHoursIn(BaseModel):
    sessions: list[OfficeSessionIn] = Field(min_length=1, max_length=4)
    reason: str = Field(min_length=3, max_length=500)


class CalendarChanged(BaseModel):
    version: int = Field(description="The calendar's version after the change")


class EnteredDay(BaseModel):
    day: date
    working: bool
    reason: str
    changed_by: str
    changed_at: str
    version: int


class DayWhy(BaseModel):
    day: date
    why: str


class CalendarYear(BaseModel):
    """The calendar in force for a year, as appointments are computed with it now."""

    version: int
    sessions: list[OfficeSessionIn]
    working_hours_per_day: float
    entered: list[EnteredDay]
    days_off: list[DayWhy] = Field(description="Weekdays not worked, with why")
    working_weekend_days: list[DayWhy] = Field(description="Saturdays or Sundays worked")


class Deadline(BaseModel):
    received_at: datetime
    working_days: float
    due_at: datetime
    calendar_version: int


# -- the directory of agencies and officers ------------------------------------------------

StepRoleName = Literal["mot_cua", "chuyen_vien", "lanh_dao"]


class AgencyIn(BaseModel):
    """An agency entered in the directory (or its name corrected)."""

    name: str = Field(min_length=1, max_length=300, examples=["Sở Giao thông vận tải"])
    reason: str = Field(
        min_length=3, max_length=500, description="The decision establishing or naming it"
    )


class OfficerIn(BaseModel):
    """The step roles an officer holds at an agency, replacing what they held before."""

    agency: str = Field(description="QCVN 102:2016 code, e.g. 001.20.51.H23")
    step_roles: list[str] = Field(
        max_length=3,
        description="One or more of mot_cua (một cửa), chuyen_vien (chuyên viên), "
        "lanh_dao (lãnh đạo)",
        examples=[["chuyen_vien"]],
    )
    reason: str = Field(
        min_length=3, max_length=500, description="The decision assigning the officer"
    )


class DirectoryChanged(BaseModel):
    version: int = Field(description="The directory's version after the change")


class AgencyEntry(BaseModel):
    code: str
    name: str
    reason: str
    changed_by: str
    changed_at: str
    version: int


class OfficerEntry(BaseModel):
    officer: str
    agency_code: str
    step_roles: list[StepRoleName]
    reason: str
    changed_by: str
    changed_at: str
    version: int


class DirectoryAgencies(BaseModel):
    version: int
    agencies: list[AgencyEntry]


class DirectoryOfficers(BaseModel):
    """The officers as the directory lists them: the administrator's record only."""

    version: int
    officers: list[OfficerEntry]
