"""The periods reports are filed for: a month, a quarter, a half-year, a year, or dates.

A period is a range of Vietnam-local days, first to last inclusive; as moments it runs
from local midnight of its first day up to (not including) local midnight after its
last, in the facts' UTC text form (``facts.instant``) so that the reports' SQL compares
text with text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from motcua.core.calendar import VIETNAM_TZ
from motcua.core.errors import Invalid
from services.stats.facts import instant

FORMATS = "YYYY-MM (month), YYYY-Qn (quarter), YYYY-Hn (half-year), YYYY (year)"
_PATTERN = re.compile(r"^(\d{4})(?:-(?:(\d{2})|Q([1-4])|H([12])))?$")


class PeriodError(Invalid):
    """A period that cannot be read or reported on: the message says what was expected
    (an HTTP 422 with it)."""


@dataclass(frozen=True)
class Period:
    label: str
    first: date
    last: date

    @property
    def start(self) -> str:
        """Local midnight of the first day, as ``instant`` text."""
        return _midnight(self.first)

    @property
    def end(self) -> str:
        """Local midnight after the last day (excluded), as ``instant`` text."""
        return _midnight(self.last + timedelta(days=1))


def _midnight(day: date) -> str:
    return instant(datetime.combine(day, time(), VIETNAM_TZ))


def parse_period(period: str | None, first: date | None = None, last: date | None = None) -> Period:
    """``period`` in one of ``FORMATS``, or the dates ``first`` to ``last`` (both given)."""
    if period is not None:
        if first is not None or last is not None:
            raise PeriodError("give either period or from and to, not both")
        return _named(period.strip())
    if first is None or last is None:
        raise PeriodError(f"give period ({FORMATS}) or both from and to (YYYY-MM-DD)")
    if last < first:
        raise PeriodError(f"to ({last}) is before from ({first})")
    for name, day in (("from", first), ("to", last)):
        if not 2000 <= day.year <= 2100:
            raise PeriodError(f"{name} ({day}) is outside the years 2000-2100")
    return Period(f"{first.isoformat()}..{last.isoformat()}", first, last)


def _named(text: str) -> Period:
    match = _PATTERN.match(text)
    if match is None:
        raise PeriodError(f"unknown period {text!r}: expected {FORMATS}")
    year, month, quarter, half = match.groups()
    y = int(year)
    if not 2000 <= y <= 2100:
        raise PeriodError(f"year {y} is outside 2000-2100")
    if month is not None:
        m = int(month)
        if not 1 <= m <= 12:
            raise PeriodError(f"unknown month {month} in {text!r}")
        return Period(text, date(y, m, 1), _month_end(y, m))
    if quarter is not None:
        q = int(quarter)
        return Period(text, date(y, 3 * q - 2, 1), _month_end(y, 3 * q))
    if half is not None:
        h = int(half)
        return Period(text, date(y, 6 * h - 5, 1), _month_end(y, 6 * h))
    return Period(text, date(y, 1, 1), date(y, 12, 31))


def _month_end(year: int, month: int) -> date:
    following = date(year + month // 12, month % 12 + 1, 1)
    return following - timedelta(days=1)
