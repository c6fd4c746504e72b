"""Usage events: stored once by (source, id), folded into daily rollups, last activity,
last seen and payment state in the same transaction."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Sequence
from typing import Any

from django.db import transaction
from django.utils import timezone

from core import db
from customers.ingest import fields
from customers.ingest.results import IngestResult, ItemError, Outcome, Waiting
from customers.models import (
    Account,
    Contact,
    DailyUsage,
    UsageEvent,
)
from customers.signals import accounts_touched_on_commit

# Event types whose arrival is not the customer using the product: they leave
# Account.last_activity_at and Contact.last_seen_at alone.
BILLING_EVENT_TYPES = frozenset({"payment_failed", "payment_succeeded", "card_updated"})
# Last activity and last seen are kept to the minute: a later event within a minute of the
# stored time does not rewrite the row, which spares busy accounts a write per batch.
ACTIVITY_PRECISION = dt.timedelta(minutes=1)


_EventRow = tuple  # (event_id, index, account_id, contact_id, type, occurred_at, props, card)


def _event_parse(raw: Any) -> tuple:
    item = fields.item(raw)
    event_id = fields.external_id(item.get("id"), "id")
    account = fields.optional_external_id(item.get("account"), "account")
    contact = fields.optional_external_id(item.get("contact"), "contact")
    if account is None and contact is None:
        raise ItemError("account", "is required")
    kind = item.get("type")
    if not isinstance(kind, str) or not kind.strip():
        raise ItemError("type", "is required")
    if len(kind) > 100:
        raise ItemError("type", "is longer than 100 characters")
    fields.no_nul(kind, "type")
    occurred_at = fields.moment(item.get("timestamp"), "timestamp")
    properties = fields.mapping(item.get("properties"), "properties")
    card = None
    if kind == "card_updated":
        month = properties.get("exp_month", properties.get("card_exp_month"))
        year = properties.get("exp_year", properties.get("card_exp_year"))
        month = fields.whole(month, "properties.exp_month", low=1, high=12)
        year = fields.card_year(year, "properties.exp_year")
        if month is not None or year is not None:
            card = (month, year)
    return (
        event_id,
        account,
        contact,
        kind,
        occurred_at,
        fields.json_text(properties, "properties"),
        card,
    )


def events_write(outcome: Outcome, items: Sequence[Any], source: str) -> None:
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
        rows = db.by_external_id(Account, account_ids, "pk", "last_activity_at")
        accounts = {external: (pk, last) for external, pk, last in rows}
    contacts: dict[str, tuple[int, int, dt.datetime | None]] = {}
    contact_ids = {p[3] for p in parsed if p[3] is not None}
    if contact_ids:
        rows = db.by_external_id(Contact, contact_ids, "pk", "account_id", "last_seen_at")
        contacts = {external: (pk, account, last) for external, pk, account, last in rows}
    ready: list[_EventRow] = []
    for index, event_id, account_ext, contact_ext, kind, occurred_at, props, card in parsed:
        contact_id = contact_account = None
        if contact_ext is not None:
            if contact_ext not in contacts:
                unknown = f"unknown contact {contact_ext!r}"
                outcome.reject(
                    index, Waiting("contact", unknown, kind="contact", external_id=contact_ext)
                )
                continue
            contact_id, contact_account, _ = contacts[contact_ext]
        if account_ext is None:
            account_id = contact_account
        else:
            if account_ext not in accounts:
                unknown = f"unknown account {account_ext!r}"
                outcome.reject(
                    index, Waiting("account", unknown, kind="account", external_id=account_ext)
                )
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
        accounts_touched_on_commit(row[2] for row in fresh)


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
    returned = db.run_with_rows(sql, columns, values, before=[source, now])
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
    db.run_with_rows(
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
    greatest = db.greatest()

    def later(column: str, value: str) -> str:
        return f"{greatest}(COALESCE({column}, {value}), COALESCE({value}, {column}))"

    table = Account._meta.db_table
    db.lock_rows(Account, set(active) | set(failed) | set(cards))  # one lock order for both
    account_ids = sorted(set(active) | set(failed))
    if account_ids:
        db.run_with_rows(
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
        db.run_with_rows(
            f"UPDATE {table} SET card_exp_month = COALESCE(v.month, card_exp_month), "  # noqa: S608
            "card_exp_year = COALESCE(v.year, card_exp_year) "
            f"FROM {{rows}} WHERE {table}.id = v.id AND NOT EXISTS (SELECT 1 FROM {events} e "
            "WHERE e.account_id = v.id AND e.type = %s AND e.occurred_at > v.at)",
            [("id", "bigint"), ("at", "timestamptz"), ("month", "int"), ("year", "int")],
            [(pk, at, *card) for pk, (at, card) in sorted(cards.items())],
            after=["card_updated"],
        )
    if seen:
        db.lock_rows(Contact, seen)
        contacts = Contact._meta.db_table
        db.run_with_rows(
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
    events_write(outcome, items, fields.source_label(source))
    return outcome.result()
