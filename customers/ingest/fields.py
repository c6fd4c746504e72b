"""Parsers for one field of an incoming record: the one place that decides what a value may
look like, shared by every way data comes in (the ingest API, Segment, the CSV import).

Each takes the raw value and the field's name and returns the value to store, or raises
:class:`ItemError` naming the field, so every caller refuses the same input with the same
words. API values are JSON (strings, numbers, booleans, null); CSV cells are strings. Each
parser accepts both where both make sense: ``"true"`` and ``true``, ``"12"`` and ``12``,
``"99.50"`` and ``99.5``. The CSV import calls these parsers only for non-empty cells (an empty
cell leaves the stored value alone) and turns an ItemError into a row problem in its column.

The rules, with their reasons, are listed in docs/domain/input-rules.md; the windows below
are named so that document and the code say the same thing.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from decimal import Decimal
from typing import Any

import orjson
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db.models import TextChoices
from django.utils import timezone

from core.parsing import ascii_int
from customers.ingest.results import ItemError
from customers.models import MRR_LIMIT, Locale

# --- windows: times and dates outside these are typing mistakes or placeholders -------------

# Events, revenue changes and ticket times: nothing of Tenure's customers happened before
# 1990, and a clock may run a little ahead, but not by more than a day. An event dated
# 9999-12-31 would otherwise hold an account's last activity in year 9999 for good.
EARLIEST_MOMENT = dt.datetime(1990, 1, 1, tzinfo=dt.UTC)
FUTURE_SLACK = dt.timedelta(days=1)
# Renewal dates: from 1990 to ten years ahead (contracts run at most a few years; 0001-01-01
# and 9999-12-31 are "unknown" written as a date).
EARLIEST_RENEWAL = dt.date(1990, 1, 1)
RENEWAL_YEARS_AHEAD = 10
# Birthdays: from 1900 up to today.
EARLIEST_BIRTHDAY = dt.date(1900, 1, 1)

MAX_ID_LENGTH = 255
MAX_EMAIL_LENGTH = 254
MAX_DOMAIN_LENGTH = 255
CENT = Decimal("0.01")

TRUE_WORDS = frozenset({"true", "yes", "y", "1", "t"})
FALSE_WORDS = frozenset({"false", "no", "n", "0", "f"})
# A plain decimal: ASCII digits, at most two after a dot. No exponent, no underscores, no
# thousands separators, no currency sign: anything else is a guess about what was meant.
_AMOUNT = re.compile(r"-?[0-9]+(\.[0-9]{1,2})?")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_CURRENCY = re.compile(r"[A-Za-z]{3}")
# orjson reads an integer beyond 64 bits as a float (1e+30); 19 digits may already not fit.
_LONG_INTEGER = re.compile(rb"[0-9]{19,}")

TIMESTAMP_EXAMPLE = "2025-05-01T12:00:00Z"
DATE_EXAMPLE = "2025-01-31"


def quoted(value: Any, limit: int = 40) -> str:
    """A value as the error shows it: its repr, cut short."""
    return repr(value[:limit] if isinstance(value, str) else value)


def today() -> dt.date:
    return timezone.now().astimezone(dt.UTC).date()


# --- text -------------------------------------------------------------------------------------


def no_nul(value: str, field: str) -> str:
    if "\x00" in value:
        raise ItemError(field, "must not contain NUL characters")
    return value


def _too_long(value: str, max_length: int) -> str:
    return f"is {len(value)} characters long; at most {max_length} fit"


def external_id(value: Any, field: str) -> str:
    """External ids are the sender's own: strings (or whole numbers), kept verbatim."""
    if isinstance(value, str):
        text = value
    elif isinstance(value, int) and not isinstance(value, bool):
        text = str(value)
    elif value is None:
        raise ItemError(field, "is required")
    else:
        raise ItemError(field, "must be a string")
    if not text.strip():
        raise ItemError(field, "is required")
    if len(text) > MAX_ID_LENGTH:
        raise ItemError(field, _too_long(text, MAX_ID_LENGTH))
    return no_nul(text, field)


def optional_external_id(value: Any, field: str) -> str | None:
    return None if value is None or value == "" else external_id(value, field)


def text(value: Any, field: str, *, max_length: int, required: bool = False) -> str:
    """Free text, trimmed; null clears it unless it is required."""
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise ItemError(field, "must be a string")
    value = value.strip()
    if required and not value:
        raise ItemError(field, "cannot be empty")
    if len(value) > max_length:
        raise ItemError(field, _too_long(value, max_length))
    return no_nul(value, field)


def email(value: Any, field: str) -> str:
    """An email address, lower-cased: addresses are matched case-insensitively everywhere in
    Tenure (owners by Lower(email), a user's email is unique ignoring case, survey mail goes
    to the address whatever its case), so one spelling is stored whichever way it came in.
    Empty (or null) clears it."""
    address = text(value, field, max_length=MAX_EMAIL_LENGTH).lower()
    if address:
        try:
            validate_email(address)
        except ValidationError:
            raise ItemError(field, f"{quoted(address, 60)} is not an email address") from None
    return address


def domain(value: Any, field: str) -> str:
    """A bare domain, lower-cased; a pasted URL's scheme and trailing slash are dropped.
    Null or empty clears it."""
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise ItemError(field, "must be a string")
    given = value.strip()
    name = given.lower().removeprefix("https://").removeprefix("http://").rstrip("/")
    if not given:
        return ""
    if not name or any(char.isspace() for char in name) or "/" in name:
        raise ItemError(field, f"{quoted(given)} is not a domain such as example.com")
    if len(name) > MAX_DOMAIN_LENGTH:
        raise ItemError(field, _too_long(name, MAX_DOMAIN_LENGTH))
    return no_nul(name, field)


# --- times and dates ----------------------------------------------------------------------------


def moment(value: Any, field: str) -> dt.datetime:
    """An ISO 8601 timestamp with its offset, as UTC; a bare date is midnight UTC. A date-time
    without an offset is refused rather than guessed: an hour's error moves events across days
    in the rollups. Within EARLIEST_MOMENT and FUTURE_SLACK from now."""
    if not isinstance(value, str) or not value.strip():
        raise ItemError(field, f"is required as an ISO 8601 timestamp, e.g. {TIMESTAMP_EXAMPLE}")
    value = value.strip()
    try:
        if not value.isascii():
            raise ValueError
        if _DATE.fullmatch(value):
            return _in_window(
                dt.datetime.combine(dt.date.fromisoformat(value), dt.time(), tzinfo=dt.UTC),
                value,
                field,
            )
        if not _DATE.match(value):
            raise ValueError
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        raise ItemError(
            field,
            f"{quoted(value)} is not a date or an ISO 8601 timestamp, e.g. {TIMESTAMP_EXAMPLE}",
        ) from None
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise ItemError(field, f"must carry a timezone offset, e.g. {TIMESTAMP_EXAMPLE}")
    try:
        utc = parsed.astimezone(dt.UTC)
    except OverflowError:  # e.g. 9999-12-31T23:00:00-05:00 is past the last representable day
        raise ItemError(field, f"{quoted(value)} is outside the calendar's range in UTC") from None
    return _in_window(utc, value, field)


def _in_window(utc: dt.datetime, value: str, field: str) -> dt.datetime:
    if utc < EARLIEST_MOMENT:
        raise ItemError(
            field, f"{quoted(value)} is before {EARLIEST_MOMENT:%Y-%m-%d}, the earliest accepted"
        )
    if utc > timezone.now() + FUTURE_SLACK:
        raise ItemError(field, f"{quoted(value)} is more than a day in the future")
    return utc


def optional_moment(value: Any, field: str) -> dt.datetime | None:
    return None if value is None or value == "" else moment(value, field)


def date(
    value: Any, field: str, *, earliest: dt.date | None = None, latest: dt.date | None = None
) -> dt.date | None:
    """A calendar date, YYYY-MM-DD (the date part of an ISO date-time is taken too, as
    Segment sends birthdays); null or empty clears it. ``earliest``/``latest`` bound it."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ItemError(field, f"must be a date like {DATE_EXAMPLE}")
    cell = value.strip()
    head = cell[:10] if "T" in cell[10:11] else cell
    try:
        if not (cell.isascii() and _DATE.fullmatch(head)):
            raise ValueError
        day = dt.date.fromisoformat(head)
    except ValueError:
        raise ItemError(
            field, f"{quoted(value)} is not a date; use YYYY-MM-DD, e.g. {DATE_EXAMPLE}"
        ) from None
    if (earliest and day < earliest) or (latest and day > latest):
        window = f"from {earliest or 'any date'} to {latest or 'any date'}"
        raise ItemError(field, f"{quoted(value)} is outside the dates accepted, {window}")
    return day


def _years_ahead(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def renewal_date(value: Any, field: str) -> dt.date | None:
    latest = _years_ahead(today(), RENEWAL_YEARS_AHEAD)
    return date(value, field, earliest=EARLIEST_RENEWAL, latest=latest)


def birthday(value: Any, field: str) -> dt.date | None:
    return date(value, field, earliest=EARLIEST_BIRTHDAY, latest=today())


# --- choices --------------------------------------------------------------------------------


def choice(value: Any, field: str, choices: type[TextChoices], what: str) -> str:
    """A choice's value or its label, in any case (``Onboarding``, ``onboarding``)."""
    if isinstance(value, str):
        wanted = value.strip().lower().replace("_", "-")
        for stored, label in choices.choices:
            if wanted in (stored.lower(), str(label).lower()):
                return stored
    raise ItemError(
        field, f"{quoted(value)} is not a known {what}; use one of {', '.join(choices.values)}"
    )


def locale(value: Any, field: str) -> str:
    """Tenure's languages, by tag or name; a regional tag such as nb-NO or zh-Hans-CN finds
    its language."""
    if isinstance(value, str):
        tag = value.strip().lower().replace("_", "-")
        for candidate in (tag, tag[:7], tag.split("-")[0]):
            if candidate in Locale.values:
                return candidate
        for stored, label in Locale.choices:
            if tag == str(label).lower():
                return stored
        if tag.startswith("zh"):
            return Locale.ZH_HANS
        if tag in ("no", "nn") or tag.startswith(("no-", "nn-")):
            return Locale.NB
    raise ItemError(
        field, f"{quoted(value, 20)} is not a known language; use one of {', '.join(Locale.values)}"
    )


def currency(value: Any, field: str) -> str:
    if not isinstance(value, str) or not _CURRENCY.fullmatch(value.strip()):
        raise ItemError(
            field, f"{quoted(value)} is not a three-letter currency code such as USD or EUR"
        )
    return value.strip().upper()


# --- numbers and yes/no -----------------------------------------------------------------------


def boolean(value: Any, field: str) -> bool:
    """JSON true/false, or the words a spreadsheet holds: true/false, yes/no, y/n, t/f, 1/0."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        word = value.strip().lower()
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
    raise ItemError(field, f"{quoted(value)} is not true or false (yes/no and 1/0 work too)")


def whole(value: Any, field: str, *, low: int, high: int) -> int | None:
    """A whole number in ASCII digits, as a JSON number or a string; null or empty clears."""
    if value is None or value == "":
        return None
    number = ascii_int(value)
    if number is None or not low <= number <= high:
        raise ItemError(field, f"must be a whole number from {low} to {high}")
    return number


def card_year(value: Any, field: str) -> int | None:
    year = whole(value, field, low=0, high=2100)
    if year is not None and year < 100:
        year += 2000  # billing systems often send 27 for 2027
    if year is not None and year < 2000:
        raise ItemError(field, "must be a year such as 2027")
    return year


def amount(value: Any, field: str) -> Decimal:
    """Money as a plain decimal with at most two places, from a JSON number or a string:
    ``99.5``, ``"1499.50"``. An amount with more places is refused rather than rounded (0.001
    would be stored as 0.00, a cancellation), and so are ``1_000``, ``1e3``, ``1,000``."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ItemError(field, 'must be a number or a decimal string such as "99.50"')
    cell = value.strip() if isinstance(value, str) else repr(value)
    if not _AMOUNT.fullmatch(cell):
        raise ItemError(
            field,
            f"{quoted(cell, 30)} is not an amount; write digits with at most two decimals "
            "after a dot, e.g. 1499.50",
        )
    number = Decimal(cell)
    if number < 0:
        raise ItemError(field, f"cannot be negative (got {cell[:30]})")
    if number >= MRR_LIMIT:
        raise ItemError(field, f"must be below {MRR_LIMIT:,}")
    return number.quantize(CENT)  # exact: at most two places


# --- JSON -------------------------------------------------------------------------------------


def json_loads(body: bytes) -> Any:
    """A request body as Python values, integers kept exact whatever their size: orjson
    checks and reads it, and a body with an integer too long for 64 bits (which orjson would
    turn into a float, 1e+30) is read again by the standard library, which keeps it an int.
    Raises ``orjson.JSONDecodeError``."""
    data = orjson.loads(body)
    if _LONG_INTEGER.search(body):
        try:
            return json.loads(body)
        except ValueError as error:  # past Python's 4300-digit limit for int()
            raise orjson.JSONDecodeError(str(error), body.decode(errors="replace"), 0) from None
    return data


def json_text(value: dict, field: str) -> str:
    """The JSON text of a mapping, refused when PostgreSQL's jsonb could not store it.
    Integers beyond 64 bits are written exactly (the standard library's encoder)."""
    try:
        text = orjson.dumps(value).decode()
    except TypeError as error:
        if "Integer exceeds" not in str(error):
            raise ItemError(field, f"cannot be stored as JSON ({error})") from None
        try:
            text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
        except (TypeError, ValueError) as error:
            raise ItemError(field, f"cannot be stored as JSON ({error})") from None
    if "\\u0000" in text:
        raise ItemError(field, "must not contain NUL characters")
    return text


def mapping(value: Any, field: str) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ItemError(field, "must be an object")
    return value


def checked_json(value: Any, field: str) -> dict:
    checked = mapping(value, field)
    json_text(checked, field)
    return checked


def item(raw: Any) -> dict:
    if not isinstance(raw, dict):
        raise ItemError("item", "must be a JSON object")
    return raw


def source_label(source: str) -> str:
    source = (source or "").strip()
    if not source or len(source) > 40:
        raise ValueError("source must be 1–40 characters")
    return source
