"""Calendar rules the earning engine needs and nothing else decides: when a birthday or a
tenure anniversary falls in a given year, and the bounds of a cap's period.

Pure functions of dates, so the edge cases (29 February, the turn of a month or year) are
tested without a database.
"""

from __future__ import annotations

import calendar
import datetime as dt


def yearly_date(origin: dt.date, year: int) -> dt.date:
    """``origin``'s day and month in ``year``. 29 February falls on 28 February in years
    without one: the person (or the account) is celebrated in the same month, never twice
    and never skipped."""
    if origin.month == 2 and origin.day == 29 and not calendar.isleap(year):
        return dt.date(year, 2, 28)
    return origin.replace(year=year)


def is_yearly_day(origin: dt.date, day: dt.date) -> bool:
    """``day`` is ``origin``'s birthday or anniversary (29 February: 28 February when the year
    has none)."""
    return yearly_date(origin, day.year) == day


def anniversary_years(start: dt.date, day: dt.date) -> int:
    """Whole years since ``start`` when ``day`` is one of its anniversaries, else 0 (also 0 on
    the start day itself: a first day is not an anniversary)."""
    if day.year <= start.year or not is_yearly_day(start, day):
        return 0
    return day.year - start.year


def period_bounds(period: str, at: dt.datetime) -> tuple[dt.datetime | None, dt.datetime | None]:
    """The [start, end) of the cap period that holds ``at``, in UTC; ``(None, None)`` for
    "lifetime". Weeks start on Monday."""
    at = at.astimezone(dt.UTC)
    day = at.date()
    if period in ("lifetime", ""):
        return None, None
    if period == "day":
        start = day
        end = day + dt.timedelta(days=1)
    elif period == "week":
        start = day - dt.timedelta(days=day.weekday())
        end = start + dt.timedelta(days=7)
    elif period == "month":
        start = day.replace(day=1)
        end = (start + dt.timedelta(days=32)).replace(day=1)
    elif period == "year":
        start = day.replace(month=1, day=1)
        end = start.replace(year=start.year + 1)
    else:
        raise ValueError(f"unknown cap period {period!r}")
    return (
        dt.datetime.combine(start, dt.time.min, tzinfo=dt.UTC),
        dt.datetime.combine(end, dt.time.min, tzinfo=dt.UTC),
    )


def month_bounds(year: int, month: int) -> tuple[dt.datetime, dt.datetime]:
    start = dt.datetime(year, month, 1, tzinfo=dt.UTC)
    end = (start + dt.timedelta(days=32)).replace(day=1)
    return start, end


def previous_month(day: dt.date) -> tuple[int, int]:
    first = day.replace(day=1) - dt.timedelta(days=1)
    return first.year, first.month
