"""Working time (motcua/core/calendar.py): time limits in office hours over the calendar
the government announces, with dates checked by hand against the official calendar.

The sessions are the default 7:30–11:30 and 13:30–17:00 (7.5 hours a working day).
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import Decimal
from types import MappingProxyType

import pytest

from motcua.core.calendar import BASE, VIETNAM_TZ, Session, WorkingCalendar

# Announced on 25/12/2025: the public sector is off Friday 2 January 2026 and works
# Saturday 10 January instead, for a four-day New Year break (1–4 January).
NEW_YEAR_SWAP_2026 = WorkingCalendar(
    days=MappingProxyType({date(2026, 1, 2): False, date(2026, 1, 10): True}), version=2
)


def at(year: int, month: int, day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=VIETNAM_TZ)


def test_new_year_2026_five_days_from_the_afternoon_of_31_december_end_on_9_january() -> None:
    received = at(2025, 12, 31, 16)

    due = NEW_YEAR_SWAP_2026.deadline(received, 5)

    # 31/12: 1 h; 1/1 holiday; 2/1 swapped off; 3–4/1 weekend; 5–8/1: 30 h; 9/1: 6.5 h.
    assert due == at(2026, 1, 9, 16)


def test_without_the_swap_the_same_dossier_would_be_due_a_day_early() -> None:
    received = at(2025, 12, 31, 16)

    due = BASE.deadline(received, 5)

    assert due == at(2026, 1, 8, 16)


def test_the_saturday_worked_in_exchange_counts_as_a_working_day() -> None:
    received = at(2026, 1, 7, 9)

    due = NEW_YEAR_SWAP_2026.deadline(received, 3)

    assert due == at(2026, 1, 10, 9)
    assert due.weekday() == 5


def test_a_quarter_day_step_received_in_the_morning_is_due_the_same_morning() -> None:
    received = at(2026, 3, 9, 8)

    due = BASE.deadline(received, Decimal("0.25"))

    assert due == at(2026, 3, 9, 9, 52, 30)


def test_a_dossier_received_after_the_last_session_counts_from_the_next_morning() -> None:
    received = at(2026, 3, 9, 17, 30)

    due = BASE.deadline(received, 1)

    assert due == at(2026, 3, 10, 17)


def test_a_deadline_at_the_end_of_a_session_stays_there() -> None:
    received = at(2026, 3, 9, 12)  # lunch: counting starts at 13:30

    due = BASE.deadline(received, 1)

    assert due == at(2026, 3, 10, 11, 30)


def test_tet_2027_a_day_from_the_wednesday_before_ends_on_the_thursday_after() -> None:
    received = at(2027, 2, 3, 9)

    due = BASE.deadline(received, 1)

    # Tết Đinh Mùi: 29 Chạp (4/2) to mùng 5 (10/2) are not worked (Labor Code art. 112:
    # five days, those on the weekend given back on the weekdays after).
    assert [d for d in _days(date(2027, 2, 4), date(2027, 2, 10)) if BASE.is_working_day(d)] == []
    assert due == at(2027, 2, 11, 9)


def test_30_april_and_1_may_2026_thursday_and_friday() -> None:
    received = at(2026, 4, 29, 16)

    due = BASE.deadline(received, 1)

    assert due == at(2026, 5, 4, 16)


def test_30_april_and_1_may_2027_the_saturday_holiday_is_given_back_on_monday() -> None:
    received = at(2027, 4, 29, 16)

    due = BASE.deadline(received, 1)

    assert not BASE.is_working_day(date(2027, 5, 3))
    assert due == at(2027, 5, 4, 16)


def test_national_day_2026_monday_31_august_off_against_saturday_22_august() -> None:
    assert BASE.is_working_day(date(2026, 8, 22))

    due = BASE.deadline(at(2026, 8, 28, 16), 1)

    assert due == at(2026, 9, 3, 16)


def test_national_day_2027_thursday_and_friday() -> None:
    due = BASE.deadline(at(2027, 9, 1, 16), 1)

    assert due == at(2027, 9, 6, 16)


def test_entered_days_override_the_holiday_rules_both_ways() -> None:
    calendar = NEW_YEAR_SWAP_2026

    assert BASE.is_working_day(date(2026, 1, 2))
    assert not calendar.is_working_day(date(2026, 1, 2))
    assert not BASE.is_working_day(date(2026, 1, 10))
    assert calendar.is_working_day(date(2026, 1, 10))
    assert calendar.why(date(2026, 1, 2)) == "entered: day off"
    assert calendar.why(date(2026, 1, 1)).startswith("holiday: ")


def test_working_time_of_a_pause_counts_only_the_sessions() -> None:
    paused = BASE.working_time_between(at(2026, 3, 6, 16), at(2026, 3, 9, 9))

    assert paused == timedelta(hours=1, minutes=90)  # Friday 16–17, Monday 7:30–9:00


def test_the_province_s_own_sessions_set_the_length_of_a_day() -> None:
    calendar = WorkingCalendar(sessions=(Session(time(8), time(12)), Session(time(13), time(17))))

    due = calendar.deadline(at(2026, 3, 9, 8), Decimal("0.5"))

    assert calendar.day_length == timedelta(hours=8)
    assert due == at(2026, 3, 9, 12)


def test_overlapping_sessions_are_refused() -> None:
    with pytest.raises(ValueError, match="without overlapping"):
        WorkingCalendar(sessions=(Session(time(8), time(12)), Session(time(11), time(17))))


def test_a_session_that_ends_before_it_starts_is_refused() -> None:
    with pytest.raises(ValueError, match="ends after it starts"):
        Session(time(12), time(8))


def _days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]
