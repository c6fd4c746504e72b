"""Named periods for comparing scores: a month (``2026-11``), a quarter (``2026-Q4``) or a year
(``2026``), as typed in a URL, and the period right before one.

Pure: no database. A period is a half-open UTC window [start, end) so consecutive periods
neither overlap nor leave a gap.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

EARLIEST_YEAR = 1900
LATEST_YEAR = 2999
PERIOD_FORMAT_HELP = "Write a month (2026-11), a quarter (2026-Q4) or a year (2026)."

_MONTH = re.compile(r"^(\d{4})-(\d{1,2})$")
_QUARTER = re.compile(r"^(\d{4})-[Qq]([1-4])$")
_YEAR = re.compile(r"^(\d{4})$")


@dataclass(frozen=True)
class Window:
    """[start, end) in UTC; ``kind`` is month, quarter, year or days (any other span)."""

    label: str
    start: dt.datetime
    end: dt.datetime
    kind: str = "days"

    @property
    def key(self) -> str:
        """How the period is written in a URL (empty for a span of days)."""
        if self.kind == "month":
            return f"{self.start:%Y-%m}"
        if self.kind == "quarter":
            return f"{self.start.year}-Q{(self.start.month - 1) // 3 + 1}"
        if self.kind == "year":
            return f"{self.start.year}"
        return ""


def _utc(year: int, month: int) -> dt.datetime:
    return dt.datetime(year, month, 1, tzinfo=dt.UTC)


def _add_months(start: dt.datetime, months: int) -> dt.datetime:
    index = start.year * 12 + start.month - 1 + months
    return _utc(index // 12, index % 12 + 1)


def month(year: int, number: int) -> Window:
    start = _utc(year, number)
    return Window(f"{start:%b %Y}", start, _add_months(start, 1), "month")


def quarter(year: int, number: int) -> Window:
    start = _utc(year, 3 * (number - 1) + 1)
    return Window(f"Q{number} {year}", start, _add_months(start, 3), "quarter")


def year(number: int) -> Window:
    return Window(str(number), _utc(number, 1), _utc(number + 1, 1), "year")


def period_parse(text: str) -> Window:
    """The period a URL names. Raises ``ValueError`` with a message a person can act on."""
    text = (text or "").strip()
    for pattern, build in (
        (_MONTH, lambda m: ("month", int(m[1]), int(m[2]))),
        (_QUARTER, lambda m: ("quarter", int(m[1]), int(m[2]))),
        (_YEAR, lambda m: ("year", int(m[1]), 0)),
    ):
        match = pattern.match(text)
        if not match:
            continue
        kind, y, n = build(match)
        if not EARLIEST_YEAR <= y <= LATEST_YEAR:
            raise ValueError(f"Pick a year between {EARLIEST_YEAR} and {LATEST_YEAR}.")
        if kind == "month":
            if not 1 <= n <= 12:
                raise ValueError(f"“{text}” has no month {n}: months run 01 to 12.")
            return month(y, n)
        return quarter(y, n) if kind == "quarter" else year(y)
    raise ValueError(f"“{text[:40]}” is not a period. {PERIOD_FORMAT_HELP}")


def period_before(window: Window) -> Window:
    """The period of the same kind and length just before ``window``."""
    if window.kind == "month":
        start = _add_months(window.start, -1)
        return month(start.year, start.month)
    if window.kind == "quarter":
        start = _add_months(window.start, -3)
        return quarter(start.year, (start.month - 1) // 3 + 1)
    if window.kind == "year":
        return year(window.start.year - 1)
    span = window.end - window.start
    return days(window.start - span, window.start)


def days(start: dt.datetime, end: dt.datetime) -> Window:
    """A span of days, labelled by its first and last day (the end is exclusive)."""
    last = end - dt.timedelta(microseconds=1)
    return Window(f"{start:%d %b %Y} – {last:%d %b %Y}", start, end, "days")
