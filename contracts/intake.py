"""Events published by intake: submission, one-stop decisions, withdrawal, ratings, feedback."""

from __future__ import annotations

from datetime import date, time
from typing import Literal
from uuid import UUID

from pydantic import AwareDatetime, Field

from contracts.envelope import (
    Applicant,
    Channel,
    Contract,
    Document,
    Envelope,
    FormValue,
    PostalAddress,
)


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
    postal_tracking_number: str | None = Field(
        default=None,
        description="Received by post: the tracking number of its parcel (given on "
        "DossierReceived; null on DossierSubmitted, published before it was recorded)",
    )
    delivery_address: PostalAddress | None = Field(
        default=None,
        description="The applicant asked for the result by post, to this address (given "
        "on DossierReceived; null on DossierSubmitted); null: collected or electronic",
    )


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
    appointment_at: AwareDatetime | None = Field(
        default=None,
        description=(
            "The return time on the receipt, to the minute: the time limit counted in "
            "working hours from receipt (null in events from before working hours)"
        ),
    )
    calendar_version: int = Field(
        default=0,
        ge=0,
        description="Version of the working calendar the appointment was computed with",
    )


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


FeedbackKind = Literal["feedback", "complaint"]


class DossierRated(Envelope):
    """The applicant rated the service after the result (S-3): once per dossier."""

    type: Literal["DossierRated"] = "DossierRated"
    rating: int = Field(ge=1, le=5, description="Satisfaction, 1 (very poor) to 5 (very good)")
    comment: str = ""
    rated_by: str | None = Field(
        description="The applicant's portal account; null when rated with code and ID number"
    )


class FeedbackSent(Envelope):
    """The applicant sent feedback or a complaint about the dossier (phản ánh, kiến nghị; F-1)."""

    type: Literal["FeedbackSent"] = "FeedbackSent"
    feedback_id: UUID
    kind: FeedbackKind
    text: str
    sent_by: str | None = Field(
        description="The applicant's portal account; null when sent with code and ID number"
    )


class FeedbackAnswered(Envelope):
    """The dossier's agency answered a feedback or complaint; there is one answer each."""

    type: Literal["FeedbackAnswered"] = "FeedbackAnswered"
    feedback_id: UUID
    answer: str
    agency_code: str = Field(description="The agency that answers (the dossier's receiving unit)")
    answered_by: str = Field(description="The officer who answered, for the agency's records")


# -- the working calendar -------------------------------------------------------------
# The days off and make-up working days the government announces, and the office hours,
# as an administrator of the province enters them. They are one stream on the topic,
# keyed by WORKING_CALENDAR_ID, so that every service and the audit see the same changes
# in the same order; ``calendar_version`` counts them from 1.

WORKING_CALENDAR_ID = UUID("5b0c1d6e-2f3a-5b4c-9d8e-7f6a5b4c3d2e")
DayKind = Literal["day_off", "working_day"]


class OfficeSession(Contract):
    """One session of the working day, local time in Vietnam, e.g. 07:30 to 11:30."""

    start: time
    end: time


class WorkingDaySet(Envelope):
    """A day is made a day off (ngày nghỉ bù) or a working day (ngày làm bù) by the
    government's announcement, whatever the holiday rules and the weekday say."""

    type: Literal["WorkingDaySet"] = "WorkingDaySet"
    day: date
    kind: DayKind
    reason: str = Field(description="The announcement, e.g. its number and date")
    set_by: str
    calendar_version: int = Field(ge=1)


class WorkingDayCleared(Envelope):
    """An entered day is removed: the holiday rules and the weekday decide it again."""

    type: Literal["WorkingDayCleared"] = "WorkingDayCleared"
    day: date
    reason: str
    cleared_by: str
    calendar_version: int = Field(ge=1)


class OfficeHoursSet(Envelope):
    """The sessions of every working day, in which time limits are counted."""

    type: Literal["OfficeHoursSet"] = "OfficeHoursSet"
    sessions: tuple[OfficeSession, ...] = Field(min_length=1)
    reason: str
    set_by: str
    calendar_version: int = Field(ge=1)


# -- the directory of agencies and officers -------------------------------------------
# Which officer holds which step role at which agency, as an administrator of the
# province enters it. Like the working calendar, one stream on the topic, keyed by
# DIRECTORY_ID, so that every service and the audit see the same changes in the same
# order; ``directory_version`` counts them from 1.

DIRECTORY_ID = UUID("8d2e4f60-1a3b-5c7d-9e0f-2a4b6c8d0e1f")

AGENCY_CODE_PATTERN = r"^[0-9A-Z]{3}\.[0-9A-Z]{2}\.[0-9A-Z]{2}\.[0-9A-Z]{3}$"
"""An agency's code in the form of QCVN 102:2016/BTTTT (the national technical
regulation on identifier codes of agencies for exchanging electronic documents), as
the catalogue's codes have it: four groups joined by dots, of 3, 2, 2 and 3 digits or
capital letters, e.g. ``000.00.22.H23`` or ``001.20.51.H23``.

What the catalogue's own codes show of the groups (read from the right): the last
(``H23``) is the same for every agency of the province; the third places a unit under
the one it belongs to (``000.00.51.H23`` is the district People's Committee of Thanh
Bình, ``000.11.51.H23`` its finance office, ``001.20.51.H23`` a commune of it); the
second and the first tell the units of one level apart. The pattern checks the shape
only; it does not say whether an agency with that code exists."""

StepRole = Literal["mot_cua", "chuyen_vien", "lanh_dao"]
"""A role in the steps of a procedure's process: the one-stop officer (một cửa), the
specialist (chuyên viên), the leader who signs (lãnh đạo)."""


class AgencyRegistered(Envelope):
    """An agency is entered in the directory (or its name corrected), so that officers
    may be listed at it."""

    type: Literal["AgencyRegistered"] = "AgencyRegistered"
    code: str = Field(pattern=AGENCY_CODE_PATTERN, description="QCVN 102:2016 code")
    name: str = Field(min_length=1)
    reason: str = Field(description="The decision establishing or naming the agency")
    registered_by: str
    directory_version: int = Field(ge=1)


class OfficerRolesSet(Envelope):
    """The step roles an officer holds at an agency from now on (replacing any they held
    before, at that agency or another)."""

    type: Literal["OfficerRolesSet"] = "OfficerRolesSet"
    officer: str = Field(min_length=1, description="The officer's subject at the identity provider")
    agency_code: str = Field(pattern=AGENCY_CODE_PATTERN, description="QCVN 102:2016 code")
    step_roles: tuple[StepRole, ...] = Field(min_length=1)
    reason: str = Field(description="The decision assigning the officer, e.g. its number")
    set_by: str
    directory_version: int = Field(ge=1)


class OfficerRemoved(Envelope):
    """The officer is no longer listed in the directory: no step may be assigned to them."""

    type: Literal["OfficerRemoved"] = "OfficerRemoved"
    officer: str
    agency_code: str = Field(description="The agency the officer was listed at")
    reason: str
    removed_by: str
    directory_version: int = Field(ge=1)
