"""Segment messages that were answered 200 but could not be applied yet.

Segment's libraries treat a 200 as delivered and never send it again, and they send a new
user's ``identify`` (and often a ``track``) before the ``group`` that creates the account. A
message that fails only because the account or contact it names does not exist yet is therefore
kept as a :class:`~customers.models.ParkedMessage`, waiting for that one external id:

* when anything creates that account or contact (a Segment message, a retried parked one, the
  accounts or contacts API, a CSV import), the waiting messages are applied by a task queued
  once that transaction has committed (:func:`wake`, called by the writes themselves); an
  identify applied this way creates the contact a parked track waits for, and wakes it;
* every ten minutes the sweep (:func:`sweep`, beat entry ``customers-sweep-parked-messages``)
  applies those whose account or contact has appeared some other way (the admin, a race with
  the parking) and gives up on the ones older than :data:`PARKED_MAX_AGE`, keeping them
  with their reason for the admin (never silently deleted).

Applying is idempotent: events are keyed by ``messageId`` and accounts and contacts are upserts,
so a message applied twice stores nothing twice. An applied message's row is deleted: it is now
the data it carried.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Sequence
from functools import partial
from typing import Any

from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q, Value
from django.db.models.functions import Concat
from django.utils import timezone

from core.iterables import batched
from customers.ingest import fields
from customers.ingest.results import ItemError, Outcome, Waiting
from customers.models import Account, Contact, ParkedMessage

PARKED_MAX_AGE = dt.timedelta(days=30)
CHUNK = 1000  # messages applied together: a fixed number of queries per chunk
SWEEP_LIMIT = 20_000  # per sweep run; the next run takes the rest
logger = logging.getLogger(__name__)


def pending():
    return ParkedMessage.objects.filter(given_up_at__isnull=True)


def park(outcome: Outcome, messages: Sequence[Any], *, kind: str | None, source: str) -> None:
    """Turn the outcome's ``Waiting`` refusals into parked messages (one INSERT). A message
    already parked under the same messageId (a re-delivery) counts as a duplicate."""
    now = timezone.now()
    rows: dict[int, ParkedMessage] = {}
    for index, error in list(outcome.errors.items()):
        if not isinstance(error, Waiting):
            continue
        message = messages[index]
        call = kind or message.get("type")
        stored = {**message, "type": call}
        try:
            fields.json_text(stored, "message")
        except ItemError as unstorable:
            outcome.reject(index, ItemError(unstorable.field, f"{unstorable.reason}; {error}"))
            continue
        message_id = message.get("messageId")
        message_id = message_id if isinstance(message_id, str) and len(message_id) <= 255 else ""
        waiting_kind, waiting_id = error.waiting_for
        rows[index] = ParkedMessage(
            source=source,
            kind=call,
            message_id=message_id,
            message=stored,
            reason=str(error),
            waiting_kind=waiting_kind,
            waiting_id=waiting_id,
            received_at=now,
        )
    if not rows:
        return
    message_ids = {row.message_id for row in rows.values() if row.message_id}
    already = set(
        pending()
        .filter(source=source, message_id__in=message_ids)
        .values_list("message_id", flat=True)
    )
    fresh = []
    for index, row in rows.items():
        if row.message_id in already:  # a re-delivery of a message parked before
            outcome.errors.pop(index, None)
            outcome.duplicate(index)
            continue
        if row.message_id:
            already.add(row.message_id)
        outcome.park(index)
        fresh.append(row)
    ParkedMessage.objects.bulk_create(fresh)


def wake(*, accounts: Iterable[str] = (), contacts: Iterable[str] = ()) -> int:
    """Queue, once the transaction commits, the parked messages waiting for these accounts
    or contacts (which exist now). One query; nothing is queued when none waits."""
    accounts, contacts = set(accounts), set(contacts)
    if not accounts and not contacts:
        return 0
    waiting = Q(waiting_kind=ParkedMessage.Waiting.ACCOUNT, waiting_id__in=accounts) | Q(
        waiting_kind=ParkedMessage.Waiting.CONTACT, waiting_id__in=contacts
    )
    ids = list(
        pending()
        .filter(waiting)
        .order_by("received_at", "pk")
        .values_list("pk", flat=True)[:SWEEP_LIMIT]
    )
    if ids:
        from customers.tasks import apply_parked_messages

        for chunk in batched(ids, CHUNK):
            transaction.on_commit(partial(apply_parked_messages.delay, list(chunk)), robust=True)
    return len(ids)


@transaction.atomic
def apply(*, ids: Sequence[int]) -> dict[str, int]:
    """Try the parked messages with these ids again, oldest first, in chunks. Applied ones
    are deleted; those still waiting record the try and what they wait for now (a track may
    have found its contact but not yet its account); those that can now never be applied are
    given up with the reason. Rows already gone or given up are skipped, and rows another
    worker is applying (PostgreSQL) are left to it."""
    from customers.ingest.segment import segment_apply

    counts = {"applied": 0, "waiting": 0, "given_up": 0}
    rows = list(
        pending()
        .select_for_update(skip_locked=True)
        .filter(pk__in=list(ids))
        .order_by("received_at", "pk")
    )
    now = timezone.now()
    for chunk in batched(rows, CHUNK):
        outcome = segment_apply([row.message for row in chunk])
        applied, changed = [], []
        for position, row in enumerate(chunk):
            error = outcome.errors.get(position)
            if error is None:
                applied.append(row.pk)
                continue
            row.attempts += 1
            row.last_tried_at = now
            row.reason = str(error)
            if isinstance(error, Waiting):
                row.waiting_kind, row.waiting_id = error.waiting_for
                counts["waiting"] += 1
            else:
                row.reason = f"Can never be applied: {error}"
                row.given_up_at = now
                counts["given_up"] += 1
            changed.append(row)
        ParkedMessage.objects.filter(pk__in=applied).delete()
        ParkedMessage.objects.bulk_update(
            changed,
            ["attempts", "last_tried_at", "reason", "waiting_kind", "waiting_id", "given_up_at"],
        )
        counts["applied"] += len(applied)
    return counts


def sweep(*, now: dt.datetime | None = None) -> dict[str, int]:
    """Give up the parked messages older than PARKED_MAX_AGE (one UPDATE, reason kept), then
    apply those whose account or contact exists now (one query finds them all, by their
    waiting external ids; they are applied in chunks)."""
    now = now or timezone.now()
    days = PARKED_MAX_AGE.days
    given_up = (
        pending()
        .filter(received_at__lt=now - PARKED_MAX_AGE)
        .update(
            given_up_at=now,
            reason=Concat(
                Value(f"Given up after {days} days waiting (nothing created it): "), F("reason")
            ),
        )
    )
    if given_up:
        logger.warning("gave up %s parked Segment messages older than %s days", given_up, days)
    accounts = Account.objects.filter(external_id=OuterRef("waiting_id"))
    contacts = Contact.objects.filter(external_id=OuterRef("waiting_id"))
    ready = list(
        pending()
        .filter(
            (Q(waiting_kind=ParkedMessage.Waiting.ACCOUNT) & Exists(accounts))
            | (Q(waiting_kind=ParkedMessage.Waiting.CONTACT) & Exists(contacts))
        )
        .order_by("received_at", "pk")
        .values_list("pk", flat=True)[:SWEEP_LIMIT]
    )
    counts = {"expired": given_up, "applied": 0, "waiting": 0, "given_up": 0}
    for chunk in batched(ready, CHUNK):
        for key, value in apply(ids=chunk).items():
            counts[key] += value
    return counts
