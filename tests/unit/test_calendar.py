"""Working days in Vietnam (motcua/core/calendar.py): weekends, holidays, Tết and swapped days."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from motcua.core.calendar import add_working_days, is_working_day, local_date, working_days_between

FRIDAY = date(2026, 3, 6)
MONDAY_AFTER = date(2026, 3, 9)
FRIDAY_BEFORE_TET_2026 = date(2026, 2, 13)
FIRST_WORKING_DAY_AFTER_TET_2026 = date(2026, 2, 23)
SWAPPED_SATURDAY_2026 = date(2026, 8, 22)
NATIONAL_DAY_2026 = date(2026, 9, 2)


def test_friday_plus_one_working_day_is_the_next_monday() -> None:
    start = FRIDAY

    due = add_working_days(start, 1)

    assert due == MONDAY_AFTER
    assert due.weekday() == 0


def test_dossier_received_friday_before_tet_is_due_after_the_holiday() -> None:
    received = FRIDAY_BEFORE_TET_2026

    due = add_working_days(received, 1)

    assert due == FIRST_WORKING_DAY_AFTER_TET_2026


def test_weekdays_of_tet_2026_are_not_working_days() -> None:
    tet_weekdays = [date(2026, 2, day) for day in range(16, 21)]

    working = [day for day in tet_weekdays if is_working_day(day)]

    assert working == []


def test_saturday_swapped_into_a_working_day_is_a_working_day() -> None:
    day = SWAPPED_SATURDAY_2026

    working = is_working_day(day)

    assert day.weekday() == 5
    assert working is True


def test_an_ordinary_saturday_is_not_a_working_day() -> None:
    day = date(2026, 3, 7)

    working = is_working_day(day)

    assert day.weekday() == 5
    assert working is False


def test_national_day_is_not_a_working_day() -> None:
    day = NATIONAL_DAY_2026

    working = is_working_day(day)

    assert day.weekday() == 2
    assert working is False


def test_friday_before_swapped_saturday_plus_one_working_day_is_that_saturday() -> None:
    start = date(2026, 8, 21)

    due = add_working_days(start, 1)

    assert due == SWAPPED_SATURDAY_2026


def test_adding_zero_working_days_returns_the_same_date() -> None:
    start = date(2026, 3, 7)

    due = add_working_days(start, 0)

    assert due == start


def test_adding_negative_working_days_is_refused() -> None:
    start = FRIDAY

    with pytest.raises(ValueError, match="must not be negative"):
        add_working_days(start, -1)


def test_working_days_between_does_not_count_the_start_day() -> None:
    start, end = FRIDAY, date(2026, 3, 13)

    count = working_days_between(start, end)

    assert count == 5


def test_working_days_between_friday_before_tet_and_first_day_after_is_one() -> None:
    start, end = FRIDAY_BEFORE_TET_2026, FIRST_WORKING_DAY_AFTER_TET_2026

    count = working_days_between(start, end)

    assert count == 1


def test_working_days_between_is_zero_when_end_is_not_after_start() -> None:
    start = MONDAY_AFTER

    counts = (working_days_between(start, start), working_days_between(start, FRIDAY))

    assert counts == (0, 0)


@pytest.mark.parametrize(
    "start",
    [FRIDAY, date(2026, 3, 7), FRIDAY_BEFORE_TET_2026, date(2026, 2, 17), date(2026, 8, 21)],
)
@pytest.mark.parametrize("days", [1, 3, 10])
def test_working_days_between_counts_back_what_add_working_days_added(
    start: date, days: int
) -> None:
    due = add_working_days(start, days)

    count = working_days_between(start, due)

    assert count == days


def test_local_date_of_utc_evening_is_the_next_day_in_vietnam() -> None:
    moment = datetime(2026, 1, 1, 18, 0, tzinfo=UTC)

    day = local_date(moment)

    assert day == date(2026, 1, 2)


def test_local_date_refuses_a_naive_datetime() -> None:
    naive = datetime(2026, 1, 1, 18, 0)  # noqa: DTZ001 - naive on purpose

    with pytest.raises(ValueError, match="timezone-aware"):
        local_date(naive)
