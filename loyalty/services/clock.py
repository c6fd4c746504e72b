"""Calendar arithmetic the program's rules need (no dateutil dependency for one function)."""

from __future__ import annotations

import calendar
import datetime as dt

from loyalty.models import ExpiryPolicy, LoyaltyProgram, TierWindow


def add_months(when: dt.datetime, months: int) -> dt.datetime:
    """``when`` moved by whole calendar months; a day the target month lacks becomes its last
    day (29 Feb + 12 months = 28 Feb)."""
    index = when.month - 1 + months
    year, month = when.year + index // 12, index % 12 + 1
    return when.replace(
        year=year, month=month, day=min(when.day, calendar.monthrange(year, month)[1])
    )


def lot_expiry(program: LoyaltyProgram, activates_at: dt.datetime) -> dt.datetime | None:
    """When points that become spendable at ``activates_at`` lapse. Counted from activation so
    a pending period never eats into their life."""
    if program.expiry_policy == ExpiryPolicy.NEVER:
        return None
    return add_months(activates_at, program.expiry_months)


def window_start(program: LoyaltyProgram, now: dt.datetime) -> dt.datetime:
    """The start of the tier window that ends at ``now`` (inclusive)."""
    if program.tier_window == TierWindow.CALENDAR_YEAR:
        return dt.datetime(now.year, 1, 1, tzinfo=dt.UTC)
    return add_months(now, -12)


def previous_window_start(program: LoyaltyProgram, now: dt.datetime) -> dt.datetime:
    """Calendar windows: the start of last year, whose points still keep a tier through the
    grace period after the year ends. Rolling windows have no previous window."""
    if program.tier_window == TierWindow.CALENDAR_YEAR:
        return dt.datetime(now.year - 1, 1, 1, tzinfo=dt.UTC)
    return window_start(program, now)


def next_review(program: LoyaltyProgram, now: dt.datetime) -> dt.datetime:
    """When a tier (re)qualified at ``now`` may next be lowered: the end of its window plus
    the grace days. Rolling: 12 months after qualifying. Calendar: the next 1 January."""
    grace = dt.timedelta(days=program.downgrade_grace_days)
    if program.tier_window == TierWindow.CALENDAR_YEAR:
        return dt.datetime(now.year + 1, 1, 1, tzinfo=dt.UTC) + grace
    return add_months(now, 12) + grace
