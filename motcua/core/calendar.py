"""Working time in Vietnam: which days are worked, and the office hours within them.

The base is the maintained ``holidays`` library: weekends, public holidays (Tết included)
and the swaps it knows. The government announces more each year (a bridge day off
against a Saturday worked, ngày nghỉ bù / ngày làm bù), which the library may miss or
learn late; an administrator enters them, and a ``WorkingCalendar`` holds them over the
base (``days``), with the office sessions in which time limits are counted.

Time limits are counted in working time, not whole days: a working day is the sum of
its sessions (7:30–11:30 and 13:30–17:00 make 7.5 hours), a limit of N days is N times
that from the moment of receipt, and a dossier received outside the sessions starts
counting at the next session. A quarter-day step is thus due the same day, and the
receipt can give the return time to the minute.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from functools import cache
from itertools import pairwise
from types import MappingProxyType
from zoneinfo import ZoneInfo

import holidays

VIETNAM_TZ = ZoneInfo("Asia/Ho_Chi_Minh")
# No calendar has a year without a working day: a search this long is a wrong calendar.
_SEARCH_DAYS = 3660


@cache
def _vietnam() -> holidays.HolidayBase:
    return holidays.country_holidays("VN")


def local_date(moment: datetime) -> date:
    """The calendar date in Vietnam of a timezone-aware moment."""
    if moment.tzinfo is None:
        raise ValueError("moment must be timezone-aware")
    return moment.astimezone(VIETNAM_TZ).date()


@dataclass(frozen=True)
class Session:
    """One office session of a working day, in local time: ``start`` to ``end``."""

    start: time
    end: time

    def __post_init__(self) -> None:
        if self.end <= self.start:
            raise ValueError(f"a session ends after it starts, not {self.start}–{self.end}")

    @property
    def length(self) -> timedelta:
        return _at(date.min, self.end) - _at(date.min, self.start)

    def text(self) -> str:
        return f"{self.start:%H:%M}–{self.end:%H:%M}"


# The sessions most provinces publish for their one-stop units (Decision of the
# province's People's Committee); an administrator sets the province's own.
DEFAULT_SESSIONS = (Session(time(7, 30), time(11, 30)), Session(time(13, 30), time(17, 0)))


def check_sessions(sessions: tuple[Session, ...]) -> None:
    """Sessions in order, not overlapping; at least one."""
    if not sessions:
        raise ValueError("a working day needs at least one session")
    for before, after in pairwise(sessions):
        if after.start < before.end:
            raise ValueError(
                f"sessions must be in order without overlapping: {before.text()} then "
                f"{after.text()}"
            )


@dataclass(frozen=True)
class WorkingCalendar:
    """The working days and office hours a time limit is counted in.

    ``days`` maps a date to True (a working day: ngày làm bù) or False (a day off: ngày
    nghỉ bù) over the base; ``version`` counts the administrator's changes (0: none).
    """

    days: Mapping[date, bool] = field(default_factory=lambda: MappingProxyType({}))
    sessions: tuple[Session, ...] = DEFAULT_SESSIONS
    version: int = 0

    def __post_init__(self) -> None:
        check_sessions(self.sessions)

    # -- days -------------------------------------------------------------------------

    def is_working_day(self, day: date) -> bool:
        entered = self.days.get(day)
        if entered is not None:
            return entered
        return bool(_vietnam().is_working_day(day))

    def why(self, day: date) -> str:
        """Why ``day`` is or is not worked, for an administrator checking the calendar."""
        entered = self.days.get(day)
        if entered is not None:
            return "entered: working day" if entered else "entered: day off"
        name = _vietnam().get(day)
        if name:
            return f"holiday: {name}"
        working = bool(_vietnam().is_working_day(day))
        if day.weekday() >= 5:
            return (
                "working day: a weekend day swapped by the holiday rules" if working else "weekend"
            )
        return "working day" if working else "day off"

    def add_working_days(self, start: date, days: int) -> date:
        """The ``days``-th working day after ``start`` (``start`` itself does not count).

        A dossier received on Friday with a 1-day limit is due on Monday; one received
        the Friday before Tết is due on the first working day after the holiday.
        """
        if days < 0:
            raise ValueError("days must not be negative")
        day, left = start, days
        for _ in range(_SEARCH_DAYS):
            if left == 0:
                return day
            day += timedelta(days=1)
            if self.is_working_day(day):
                left -= 1
        raise ValueError("no working day found within ten years: check the calendar")

    def working_days_between(self, start: date, end: date) -> int:
        """Working days after ``start`` up to and including ``end`` (0 when end <= start)."""
        count, day = 0, start
        while day < end:
            day += timedelta(days=1)
            count += self.is_working_day(day)
        return count

    # -- hours ------------------------------------------------------------------------

    @property
    def day_length(self) -> timedelta:
        """The working time of one working day: the sum of its sessions."""
        return sum((s.length for s in self.sessions), timedelta())

    def duration_of(self, days: Decimal | int) -> timedelta:
        """A time limit of ``days`` working days (a share such as 0.25 allowed) as time."""
        return timedelta(seconds=float(Decimal(days) * Decimal(self.day_length.total_seconds())))

    def add_working_time(self, moment: datetime, duration: timedelta) -> datetime:
        """The moment ``duration`` of working time after ``moment``.

        Counting starts at ``moment`` if it is within a session, else at the next
        session; a deadline that falls at the end of a session stays there (11:30, not
        13:30). The result is in Vietnam's time zone.
        """
        if moment.tzinfo is None:
            raise ValueError("moment must be timezone-aware")
        if duration < timedelta():
            raise ValueError("duration must not be negative")
        cursor = moment.astimezone(VIETNAM_TZ)
        left = duration
        day = cursor.date()
        for _ in range(_SEARCH_DAYS):
            if self.is_working_day(day):
                for session in self.sessions:
                    start, end = _at(day, session.start), _at(day, session.end)
                    if cursor >= end:
                        continue
                    begin = max(cursor, start)
                    if left <= end - begin:
                        return begin + left
                    left -= end - begin
                    cursor = end
            day += timedelta(days=1)
            cursor = max(cursor, _at(day, time.min))
        raise ValueError("no working time found within ten years: check the calendar")

    def deadline(self, received_at: datetime, days: Decimal | int) -> datetime:
        """The moment a time limit of ``days`` working days from ``received_at`` ends."""
        return self.add_working_time(received_at, self.duration_of(days))

    def working_time_between(self, start: datetime, end: datetime) -> timedelta:
        """Working time from ``start`` to ``end`` (zero when end <= start): how long a
        pause stopped the clock."""
        if end <= start:
            return timedelta()
        begin, finish = start.astimezone(VIETNAM_TZ), end.astimezone(VIETNAM_TZ)
        total, day = timedelta(), begin.date()
        while day <= finish.date():
            if self.is_working_day(day):
                for session in self.sessions:
                    low = max(begin, _at(day, session.start))
                    high = min(finish, _at(day, session.end))
                    if high > low:
                        total += high - low
            day += timedelta(days=1)
        return total

    def next_working_moment(self, moment: datetime) -> datetime:
        """``moment`` if it is within a session, else the start of the next session."""
        return self.add_working_time(moment, timedelta())


def _at(day: date, clock: time) -> datetime:
    return datetime.combine(day, clock, tzinfo=VIETNAM_TZ)


# The base calendar, with no entered days and the default sessions: what a computation
# uses that has no store to read the province's calendar from.
BASE = WorkingCalendar()


def is_working_day(day: date) -> bool:
    return BASE.is_working_day(day)


def add_working_days(start: date, days: int) -> date:
    return BASE.add_working_days(start, days)


def working_days_between(start: date, end: date) -> int:
    return BASE.working_days_between(start, end)
