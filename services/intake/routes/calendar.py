"""The working calendar (tag ``calendar``): the days off and make-up working days the
government announces and the office hours, entered by an administrator; anyone may read
it and ask when a time limit from a given moment would end."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, Query

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


@router.put("/days/{day}")
def set_calendar_day(
    intake: IntakeDep, caller: CallerDep, day: date, body: CalendarDayIn, cid: CorrelationIdDep
) -> CalendarChanged:
    """Enter a day off or a working day (admin). Appointments computed from now on use
    it; a dossier already received keeps the appointment on its receipt."""
    version = intake.set_calendar_day(caller, day, body.kind, body.reason, correlation_id=cid)
    return CalendarChanged(version=version)


@router.delete("/days/{day}")
def clear_calendar_day(
    intake: IntakeDep,
    caller: CallerDep,
    day: date,
    reason: Annotated[str, Query(min_length=3, max_length=500)],
    cid: CorrelationIdDep,
) -> CalendarChanged:
    """Remove an entered day (admin): the holiday rules decide it again (404 if it was
    not entered)."""
    version = intake.clear_calendar_day(caller, day, reason, correlation_id=cid)
    return CalendarChanged(version=version)


@router.put("/office-hours")
def set_office_hours(
    intake: IntakeDep, caller: CallerDep, body: OfficeHoursIn, cid: CorrelationIdDep
) -> CalendarChanged:
    """Set the sessions of the working day (admin), in which time limits are counted."""
    sessions = [(s.start, s.end) for s in body.sessions]
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
