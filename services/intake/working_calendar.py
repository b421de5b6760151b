"""The province's working calendar: the days off and make-up working days the government
announces, and the office hours, as an administrator enters them.

Intake owns the calendar because intake gives the appointment. Each change is an event
of one ``WorkingCalendarLog`` aggregate (its id is ``WORKING_CALENDAR_ID``), published on
the topic like a dossier's, so workflow counts the same days, and a replay and
``motcua audit`` see every change with who made it and when. The change's rows
(``motcua.runtime.working_calendar``) are saved in the same transaction: an acceptance
right after an administrator's change computes with it. A dossier already received keeps
the appointment on its receipt; its ``calendar_version`` says which calendar that was.
"""

from __future__ import annotations

from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

from eventsourcing.domain import event

from contracts.intake import WORKING_CALENDAR_ID, DayKind
from motcua.core.calendar import Session, WorkingCalendar, check_sessions
from motcua.core.errors import Invalid, NotFound
from motcua.core.retry import retry_on_conflict
from motcua.core.tracing import TracedAggregate
from motcua.runtime import working_calendar as rows
from motcua.runtime.working_calendar import CalendarReader
from motcua.web.auth import Caller
from services.intake.base import IntakeBase


class WorkingCalendarLog(TracedAggregate):
    """Every change to the calendar, numbered from 1 (``changes``: the calendar's version)."""

    @staticmethod
    def create_id() -> Any:
        return WORKING_CALENDAR_ID

    @event("Opened")
    def __init__(self) -> None:
        self.days: dict[date, str] = {}
        self.changes = 0

    @event("DaySet")
    def set_day(
        self,
        *,
        day: date,
        kind: str,
        reason: str,
        set_by: str,
        calendar_version: int,
        correlation_id: str,
    ) -> None:
        self.days[day], self.changes = kind, calendar_version

    @event("DayCleared")
    def clear_day(
        self, *, day: date, reason: str, cleared_by: str, calendar_version: int, correlation_id: str
    ) -> None:
        if day not in self.days:
            raise NotFound(f"{day.isoformat()} was not entered in the calendar")
        del self.days[day]
        self.changes = calendar_version

    @event("OfficeHoursSet")
    def set_office_hours(
        self,
        *,
        sessions: list[list[str]],
        reason: str,
        set_by: str,
        calendar_version: int,
        correlation_id: str,
    ) -> None:
        self.changes = calendar_version


def parse_sessions(sessions: list[list[str]]) -> tuple[Session, ...]:
    return tuple(Session(time.fromisoformat(a), time.fromisoformat(b)) for a, b in sessions)


class WorkingCalendarMixin(IntakeBase):
    """The administrator's changes to the calendar, and the calendar in force."""

    calendar_reader: CalendarReader

    def calendar(self) -> WorkingCalendar:
        """The calendar in force: the base with every change entered so far."""
        return self.calendar_reader()

    def _log(self) -> WorkingCalendarLog:
        return self._log_or_new(WORKING_CALENDAR_ID, WorkingCalendarLog)

    @retry_on_conflict
    def set_calendar_day(
        self, caller: Caller, day: date, kind: DayKind, reason: str, *, correlation_id: str
    ) -> int:
        """Enter ``day`` as a day off or a working day; returns the calendar's new version."""
        caller.require("admin")
        log = self._log()
        version = log.changes + 1
        log.set_day(
            day=day,
            kind=kind,
            reason=reason,
            set_by=caller.sub,
            calendar_version=version,
            correlation_id=correlation_id,
        )
        at = self.clock().isoformat()
        write = rows.set_day(day, kind == "working_day", reason, caller.sub, at, version)
        self.save(log, writes=[write])
        return version

    @retry_on_conflict
    def clear_calendar_day(
        self, caller: Caller, day: date, reason: str, *, correlation_id: str
    ) -> int:
        """Remove an entered day; the holiday rules decide it again."""
        caller.require("admin")
        log = self._log()
        version = log.changes + 1
        log.clear_day(
            day=day,
            reason=reason,
            cleared_by=caller.sub,
            calendar_version=version,
            correlation_id=correlation_id,
        )
        self.save(log, writes=[rows.clear_day(day, version)])
        return version

    @retry_on_conflict
    def set_office_hours(
        self, caller: Caller, sessions: list[tuple[time, time]], reason: str, *, correlation_id: str
    ) -> int:
        """Set the sessions in which time limits are counted from now on."""
        caller.require("admin")
        try:
            parsed = tuple(Session(start, end) for start, end in sessions)
            check_sessions(parsed)
        except ValueError as error:
            raise Invalid(str(error)) from None
        log = self._log()
        version = log.changes + 1
        log.set_office_hours(
            sessions=[[s.start.isoformat("minutes"), s.end.isoformat("minutes")] for s in parsed],
            reason=reason,
            set_by=caller.sub,
            calendar_version=version,
            correlation_id=correlation_id,
        )
        self.save(log, writes=[rows.set_sessions(parsed, version)])
        return version

    def calendar_year(self, year: int) -> dict[str, Any]:
        """The calendar in force for ``year``: its version, sessions, the entered days
        with who entered them, and every day of the year that is not worked, with why."""
        calendar = self.calendar()
        days = [
            date.fromordinal(n)
            for n in range(date(year, 1, 1).toordinal(), date(year + 1, 1, 1).toordinal())
        ]
        return {
            "version": calendar.version,
            "sessions": [
                {"start": f"{s.start:%H:%M}", "end": f"{s.end:%H:%M}"} for s in calendar.sessions
            ],
            "working_hours_per_day": calendar.day_length.total_seconds() / 3600,
            "entered": [
                row
                for row in rows.entered_days(self.store)
                if str(row["day"]).startswith(f"{year}-")
            ],
            "days_off": [
                {"day": day, "why": calendar.why(day)}
                for day in days
                if not calendar.is_working_day(day) and day.weekday() < 5
            ],
            "working_weekend_days": [
                {"day": day, "why": calendar.why(day)}
                for day in days
                if calendar.is_working_day(day) and day.weekday() >= 5
            ],
        }

    def deadline(self, received_at: datetime, working_days: float) -> dict[str, Any]:
        """When a time limit of ``working_days`` from ``received_at`` ends, by the
        calendar in force (what the receipt of a dossier accepted then would say)."""
        if received_at.tzinfo is None:
            raise Invalid("received_at must carry a timezone, e.g. 2025-12-31T16:00+07:00")
        if not 2000 <= received_at.year <= 2100:
            raise Invalid("received_at must be between the years 2000 and 2100")
        calendar = self.calendar()
        return {
            "received_at": received_at,
            "working_days": working_days,
            "due_at": calendar.deadline(received_at, Decimal(str(working_days))),
            "calendar_version": calendar.version,
        }
