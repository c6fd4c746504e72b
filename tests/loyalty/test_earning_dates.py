"""The calendar rules of earning: birthdays and anniversaries on 29 February, cap periods."""

from __future__ import annotations

import datetime as dt

import pytest

from loyalty.earning_dates import (
    anniversary_years,
    is_yearly_day,
    period_bounds,
    previous_month,
    yearly_date,
)


def utc(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=dt.UTC)


def test_a_29_february_birthday_falls_on_28_february_in_a_year_without_one():
    assert yearly_date(dt.date(1992, 2, 29), 2027) == dt.date(2027, 2, 28)
    assert is_yearly_day(dt.date(1992, 2, 29), dt.date(2027, 2, 28))
    assert not is_yearly_day(dt.date(1992, 2, 29), dt.date(2027, 3, 1))


def test_a_29_february_birthday_stays_on_29_february_in_a_leap_year():
    assert yearly_date(dt.date(1992, 2, 29), 2028) == dt.date(2028, 2, 29)
    assert not is_yearly_day(dt.date(1992, 2, 29), dt.date(2028, 2, 28))


def test_an_ordinary_28_february_birthday_is_not_moved():
    assert yearly_date(dt.date(1990, 2, 28), 2028) == dt.date(2028, 2, 28)


def test_anniversaries_count_whole_years_and_the_first_day_is_not_one():
    start = dt.date(2023, 6, 15)
    assert anniversary_years(start, dt.date(2023, 6, 15)) == 0
    assert anniversary_years(start, dt.date(2024, 6, 14)) == 0
    assert anniversary_years(start, dt.date(2024, 6, 15)) == 1
    assert anniversary_years(start, dt.date(2026, 6, 15)) == 3
    assert anniversary_years(dt.date(2024, 2, 29), dt.date(2025, 2, 28)) == 1


@pytest.mark.parametrize(
    ("period", "at", "start", "end"),
    [
        ("day", utc(2026, 12, 31, 23, 59), utc(2026, 12, 31), utc(2027, 1, 1)),
        ("week", utc(2026, 12, 5, 12), utc(2026, 11, 30), utc(2026, 12, 7)),
        ("month", utc(2026, 12, 31, 23), utc(2026, 12, 1), utc(2027, 1, 1)),
        ("month", utc(2028, 2, 29), utc(2028, 2, 1), utc(2028, 3, 1)),
        ("year", utc(2026, 1, 1), utc(2026, 1, 1), utc(2027, 1, 1)),
        ("lifetime", utc(2026, 1, 1), None, None),
    ],
)
def test_a_cap_period_holds_its_moment_with_the_start_in_and_the_end_out(period, at, start, end):
    assert period_bounds(period, at) == (start, end)


def test_the_previous_month_crosses_the_year():
    assert previous_month(dt.date(2027, 1, 10)) == (2026, 12)
    assert previous_month(dt.date(2026, 3, 1)) == (2026, 2)
