"""Parsers for one field of an incoming record, shared by every way data comes in.

Each takes the raw value and the field's name and returns the stored value, or raises
:class:`ItemError` naming the field, so every caller (API, Segment, CSV) refuses the same
input with the same words.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

import orjson
from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from customers.ingest.results import ItemError
from customers.models import MRR_LIMIT, Locale


def no_nul(value: str, field: str) -> str:
    if "\x00" in value:
        raise ItemError(field, "must not contain NUL characters")
    return value


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
    if len(text) > 255:
        raise ItemError(field, "is longer than 255 characters")
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
        raise ItemError(field, f"is longer than {max_length} characters")
    return no_nul(value, field)


def moment(value: Any, field: str) -> dt.datetime:
    """An ISO 8601 timestamp with its offset, as UTC. A naive time is refused rather than
    guessed: an hour's error moves events across days in the rollups."""
    if not isinstance(value, str) or not value:
        raise ItemError(field, "is required as an ISO 8601 timestamp, e.g. 2025-05-01T12:00:00Z")
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise ItemError(
            field, f"{value[:40]!r} is not an ISO 8601 timestamp, e.g. 2025-05-01T12:00:00Z"
        ) from None
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ItemError(field, "must carry a timezone offset, e.g. 2025-05-01T12:00:00Z")
    try:
        return moment.astimezone(dt.UTC)
    except OverflowError:  # e.g. 9999-12-31T23:00:00-05:00 is past the last representable day
        raise ItemError(field, f"{value[:40]!r} is outside the calendar's range in UTC") from None


def optional_moment(value: Any, field: str) -> dt.datetime | None:
    return None if value is None else moment(value, field)


def date(value: Any, field: str) -> dt.date | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ItemError(field, "must be a date like 2025-12-31")
    try:
        return dt.date.fromisoformat(value[:10] if "T" in value else value)
    except ValueError:
        raise ItemError(field, f"{value[:40]!r} is not a date like 2025-12-31") from None


def mapping(value: Any, field: str) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ItemError(field, "must be an object")
    return value


def json_text(value: dict, field: str) -> str:
    """The JSON text of a mapping, refused when PostgreSQL's jsonb could not store it."""
    try:
        text = orjson.dumps(value)
    except TypeError as error:
        raise ItemError(field, f"cannot be stored as JSON ({error})") from None
    if b"\\u0000" in text:
        raise ItemError(field, "must not contain NUL characters")
    return text.decode()


def checked_json(value: Any, field: str) -> dict:
    checked = mapping(value, field)
    json_text(checked, field)
    return checked


def choice(value: Any, field: str, choices: Sequence[str]) -> str:
    if not isinstance(value, str) or value.lower() not in choices:
        raise ItemError(field, f"must be one of {', '.join(choices)}")
    return value.lower()


def locale(value: Any, field: str) -> str:
    """Tenure's languages; a regional tag such as nb-NO or zh-Hans-CN finds its language."""
    if not isinstance(value, str):
        raise ItemError(field, f"must be one of {', '.join(Locale.values)}")
    tag = value.strip().lower().replace("_", "-")
    for candidate in (tag, tag[:7], tag.split("-")[0]):
        if candidate in Locale.values:
            return candidate
    if tag.startswith("zh"):
        return Locale.ZH_HANS
    if tag in ("no", "nn") or tag.startswith(("no-", "nn-")):
        return Locale.NB
    raise ItemError(
        field, f"{value[:20]!r} is not supported; use one of {', '.join(Locale.values)}"
    )


def email(value: Any, field: str) -> str:
    address = text(value, field, max_length=254)
    if address:
        try:
            validate_email(address)
        except ValidationError:
            raise ItemError(field, f"{address[:60]!r} is not an email address") from None
    return address


def boolean(value: Any, field: str) -> bool:
    if not isinstance(value, bool):
        raise ItemError(field, "must be true or false")
    return value


def whole(value: Any, field: str, *, low: int, high: int) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise ItemError(field, f"must be a whole number from {low} to {high}")
    return value


def card_year(value: Any, field: str) -> int | None:
    year = whole(value, field, low=0, high=2100)
    if year is not None and year < 100:
        year += 2000  # billing systems often send 27 for 2027
    if year is not None and year < 2000:
        raise ItemError(field, "must be a year such as 2027")
    return year


def amount(value: Any, field: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ItemError(field, 'must be a number or a decimal string such as "99.50"')
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        raise ItemError(field, f"{str(value)[:30]!r} is not a number") from None
    if not amount.is_finite():
        raise ItemError(field, "must be a finite number")
    if amount.copy_abs() >= MRR_LIMIT:  # exact: abs() and rounding overflow on 1e999999999
        raise ItemError(field, f"must be below {MRR_LIMIT:,}")
    return amount


def currency(value: Any, field: str) -> str:
    if not isinstance(value, str) or len(value.strip()) != 3 or not value.strip().isalpha():
        raise ItemError(field, "must be a three-letter ISO 4217 code such as EUR")
    return value.strip().upper()


def item(raw: Any) -> dict:
    if not isinstance(raw, dict):
        raise ItemError("item", "must be a JSON object")
    return raw


def source_label(source: str) -> str:
    source = (source or "").strip()
    if not source or len(source) > 40:
        raise ValueError("source must be 1–40 characters")
    return source
