"""Working days in Vietnam: weekends, public holidays (Tết included) and swapped days.

The holiday list comes from the maintained ``holidays`` library, which also knows the
government's swaps (a Saturday made a working day in exchange for a bridge day off).
"""

from __future__ import annotations

from datetime import date, datetime
from functools import cache
from zoneinfo import ZoneInfo

import holidays

VIETNAM_TZ = ZoneInfo("Asia/Ho_Chi_Minh")


@cache
def _vietnam() -> holidays.HolidayBase:
    return holidays.country_holidays("VN")


def local_date(moment: datetime) -> date:
    """The calendar date in Vietnam of a timezone-aware moment."""
    if moment.tzinfo is None:
        raise ValueError("moment must be timezone-aware")
    return moment.astimezone(VIETNAM_TZ).date()


def is_working_day(day: date) -> bool:
    return bool(_vietnam().is_working_day(day))


def add_working_days(start: date, days: int) -> date:
    """The ``days``-th working day after ``start`` (``start`` itself does not count).

    A dossier received on Friday with a 1-day limit is due on Monday; one received
    the Friday before Tết is due on the first working day after the holiday.
    """
    if days < 0:
        raise ValueError("days must not be negative")
    if days == 0:
        return start
    result: date = _vietnam().get_nth_working_day(start, days)
    return result


def working_days_between(start: date, end: date) -> int:
    """Working days after ``start`` up to and including ``end`` (0 when end <= start)."""
    if end <= start:
        return 0
    count: int = _vietnam().get_working_days_count(start, end)
    return count - (1 if is_working_day(start) else 0)
