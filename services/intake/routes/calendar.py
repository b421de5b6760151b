"""The working calendar (tag ``calendar``): the days off and make-up working days the
government announces and the office hours, entered by an administrator; anyone may read
it and ask when a time limit from a given moment would end."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Annotated

from fastapi import APIRouter, Path, Query

from motcua.core.errors import Invalid
from motcua.web.auth import CallerDep
from motcua.web.http import CorrelationIdDep
from services.intake.routes.common import IntakeDep
from services.intake.schemas import (
    CalendarChanged,
    CalendarDayIn,
    CalendarYear,
    Deadline,
    OfficeHoursIn,
)

router = APIRouter(prefix="/calendar", tags=["calendar"])


@router.get("")
def read_calendar(intake: IntakeDep, year: Annotated[int, Query(ge=2000, le=2100)]) -> CalendarYear:
    """The calendar in force for ``year``: entered days (who, when, why), the weekdays
    not worked and the weekend days worked, and the office sessions."""
    return CalendarYear.model_validate(intake.calendar_year(year))


Day = Annotated[
    str, Path(pattern=r"^(20[0-9]{2}|2100)-[0-9]{2}-[0-9]{2}$", description="YYYY-MM-DD")
]


def _date(day: str) -> date:
    try:
        return date.fromisoformat(day)
    except ValueError:
        raise Invalid(f"{day} is not a date (YYYY-MM-DD)") from None


@router.put("/days/{day}")
def set_calendar_day(
    intake: IntakeDep, caller: CallerDep, day: Day, body: CalendarDayIn, cid: CorrelationIdDep
) -> CalendarChanged:
    """Enter a day off or a working day (admin). Appointments computed from now on use
    it; a dossier already received keeps the appointment on its receipt."""
    version = intake.set_calendar_day(
        caller, _date(day), body.kind, body.reason, correlation_id=cid
    )
    return CalendarChanged(version=version)


@router.delete("/days/{day}")
def clear_calendar_day(
    intake: IntakeDep,
    caller: CallerDep,
    day: Day,
    reason: Annotated[str, Query(min_length=3, max_length=500)],
    cid: CorrelationIdDep,
) -> CalendarChanged:
    """Remove an entered day (admin): the holiday rules decide it again (404 if it was
    not entered)."""
    version = intake.clear_calendar_day(caller, _date(day), reason, correlation_id=cid)
    return CalendarChanged(version=version)


@router.put("/office-hours")
def set_office_hours(
    intake: IntakeDep, caller: CallerDep, body: OfficeHoursIn, cid: CorrelationIdDep
) -> CalendarChanged:
    """Set the sessions of the working day (admin), in which time limits are counted."""
    sessions = [(time.fromisoformat(s.start), time.fromisoformat(s.end)) for s in body.sessions]
    version = intake.set_office_hours(caller, sessions, body.reason, correlation_id=cid)
    return CalendarChanged(version=version)


@router.get("/deadline")
def compute_deadline(
    intake: IntakeDep,
    received_at: datetime,
    working_days: Annotated[float, Query(gt=0, le=365)],
) -> Deadline:
    """When a time limit of ``working_days`` from ``received_at`` ends by the calendar
    in force, to the minute: what the receipt would say."""
    return Deadline.model_validate(intake.deadline(received_at, working_days))
