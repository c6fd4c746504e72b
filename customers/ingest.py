"""Bulk writes for data that flows in from a SaaS company's own systems.

The ingest API calls these, and so can anything else that has many rows at once (imports,
seeders). Each function takes a list of JSON-like items, checks every item on its own and
writes the valid ones set-based in one transaction: a fixed number of queries per batch,
whatever its size, and nothing half written when something unexpected fails.

Each answers ``{"accepted": n, "duplicates": n, "rejected": [{"index": i, "error": "field:
reason"}]}``. Valid items land even when others are refused, and sending the same batch again
creates nothing new: its items come back as duplicates (an upsert that would change nothing
is a duplicate too).
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from decimal import Decimal, InvalidOperation
from functools import partial
from typing import Any, TypedDict

import orjson
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import connection, transaction
from django.db.models import Exists, OuterRef, Q
from django.db.models.functions import Lower
from django.utils import timezone

from accounts.roles import Role
from customers import services
from customers.models import (
    MRR_LIMIT,
    Account,
    Contact,
    DailyUsage,
    LifecycleStage,
    Locale,
    RevenueChange,
    RevenueKind,
    StageChange,
    Ticket,
    TicketPriority,
    TicketStatus,
    UsageEvent,
)
from customers.services import RevenueChangeInput, money
from customers.signals import ticket_closed

# Event types whose arrival is not the customer using the product: they leave
# Account.last_activity_at and Contact.last_seen_at alone.
BILLING_EVENT_TYPES = frozenset({"payment_failed", "payment_succeeded", "card_updated"})
# A ticket closed longer ago than this is history being backfilled, not a moment to survey.
TICKET_CLOSE_SIGNAL_WINDOW = dt.timedelta(days=7)
STAGE_CHANGE_SOURCE = "api"
# Last activity and last seen are kept to the minute: a later event within a minute of the
# stored time does not rewrite the row, which spares busy accounts a write per batch.
ACTIVITY_PRECISION = dt.timedelta(minutes=1)


class RejectedItem(TypedDict):
    index: int
    error: str


class IngestResult(TypedDict):
    accepted: int
    duplicates: int
    rejected: list[RejectedItem]


class ItemError(Exception):
    """One item is refused; the message always starts with the field it is about."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class Outcome:
    """What happened to each item of a batch, by its index in the request."""

    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"

    def __init__(self, size: int) -> None:
        self.size = size
        self.status: dict[int, str] = {}
        self.errors: dict[int, ItemError] = {}

    def accept(self, index: int) -> None:
        self.status[index] = self.ACCEPTED

    def duplicate(self, index: int) -> None:
        self.status[index] = self.DUPLICATE

    def reject(self, index: int, error: ItemError) -> None:
        self.status.pop(index, None)
        self.errors[index] = error

    def result(self) -> IngestResult:
        statuses = list(self.status.values())
        return {
            "accepted": statuses.count(self.ACCEPTED),
            "duplicates": statuses.count(self.DUPLICATE),
            "rejected": [
                {"index": index, "error": str(self.errors[index])} for index in sorted(self.errors)
            ],
        }


# --- checking one value -------------------------------------------------------------------

_ABSENT = object()


def _no_nul(value: str, field: str) -> str:
    if "\x00" in value:
        raise ItemError(field, "must not contain NUL characters")
    return value


def _external_id(value: Any, field: str) -> str:
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
    return _no_nul(text, field)


def _optional_external_id(value: Any, field: str) -> str | None:
    return None if value is None or value == "" else _external_id(value, field)


def _text(value: Any, field: str, *, max_length: int, required: bool = False) -> str:
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
    return _no_nul(value, field)


def _moment(value: Any, field: str) -> dt.datetime:
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


def _optional_moment(value: Any, field: str) -> dt.datetime | None:
    return None if value is None else _moment(value, field)


def _date(value: Any, field: str) -> dt.date | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ItemError(field, "must be a date like 2025-12-31")
    try:
        return dt.date.fromisoformat(value[:10] if "T" in value else value)
    except ValueError:
        raise ItemError(field, f"{value[:40]!r} is not a date like 2025-12-31") from None


def _mapping(value: Any, field: str) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ItemError(field, "must be an object")
    return value


def _json_text(value: dict, field: str) -> str:
    """The JSON text of a mapping, refused when PostgreSQL's jsonb could not store it."""
    try:
        text = orjson.dumps(value)
    except TypeError as error:
        raise ItemError(field, f"cannot be stored as JSON ({error})") from None
    if b"\\u0000" in text:
        raise ItemError(field, "must not contain NUL characters")
    return text.decode()


def _checked_json(value: Any, field: str) -> dict:
    mapping = _mapping(value, field)
    _json_text(mapping, field)
    return mapping


def _choice(value: Any, field: str, choices: Sequence[str]) -> str:
    if not isinstance(value, str) or value.lower() not in choices:
        raise ItemError(field, f"must be one of {', '.join(choices)}")
    return value.lower()


def _locale(value: Any, field: str) -> str:
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


def _email(value: Any, field: str) -> str:
    text = _text(value, field, max_length=254)
    if text:
        try:
            validate_email(text)
        except ValidationError:
            raise ItemError(field, f"{text[:60]!r} is not an email address") from None
    return text


def _bool(value: Any, field: str) -> bool:
    if not isinstance(value, bool):
        raise ItemError(field, "must be true or false")
    return value


def _whole(value: Any, field: str, *, low: int, high: int) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise ItemError(field, f"must be a whole number from {low} to {high}")
    return value


def _card_year(value: Any, field: str) -> int | None:
    year = _whole(value, field, low=0, high=2100)
    if year is not None and year < 100:
        year += 2000  # billing systems often send 27 for 2027
    if year is not None and year < 2000:
        raise ItemError(field, "must be a year such as 2027")
    return year


def _amount(value: Any, field: str) -> Decimal:
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


def _currency(value: Any, field: str) -> str:
    if not isinstance(value, str) or len(value.strip()) != 3 or not value.strip().isalpha():
        raise ItemError(field, "must be a three-letter ISO 4217 code such as EUR")
    return value.strip().upper()


def _item(raw: Any) -> dict:
    if not isinstance(raw, dict):
        raise ItemError("item", "must be a JSON object")
    return raw


def _error_of(error: ValidationError) -> ItemError:
    """A service's ValidationError as an item error naming its field."""
    if hasattr(error, "error_dict"):
        field, errors = next(iter(error.error_dict.items()))
        return ItemError(field, " ".join(e.message % (e.params or {}) for e in errors))
    return ItemError("item", " ".join(error.messages))


# --- set-based SQL helpers ----------------------------------------------------------------
# Statements are built from model table names (never from input, so the S608 warnings below
# are silenced); every value travels as a parameter.
# PostgreSQL gets one array parameter per column (unnest), so a 1000-row batch is a handful
# of parameters; SQLite gets a VALUES list, chunked under its parameter limit.

_PG_ARRAY_TYPES = {
    "bigint": "bigint[]",
    "int": "integer[]",
    "text": "text[]",
    "timestamptz": "timestamptz[]",
    "date": "date[]",
    "jsonb": "jsonb[]",
}


def _is_postgres() -> bool:
    return connection.vendor == "postgresql"


def _greatest() -> str:
    return "GREATEST" if _is_postgres() else "MAX"


def _adapt_sqlite(kind: str, value: Any) -> Any:
    if value is None:
        return None
    if kind == "timestamptz":
        return connection.ops.adapt_datetimefield_value(value)
    if kind == "date":
        return connection.ops.adapt_datefield_value(value)
    return value


def _binding_cursor(*, binary_results: bool = False):
    """A PostgreSQL cursor that sends parameters separately from the statement, arrays in
    binary: Django's default client-side binding spends ~15 ms of Python per 1000-row batch
    quoting arrays into SQL text, this ~3 ms. Wrapped like Django's own cursors, so queries
    are logged and counted and errors arrive as django.db exceptions."""
    import psycopg

    connection.ensure_connection()
    raw = psycopg.Cursor(connection.connection)
    if binary_results:  # timestamps then load in C rather than parsed from text
        raw.format = psycopg.pq.Format.BINARY
    if connection.queries_logged:
        return connection.make_debug_cursor(raw)
    return connection.make_cursor(raw)


def _run_with_rows(
    sql: str,
    columns: Sequence[tuple[str, str]],
    rows: Sequence[Sequence[Any]],
    *,
    before: Sequence[Any] = (),
    after: Sequence[Any] = (),
) -> list[tuple]:
    """Run ``sql`` whose ``{rows}`` placeholder is a table ``v`` of the given rows.

    ``columns`` names and types the table's columns (types as in _PG_ARRAY_TYPES);
    ``before``/``after`` are parameters that come before and after the table in ``sql``.
    Returns whatever the statement returns (RETURNING), all chunks together.
    """
    if not rows:
        return []
    names = ", ".join(name for name, _ in columns)
    if _is_postgres():
        arrays = ", ".join(f"%b::{_PG_ARRAY_TYPES[kind]}" for _, kind in columns)
        source = f"unnest({arrays}) AS v({names})"
        params = [*before, *(list(column) for column in zip(*rows, strict=True)), *after]
        with _binding_cursor() as cursor:
            cursor.execute(sql.format(rows=source), params)
            return cursor.fetchall() if cursor.description else []
    with connection.cursor() as cursor:
        limit = connection.features.max_query_params or 999
        per_chunk = max(1, (limit - len(before) - len(after)) // len(columns))
        renamed = ", ".join(f"column{n} AS {name}" for n, (name, _) in enumerate(columns, 1))
        kinds = [kind for _, kind in columns]
        results: list[tuple] = []
        for start in range(0, len(rows), per_chunk):
            chunk = rows[start : start + per_chunk]
            values = ", ".join(["(" + ", ".join(["%s"] * len(columns)) + ")"] * len(chunk))
            source = f"(SELECT {renamed} FROM (VALUES {values})) AS v"  # noqa: S608
            flat = [
                _adapt_sqlite(k, value)
                for row in chunk
                for k, value in zip(kinds, row, strict=True)
            ]
            cursor.execute(sql.format(rows=source), [*before, *flat, *after])
            if cursor.description:
                results.extend(cursor.fetchall())
        return results


def _lock_rows(model, ids: Iterable[int]) -> None:
    """Take the row locks an UPDATE … FROM will need, in id order, so that two batches
    touching the same accounts queue instead of deadlocking. SQLite locks the whole file."""
    ids = sorted(set(ids))
    if ids and _is_postgres():
        table = model._meta.db_table
        with _binding_cursor() as cursor:
            cursor.execute(
                f"SELECT id FROM {table} WHERE id = ANY(%b::bigint[]) "  # noqa: S608
                "ORDER BY id FOR NO KEY UPDATE",
                [ids],
            )


def _by_external_id(model, external_ids: set[str], *fields: str) -> list[tuple]:
    """``(external_id, *fields)`` of the rows with these external ids, in one query (on
    PostgreSQL with the ids as one array parameter rather than a thousand)."""
    if not external_ids:
        return []
    if not _is_postgres():
        return list(
            model.objects.filter(external_id__in=external_ids).values_list("external_id", *fields)
        )
    meta = model._meta
    columns = ", ".join(
        meta.pk.column if f == "pk" else meta.get_field(f).column for f in ("external_id", *fields)
    )
    with _binding_cursor(binary_results=True) as cursor:
        cursor.execute(
            f"SELECT {columns} FROM {meta.db_table} WHERE external_id = ANY(%b::text[])",  # noqa: S608
            [list(external_ids)],
        )
        return cursor.fetchall()


def _pk_by_external_id(model, external_ids: set[str]) -> dict[str, int]:
    return dict(_by_external_id(model, external_ids, "pk"))


# --- usage events -------------------------------------------------------------------------

_EventRow = tuple  # (event_id, index, account_id, contact_id, type, occurred_at, props, card)


def _event_parse(raw: Any) -> tuple:
    item = _item(raw)
    event_id = _external_id(item.get("id"), "id")
    account = _optional_external_id(item.get("account"), "account")
    contact = _optional_external_id(item.get("contact"), "contact")
    if account is None and contact is None:
        raise ItemError("account", "is required")
    kind = item.get("type")
    if not isinstance(kind, str) or not kind.strip():
        raise ItemError("type", "is required")
    if len(kind) > 100:
        raise ItemError("type", "is longer than 100 characters")
    _no_nul(kind, "type")
    occurred_at = _moment(item.get("timestamp"), "timestamp")
    properties = _mapping(item.get("properties"), "properties")
    card = None
    if kind == "card_updated":
        month = properties.get("exp_month", properties.get("card_exp_month"))
        year = properties.get("exp_year", properties.get("card_exp_year"))
        month = _whole(month, "properties.exp_month", low=1, high=12)
        year = _card_year(year, "properties.exp_year")
        if month is not None or year is not None:
            card = (month, year)
    return (
        event_id,
        account,
        contact,
        kind,
        occurred_at,
        _json_text(properties, "properties"),
        card,
    )


def _events_write(outcome: Outcome, items: Sequence[Any], source: str) -> None:
    now = timezone.now()
    parsed: list[tuple] = []
    seen: set[str] = set()
    for index, raw in enumerate(items):
        try:
            event = _event_parse(raw)
        except ItemError as error:
            outcome.reject(index, error)
            continue
        if event[0] in seen:
            outcome.duplicate(index)
            continue
        seen.add(event[0])
        parsed.append((index, *event))
    if not parsed:
        return
    # external id -> (pk, last activity); the last activity spares no-op updates later
    accounts: dict[str, tuple[int, dt.datetime | None]] = {}
    account_ids = {p[2] for p in parsed if p[2] is not None}
    if account_ids:
        rows = _by_external_id(Account, account_ids, "pk", "last_activity_at")
        accounts = {external: (pk, last) for external, pk, last in rows}
    contacts: dict[str, tuple[int, int, dt.datetime | None]] = {}
    contact_ids = {p[3] for p in parsed if p[3] is not None}
    if contact_ids:
        rows = _by_external_id(Contact, contact_ids, "pk", "account_id", "last_seen_at")
        contacts = {external: (pk, account, last) for external, pk, account, last in rows}
    ready: list[_EventRow] = []
    for index, event_id, account_ext, contact_ext, kind, occurred_at, props, card in parsed:
        contact_id = contact_account = None
        if contact_ext is not None:
            if contact_ext not in contacts:
                outcome.reject(index, ItemError("contact", f"unknown contact {contact_ext!r}"))
                continue
            contact_id, contact_account, _ = contacts[contact_ext]
        if account_ext is None:
            account_id = contact_account
        else:
            if account_ext not in accounts:
                outcome.reject(index, ItemError("account", f"unknown account {account_ext!r}"))
                continue
            account_id = accounts[account_ext][0]
            if contact_id is not None and contact_account != account_id:
                outcome.reject(
                    index, ItemError("contact", f"{contact_ext!r} belongs to another account")
                )
                continue
        ready.append((event_id, index, account_id, contact_id, kind, occurred_at, props, card))
    ready.sort()  # one insertion order for every batch: concurrent batches queue, never deadlock
    inserted = _events_insert(ready, source=source, now=now)
    fresh = []
    for row in ready:
        if row[0] in inserted:
            outcome.accept(row[1])
            fresh.append(row)
        else:
            outcome.duplicate(row[1])
    if fresh:
        _events_apply(
            fresh,
            last_activity=dict(accounts.values()),
            last_seen={pk: last for pk, _, last in contacts.values()},
        )


def _events_insert(rows: list[_EventRow], *, source: str, now: dt.datetime) -> set[str]:
    """Insert the events that are new; return their ids. The (source, event_id) constraint
    decides, so a replay — even one racing the first delivery — inserts nothing."""
    table = UsageEvent._meta.db_table
    sql = (
        f"INSERT INTO {table} "  # noqa: S608
        "(event_id, account_id, contact_id, type, occurred_at, properties, source, received_at) "
        "SELECT v.event_id, v.account_id, v.contact_id, v.type, v.occurred_at, v.properties, "
        "%s, %s FROM {rows} WHERE true "
        "ON CONFLICT (source, event_id) DO NOTHING RETURNING event_id"
    )
    columns = [
        ("event_id", "text"),
        ("account_id", "bigint"),
        ("contact_id", "bigint"),
        ("type", "text"),
        ("occurred_at", "timestamptz"),
        ("properties", "jsonb"),
    ]
    values = [(r[0], r[2], r[3], r[4], r[5], r[6]) for r in rows]
    stamp = now if _is_postgres() else connection.ops.adapt_datetimefield_value(now)
    returned = _run_with_rows(sql, columns, values, before=[source, stamp])
    return {event_id for (event_id,) in returned}


def _moved_on(latest: dict[int, dt.datetime], stored: dict[int, dt.datetime | None]) -> dict:
    """The rows whose stored time is more than ACTIVITY_PRECISION behind the new one."""
    return {
        pk: at
        for pk, at in latest.items()
        if stored.get(pk) is None or stored[pk] < at - ACTIVITY_PRECISION  # type: ignore[operator]
    }


def _events_apply(
    fresh: list[_EventRow],
    *,
    last_activity: dict[int, dt.datetime | None],
    last_seen: dict[int, dt.datetime | None],
) -> None:
    """Fold newly stored events into the rollups and into the account and contact columns
    that summarise them, one statement per table for the whole batch.

    ``last_activity``/``last_seen`` are the stored values read with the lookups: rows whose
    time would move by less than ACTIVITY_PRECISION are not rewritten, so a busy account is
    not rewritten by every batch (the UPDATE re-checks, so a stale read only costs a no-op).
    """
    rollup = Counter((r[2], r[5].date(), r[4]) for r in fresh)
    daily = DailyUsage._meta.db_table
    _run_with_rows(
        f"INSERT INTO {daily} (account_id, day, type, count) "  # noqa: S608
        "SELECT v.account_id, v.day, v.type, v.n FROM {rows} WHERE true "
        "ON CONFLICT (account_id, day, type) "
        f"DO UPDATE SET count = {daily}.count + excluded.count",
        [("account_id", "bigint"), ("day", "date"), ("type", "text"), ("n", "int")],
        sorted((account, day, kind, n) for (account, day, kind), n in rollup.items()),
    )
    active: dict[int, dt.datetime] = {}
    failed: Counter[int] = Counter()
    failed_at: dict[int, dt.datetime] = {}
    seen: dict[int, dt.datetime] = {}
    cards: dict[int, tuple[dt.datetime, tuple]] = {}
    for _, _, account_id, contact_id, kind, at, _, card in fresh:
        if kind in BILLING_EVENT_TYPES:
            if kind == "payment_failed":
                failed[account_id] += 1
                failed_at[account_id] = max(at, failed_at.get(account_id, at))
            elif card is not None and at >= cards.get(account_id, (at, None))[0]:
                cards[account_id] = (at, card)
            continue
        active[account_id] = max(at, active.get(account_id, at))
        if contact_id is not None:
            seen[contact_id] = max(at, seen.get(contact_id, at))
    active = _moved_on(active, last_activity)
    seen = _moved_on(seen, last_seen)
    greatest = _greatest()

    def later(column: str, value: str) -> str:
        return f"{greatest}(COALESCE({column}, {value}), COALESCE({value}, {column}))"

    table = Account._meta.db_table
    _lock_rows(Account, set(active) | set(failed) | set(cards))  # one lock order for both
    account_ids = sorted(set(active) | set(failed))
    if account_ids:
        _run_with_rows(
            f"UPDATE {table} SET last_activity_at = {later('last_activity_at', 'v.active_at')}, "  # noqa: S608
            "failed_payments = failed_payments + v.failed, "
            f"last_payment_failed_at = {later('last_payment_failed_at', 'v.failed_at')} "
            f"FROM {{rows}} WHERE {table}.id = v.id",
            [
                ("id", "bigint"),
                ("active_at", "timestamptz"),
                ("failed", "int"),
                ("failed_at", "timestamptz"),
            ],
            [(pk, active.get(pk), failed[pk], failed_at.get(pk)) for pk in account_ids],
        )
    if cards:
        # Only the newest card_updated event sets the card, whatever order events arrive in.
        events = UsageEvent._meta.db_table
        _run_with_rows(
            f"UPDATE {table} SET card_exp_month = COALESCE(v.month, card_exp_month), "  # noqa: S608
            "card_exp_year = COALESCE(v.year, card_exp_year) "
            f"FROM {{rows}} WHERE {table}.id = v.id AND NOT EXISTS (SELECT 1 FROM {events} e "
            "WHERE e.account_id = v.id AND e.type = %s AND e.occurred_at > v.at)",
            [("id", "bigint"), ("at", "timestamptz"), ("month", "int"), ("year", "int")],
            [(pk, at, *card) for pk, (at, card) in sorted(cards.items())],
            after=["card_updated"],
        )
    if seen:
        _lock_rows(Contact, seen)
        contacts = Contact._meta.db_table
        _run_with_rows(
            f"UPDATE {contacts} SET last_seen_at = {later('last_seen_at', 'v.seen_at')} "  # noqa: S608
            f"FROM {{rows}} WHERE {contacts}.id = v.id",
            [("id", "bigint"), ("seen_at", "timestamptz")],
            sorted(seen.items()),
        )


@transaction.atomic
def events_ingest(*, items: Sequence[Any], source: str) -> IngestResult:
    """Store usage events idempotently by ``(source, id)`` and keep the daily rollups, last
    activity, last seen and payment state in step — only for events not seen before.

    Item: ``{"id", "account", "contact", "type", "timestamp", "properties"}``; ``account``
    may be left out when ``contact`` is given (the contact's account is used). Reserved types
    (docs/domain/customers.md): ``payment_failed`` adds a failed payment; ``card_updated`` may carry
    ``exp_month``/``exp_year`` in its properties.
    """
    outcome = Outcome(len(items))
    _events_write(outcome, items, _source(source))
    return outcome.result()


def _source(source: str) -> str:
    source = (source or "").strip()
    if not source or len(source) > 40:
        raise ValueError("source must be 1–40 characters")
    return source


# --- accounts -----------------------------------------------------------------------------

ACCOUNT_FIELDS = (
    "name",
    "domain",
    "plan",
    "currency",
    "owner_id",
    "stage",
    "renewal_date",
    "traits",
    "card_exp_month",
    "card_exp_year",
)


def _account_parse(raw: Any) -> tuple[str, dict[str, Any], str | None]:
    """(external id, values to set, owner email to look up). Absent fields stay as they are;
    null clears a field that may be empty."""
    item = _item(raw)
    external = _external_id(item.get("id"), "id")
    values: dict[str, Any] = {}
    if "name" in item:
        values["name"] = _text(item["name"], "name", max_length=255, required=True)
    if "domain" in item:
        values["domain"] = _text(item["domain"], "domain", max_length=255).lower()
    if "plan" in item:
        values["plan"] = _text(item["plan"], "plan", max_length=100)
    if "currency" in item:
        values["currency"] = _currency(item["currency"], "currency")
    if "stage" in item:
        values["stage"] = _choice(item["stage"], "stage", LifecycleStage.values)
    if "renewal_date" in item:
        values["renewal_date"] = _date(item["renewal_date"], "renewal_date")
    if "traits" in item:
        values["traits"] = _checked_json(item["traits"], "traits")
    if "card_exp_month" in item:
        values["card_exp_month"] = _whole(item["card_exp_month"], "card_exp_month", low=1, high=12)
    if "card_exp_year" in item:
        values["card_exp_year"] = _card_year(item["card_exp_year"], "card_exp_year")
    owner = None
    if "owner_email" in item:
        owner = _email(item["owner_email"], "owner_email").lower()
        if not owner:
            values["owner_id"] = None
    return external, values, owner or None


def _owners(emails: set[str]) -> dict[str, int]:
    """Active CSMs and admins by lower-case email: the people an account can belong to."""
    if not emails:
        return {}
    users = (
        get_user_model()
        .objects.annotate(email_lower=Lower("email"))
        .filter(email_lower__in=emails, is_active=True)
        .filter(Q(is_superuser=True) | Q(groups__name__in=[Role.CSM, Role.ADMIN]))
        .values_list("email_lower", "pk")
        .distinct()
    )
    return dict(users)


def _assign(instance, values: dict[str, Any]) -> bool:
    changed = False
    for attr, value in values.items():
        if attr == "traits":
            stored = instance.traits if isinstance(instance.traits, dict) else {}
            value = {**stored, **value}
        if getattr(instance, attr) != value:
            setattr(instance, attr, value)
            changed = True
    return changed


def _accounts_write(outcome: Outcome, items: Sequence[Any], source: str) -> None:
    now = timezone.now()
    parsed = []
    for index, raw in enumerate(items):
        try:
            parsed.append((index, *_account_parse(raw)))
        except ItemError as error:
            outcome.reject(index, error)
    owners = _owners({owner for *_, owner in parsed if owner})
    existing = {
        account.external_id: account
        for account in Account.objects.select_for_update(no_key=True)
        .filter(external_id__in={external for _, external, _, _ in parsed})
        .annotate(has_revenue=Exists(RevenueChange.objects.filter(account=OuterRef("pk"))))
        .order_by("pk")
    }
    state: dict[str, Account] = {}
    dirty: set[str] = set()
    moves: list[tuple[str, str, str]] = []
    for index, external, values, owner in parsed:
        if owner:
            if owner not in owners:
                outcome.reject(
                    index, ItemError("owner_email", f"no active CSM or admin has {owner!r}")
                )
                continue
            values = {**values, "owner_id": owners[owner]}
        account = state.get(external) or existing.get(external)
        if account is None:
            if "name" not in values:
                outcome.reject(index, ItemError("name", "is required for a new account"))
                continue
            account = Account(
                external_id=external, currency=settings.TENURE_BASE_CURRENCY, created_at=now
            )
            account.has_revenue = False
            dirty.add(external)
        elif (
            "currency" in values and values["currency"] != account.currency and account.has_revenue
        ):
            outcome.reject(
                index,
                ItemError("currency", "cannot change once revenue is recorded in another"),
            )
            continue
        before = account.stage if account.pk or external in state else ""
        if _assign(account, values) or (external not in existing and external not in state):
            dirty.add(external)
            outcome.accept(index)
        else:
            outcome.duplicate(index)
        if "stage" in values and values["stage"] != before:
            moves.append((external, before, values["stage"]))
        state[external] = account
    written = [state[external] for external in sorted(dirty)]
    for account in written:
        account.pk = None  # the upsert finds existing rows by external id
        account.updated_at = now
    services.records_upsert(model=Account, objects=written, fields=ACCOUNT_FIELDS)
    StageChange.objects.bulk_create(
        StageChange(
            account_id=state[external].pk,
            from_stage=before,
            to_stage=after,
            source=source,
            changed_at=now,
        )
        for external, before, after in moves
    )


@transaction.atomic
def accounts_upsert(*, items: Sequence[Any], source: str = STAGE_CHANGE_SOURCE) -> IngestResult:
    """Create or update accounts by external id (``id``).

    Fields: ``name`` (required for a new account), ``domain``, ``plan``, ``currency``,
    ``owner_email`` (an active CSM or admin), ``stage``, ``renewal_date``, ``traits`` (merged
    into the stored ones), ``card_exp_month``, ``card_exp_year``. Absent fields are left as
    they are. Stage moves are recorded with ``source`` as their author.
    """
    outcome = Outcome(len(items))
    _accounts_write(outcome, items, _source(source))
    return outcome.result()


# --- contacts -----------------------------------------------------------------------------

CONTACT_FIELDS = (
    "account_id",
    "email",
    "name",
    "role",
    "locale",
    "birthday",
    "do_not_survey",
    "traits",
)


def _contact_parse(raw: Any) -> tuple[str, str | None, dict[str, Any]]:
    item = _item(raw)
    external = _external_id(item.get("id"), "id")
    values: dict[str, Any] = {}
    if "email" in item:
        values["email"] = _email(item["email"], "email")
    if "name" in item:
        values["name"] = _text(item["name"], "name", max_length=255)
    if "role" in item:
        values["role"] = _text(item["role"], "role", max_length=120)
    if "locale" in item:
        values["locale"] = _locale(item["locale"], "locale")
    if "birthday" in item:
        values["birthday"] = _date(item["birthday"], "birthday")
    if "do_not_survey" in item:
        values["do_not_survey"] = _bool(item["do_not_survey"], "do_not_survey")
    if "traits" in item:
        values["traits"] = _checked_json(item["traits"], "traits")
    account = _optional_external_id(item.get("account"), "account")
    return external, account, values


def _contacts_write(outcome: Outcome, items: Sequence[Any]) -> None:
    now = timezone.now()
    parsed = []
    for index, raw in enumerate(items):
        try:
            parsed.append((index, *_contact_parse(raw)))
        except ItemError as error:
            outcome.reject(index, error)
    accounts = _pk_by_external_id(Account, {account for _, _, account, _ in parsed if account})
    existing = {
        contact.external_id: contact
        for contact in Contact.objects.select_for_update(no_key=True)
        .filter(external_id__in={external for _, external, _, _ in parsed})
        .order_by("pk")
    }
    state: dict[str, Contact] = {}
    dirty: set[str] = set()
    for index, external, account, values in parsed:
        if account is not None:
            if account not in accounts:
                outcome.reject(index, ItemError("account", f"unknown account {account!r}"))
                continue
            values = {**values, "account_id": accounts[account]}
        contact = state.get(external) or existing.get(external)
        is_new = contact is None
        if contact is None:
            if account is None:
                outcome.reject(index, ItemError("account", "is required for a new contact"))
                continue
            contact = Contact(external_id=external, created_at=now)
        elif values.get("do_not_survey") is False and contact.do_not_survey:
            outcome.reject(
                index,
                ItemError("do_not_survey", "a contact's opt-out is lifted only in Tenure itself"),
            )
            continue
        if _assign(contact, values) or is_new:
            dirty.add(external)
            outcome.accept(index)
        else:
            outcome.duplicate(index)
        state[external] = contact
    written = [state[external] for external in sorted(dirty)]
    for contact in written:
        contact.pk = None
        contact.updated_at = now
    services.records_upsert(model=Contact, objects=written, fields=CONTACT_FIELDS)


@transaction.atomic
def contacts_upsert(*, items: Sequence[Any], source: str = "api") -> IngestResult:
    """Create or update contacts by external id (``id``).

    Fields: ``account`` (external id; required for a new contact, moves an existing one),
    ``email``, ``name``, ``role``, ``locale``, ``birthday``, ``do_not_survey`` (an opt-out
    can be set here but only lifted in Tenure), ``traits`` (merged). Absent fields are left
    as they are; a new contact without ``locale`` has none (unknown), so its survey pages
    follow the respondent's browser rather than a language guessed for them.
    """
    _source(source)
    outcome = Outcome(len(items))
    _contacts_write(outcome, items)
    return outcome.result()


# --- revenue ------------------------------------------------------------------------------


def _revenue_parse(raw: Any) -> tuple[str, str, dict[str, Any]]:
    item = _item(raw)
    external = _external_id(item.get("id"), "id")
    account = _external_id(item.get("account"), "account")
    values: dict[str, Any] = {
        "mrr": _amount(item.get("mrr"), "mrr"),
        "effective_at": _moment(item.get("effective_at"), "effective_at"),
        "plan": _text(item.get("plan"), "plan", max_length=100),
        "kind": None,
    }
    if item.get("kind") is not None:
        values["kind"] = _choice(item["kind"], "kind", RevenueKind.values)
    if item.get("currency") is not None:
        values["currency"] = _currency(item["currency"], "currency")
    return external, account, values


def _same_change(recorded: RevenueChange, account_id: int, values: dict[str, Any]) -> bool:
    return (
        recorded.account_id == account_id
        and recorded.effective_at == values["effective_at"]
        and recorded.mrr == money(values["mrr"])
        and values["kind"] in (None, recorded.kind)
        and recorded.plan == values["plan"]
    )


@transaction.atomic
def revenue_changes_record(*, items: Sequence[Any]) -> IngestResult:
    """Append dated MRR changes (``id``, ``account``, ``mrr``, ``effective_at``, optional
    ``kind``, ``plan``, ``currency``) by the rules of
    :func:`customers.services.revenue_changes_record`: kind inferred, MRR derived, amounts in
    the account's currency converted to the base currency at entry.

    ``id`` is required here: revenue history is append-only, so the id is what makes a
    re-sent batch harmless. The same id with different numbers is refused, not overwritten.
    """
    outcome = Outcome(len(items))
    parsed = []
    for index, raw in enumerate(items):
        try:
            parsed.append((index, *_revenue_parse(raw)))
        except ItemError as error:
            outcome.reject(index, error)
    accounts = {
        external: (pk, currency)
        for external, pk, currency in Account.objects.filter(
            external_id__in={account for _, _, account, _ in parsed}
        ).values_list("external_id", "pk", "currency")
    }
    # Lock before looking for recorded ids, so a racing copy of this batch sees ours.
    _lock_rows(Account, (pk for pk, _ in accounts.values()))
    recorded = {
        change.external_id: change
        for change in RevenueChange.objects.filter(
            external_id__in={external for _, external, _, _ in parsed}
        )
    }
    batch: dict[str, tuple[int, dict[str, Any]]] = {}
    todo: list[tuple[int, RevenueChangeInput]] = []
    for index, external, account, values in parsed:
        if account not in accounts:
            outcome.reject(index, ItemError("account", f"unknown account {account!r}"))
            continue
        account_id, currency = accounts[account]
        if values.get("currency", currency) != currency:
            outcome.reject(
                index, ItemError("currency", f"the account is billed in {currency}; send MRR in it")
            )
            continue
        if external in recorded:
            same = _same_change(recorded[external], account_id, values)
        elif external in batch:
            same = batch[external] == (account_id, values)
        else:
            same = None
        if same is not None:
            if same:
                outcome.duplicate(index)
            else:
                outcome.reject(
                    index,
                    ItemError(
                        "id", "was already recorded with other values; history is append-only"
                    ),
                )
            continue
        batch[external] = (account_id, values)
        todo.append(
            (
                index,
                RevenueChangeInput(
                    account_id=account_id,
                    mrr=values["mrr"],
                    effective_at=values["effective_at"],
                    kind=values["kind"],
                    plan=values["plan"],
                    external_id=external,
                ),
            )
        )
    results = services.revenue_changes_record(changes=[change for _, change in todo])
    for (index, _), result in zip(todo, results, strict=True):
        if isinstance(result, ValidationError):
            outcome.reject(index, _error_of(result))
        else:
            outcome.accept(index)
    return outcome.result()


# --- tickets ------------------------------------------------------------------------------

TICKET_FIELDS = (
    "account_id",
    "contact_id",
    "subject",
    "priority",
    "status",
    "opened_at",
    "closed_at",
)


def _ticket_parse(raw: Any) -> tuple[str, str | None, str | None, dict[str, Any]]:
    item = _item(raw)
    external = _external_id(item.get("id"), "id")
    values: dict[str, Any] = {}
    if "subject" in item:
        values["subject"] = _text(item["subject"], "subject", max_length=500, required=True)
    if "priority" in item:
        values["priority"] = _choice(item["priority"], "priority", TicketPriority.values)
    if "opened_at" in item:
        values["opened_at"] = _moment(item["opened_at"], "opened_at")
    if "closed_at" in item:
        values["closed_at"] = _optional_moment(item["closed_at"], "closed_at")
    if "status" in item:
        values["status"] = _choice(item["status"], "status", TicketStatus.values)
    if values.get("status") == TicketStatus.OPEN and values.get("closed_at"):
        raise ItemError("closed_at", "an open ticket has no closed_at")
    account = _optional_external_id(item.get("account"), "account")
    contact = _optional_external_id(item.get("contact"), "contact")
    return external, account, contact, values


def _ticket_settle(ticket: Ticket, values: dict[str, Any], now: dt.datetime) -> None:
    """Keep status and closed_at in agreement: closing without a time closes now, a closed_at
    closes the ticket, reopening clears closed_at."""
    status = values.get("status")
    if status == TicketStatus.OPEN:
        values["closed_at"] = None
    elif status == TicketStatus.CLOSED:
        if not values.get("closed_at"):
            values["closed_at"] = ticket.closed_at or now
    elif values.get("closed_at"):
        values["status"] = TicketStatus.CLOSED
    elif "closed_at" in values:
        values["status"] = TicketStatus.OPEN


@transaction.atomic
def tickets_upsert(*, items: Sequence[Any]) -> IngestResult:
    """Create or update support tickets by external id (``id``).

    Fields: ``account`` and ``subject`` and ``opened_at`` (required for a new ticket),
    ``contact``, ``priority``, ``status`` (open/closed), ``closed_at``. A ticket that moves to
    closed sends ``customers.signals.ticket_closed`` once the request has committed (closes
    older than a week are backfill and send nothing).
    """
    now = timezone.now()
    outcome = Outcome(len(items))
    parsed = []
    for index, raw in enumerate(items):
        try:
            parsed.append((index, *_ticket_parse(raw)))
        except ItemError as error:
            outcome.reject(index, error)
    accounts = _pk_by_external_id(Account, {p[2] for p in parsed if p[2]})
    contact_rows = _by_external_id(Contact, {p[3] for p in parsed if p[3]}, "pk", "account_id")
    contacts = {external: (pk, account_id) for external, pk, account_id in contact_rows}
    existing = {
        ticket.external_id: ticket
        for ticket in Ticket.objects.select_for_update(no_key=True)
        .filter(external_id__in={p[1] for p in parsed})
        .order_by("pk")
    }
    was_closed = {external: t.status == TicketStatus.CLOSED for external, t in existing.items()}
    state: dict[str, Ticket] = {}
    dirty: set[str] = set()
    for index, external, account, contact, values in parsed:
        ticket = state.get(external) or existing.get(external)
        is_new = ticket is None
        try:
            if account is not None:
                if account not in accounts:
                    raise ItemError("account", f"unknown account {account!r}")
                values["account_id"] = accounts[account]
            if is_new:
                for field in ("account", "subject", "opened_at"):
                    if field not in values and f"{field}_id" not in values:
                        raise ItemError(field, "is required for a new ticket")
                ticket = Ticket(external_id=external)
            account_id = values.get("account_id", ticket.account_id)
            if contact is not None:
                if contact not in contacts:
                    raise ItemError("contact", f"unknown contact {contact!r}")
                contact_id, contact_account = contacts[contact]
                if contact_account != account_id:
                    raise ItemError("contact", f"{contact!r} belongs to another account")
                values["contact_id"] = contact_id
            _ticket_settle(ticket, values, now)
            opened_at = values.get("opened_at", ticket.opened_at)
            closed_at = values.get("closed_at", ticket.closed_at)
            if closed_at is not None and closed_at < opened_at:
                raise ItemError("closed_at", "is before opened_at")
        except ItemError as error:
            outcome.reject(index, error)
            continue
        if _assign(ticket, values) or is_new:
            dirty.add(external)
            outcome.accept(index)
        else:
            outcome.duplicate(index)
        state[external] = ticket
    written = [state[external] for external in sorted(dirty)]
    for ticket in written:
        ticket.pk = None
    services.records_upsert(model=Ticket, objects=written, fields=TICKET_FIELDS)
    for ticket in written:
        if (
            ticket.status == TicketStatus.CLOSED
            and not was_closed.get(ticket.external_id, False)
            and ticket.closed_at >= now - TICKET_CLOSE_SIGNAL_WINDOW
        ):
            transaction.on_commit(
                partial(ticket_closed.send, sender=Ticket, ticket_id=ticket.pk), robust=True
            )
    return outcome.result()


# --- Segment ------------------------------------------------------------------------------
# Segment's spec (identify, group, track) mapped onto the batches above, so a team already
# sending Segment data can point a webhook destination at Tenure.

SEGMENT_SOURCE = "segment"
_SEGMENT_CONTACT_TRAITS = {
    "email": "email",
    "name": "name",
    "title": "role",
    "birthday": "birthday",
}


def _segment_group_id(message: dict) -> Any:
    context = message.get("context") if isinstance(message.get("context"), dict) else {}
    for container in (context, message.get("properties"), message.get("traits")):
        if isinstance(container, dict) and container.get("groupId") not in (None, ""):
            return container["groupId"]
    return None


def _segment_timestamp(message: dict) -> Any:
    for key in ("timestamp", "originalTimestamp", "receivedAt", "sentAt"):
        if message.get(key):
            return message[key]
    return timezone.now().isoformat()


def _segment_identify(message: dict) -> dict:
    if message.get("userId") in (None, ""):
        raise ItemError("userId", "is required (anonymous users are not contacts)")
    traits = _mapping(message.get("traits"), "traits")
    item: dict[str, Any] = {"id": message["userId"]}
    group = _segment_group_id(message)
    if group is not None:
        item["account"] = group
    for trait, field in _SEGMENT_CONTACT_TRAITS.items():
        if traits.get(trait) is not None:
            item[field] = traits[trait]
    if "name" not in item and (traits.get("firstName") or traits.get("lastName")):
        item["name"] = " ".join(str(traits.get(k) or "") for k in ("firstName", "lastName"))
    context = message.get("context") if isinstance(message.get("context"), dict) else {}
    locale = traits.get("locale") or context.get("locale")
    if locale:
        # Segment fills context.locale from the browser: a language Tenure lacks is no error.
        with contextlib.suppress(ItemError):
            item["locale"] = _locale(locale, "locale")
    item["traits"] = {k: v for k, v in traits.items() if k not in _SEGMENT_CONTACT_TRAITS}
    return item


def _segment_group(message: dict) -> tuple[dict, dict | None]:
    if message.get("groupId") in (None, ""):
        raise ItemError("groupId", "is required")
    traits = _mapping(message.get("traits"), "traits")
    item: dict[str, Any] = {"id": message["groupId"]}
    if traits.get("name") is not None:
        item["name"] = traits["name"]
    website = traits.get("domain") or traits.get("website")
    if isinstance(website, str):
        item["domain"] = website.split("://")[-1].split("/")[0]
    if traits.get("plan") is not None:
        item["plan"] = traits["plan"]
    item["traits"] = {
        k: v for k, v in traits.items() if k not in ("name", "domain", "website", "plan")
    }
    member = None
    if message.get("userId") not in (None, ""):
        # Checked here, before anything is written: a group whose member cannot be stored
        # is rejected whole rather than leaving the account upserted and the message refused.
        member = {"id": _external_id(message["userId"], "userId"), "account": message["groupId"]}
    return item, member


def _segment_track(message: dict) -> dict:
    if message.get("messageId") in (None, ""):
        raise ItemError("messageId", "is required: it is what makes a re-delivery harmless")
    if message.get("event") in (None, ""):
        raise ItemError("event", "is required")
    item = {
        "id": message["messageId"],
        "type": message["event"],
        "timestamp": _segment_timestamp(message),
        "properties": message.get("properties"),
    }
    group = _segment_group_id(message)
    if group is not None:
        item["account"] = group
    if message.get("userId") not in (None, ""):
        item["contact"] = message["userId"]
    if group is None and "contact" not in item:
        raise ItemError("userId", "or context.groupId is required to know whose event this is")
    return item


_SEGMENT_FIELDS = {
    "account": {"id": "groupId", "name": "traits.name", "domain": "traits.website"},
    "contact": {"id": "userId", "account": "context.groupId"},
    "event": {
        "id": "messageId",
        "type": "event",
        "contact": "userId",
        "account": "context.groupId",
    },
}


def _segment_error(kind: str, error: ItemError) -> ItemError:
    """Name the Segment field the sender knows, not Tenure's: userId, not id."""
    field = _SEGMENT_FIELDS[kind].get(error.field)
    if field is None:
        plain = kind == "event" or error.field in ("item", "traits")
        field = error.field if plain else f"traits.{error.field}"
    return ItemError(field, error.reason)


@transaction.atomic
def segment_ingest(*, messages: Sequence[Any], kind: str | None = None) -> IngestResult:
    """Ingest Segment ``identify``, ``group`` and ``track`` messages (a batch may mix them).

    ``group`` upserts an account (and puts ``userId``, if given, in it); ``identify``
    upserts a contact (its account from ``context.groupId`` or ``traits.groupId``, needed
    the first time); ``track`` stores an event keyed by ``messageId``. Within a batch, groups
    are applied first, then identifies, then tracks, so one batch can introduce an account,
    its people and their events. ``kind`` forces the type for the single-call endpoints.
    """
    outcome = Outcome(len(messages))
    plans: dict[str, list[tuple[int, Any]]] = {
        "account": [],
        "member": [],
        "contact": [],
        "event": [],
    }
    for index, message in enumerate(messages):
        try:
            message = _item(message)
            call = kind or message.get("type")
            if call == "identify":
                plans["contact"].append((index, _segment_identify(message)))
            elif call == "group":
                account, member = _segment_group(message)
                plans["account"].append((index, account))
                if member is not None:
                    plans["member"].append((index, member))
            elif call == "track":
                plans["event"].append((index, _segment_track(message)))
            else:
                raise ItemError(
                    "type", f"{str(call)[:20]!r} is not used; send identify, group or track"
                )
        except ItemError as error:
            outcome.reject(index, error)
    steps: list[tuple[str, list[tuple[int, Any]], Callable[[Outcome, list], None]]] = [
        ("account", plans["account"], lambda o, items: _accounts_write(o, items, SEGMENT_SOURCE)),
        ("contact", plans["member"] + plans["contact"], _contacts_write),
        ("event", plans["event"], lambda o, items: _events_write(o, items, SEGMENT_SOURCE)),
    ]
    for step_kind, planned, write in steps:
        if not planned:
            continue
        step = Outcome(len(planned))
        write(step, [item for _, item in planned])
        for position, (index, _) in enumerate(planned):
            if index in outcome.errors:
                continue
            if position in step.errors:
                outcome.reject(index, _segment_error(step_kind, step.errors[position]))
            elif step.status.get(position) == Outcome.ACCEPTED:
                outcome.accept(index)
            elif outcome.status.get(index) != Outcome.ACCEPTED:
                outcome.duplicate(index)
    return outcome.result()
