"""Background jobs for health. Each takes ids (or nothing), is idempotent and safe to kill:
a rerun replaces the day's snapshots of the accounts it covers."""

from __future__ import annotations

import datetime as dt

from celery import shared_task

from core.iterables import batched
from core.tasks import RETRY_TRANSIENT
from customers.models import Account
from health.services import CHUNK_SIZE, alerts_wake, health_recompute, health_recompute_dirty


@shared_task(**RETRY_TRANSIENT)
def recompute_health_all(day: str | None = None) -> int:
    """Beat, nightly: split every account into id ranges and queue one task per range, so
    several workers share the work. Returns how many ranges were queued."""
    ids = Account.objects.order_by("pk").values_list("pk", flat=True)
    ranges = [(chunk[0], chunk[-1]) for chunk in batched(ids.iterator(), CHUNK_SIZE)]
    for first, last in ranges:
        recompute_health_range.delay(first, last, day)
    return len(ranges)


@shared_task(**RETRY_TRANSIENT)
def recompute_health_range(first_id: int, last_id: int, day: str | None = None) -> int:
    """The day's snapshots of the accounts with ids in [first_id, last_id]; accounts deleted
    meanwhile are simply not there."""
    return health_recompute(
        id_range=(first_id, last_id), day=dt.date.fromisoformat(day) if day else None
    )


@shared_task(**RETRY_TRANSIENT)
def recompute_health_dirty() -> int:
    """Score the accounts whose data changed (marked by the receivers), a batch at a time,
    until none is left. Queued a second after a change; beat runs it too, as a safety net and
    as the embedded mode's way in."""
    from django.core.cache import cache

    from health.receivers import FLUSH_QUEUED_KEY

    cache.delete(FLUSH_QUEUED_KEY)  # marks from now on queue the next flush
    total = 0
    while done := health_recompute_dirty():
        total += done
    return total


@shared_task(**RETRY_TRANSIENT)
def wake_snoozed_alerts() -> int:
    """Beat, every five minutes: alerts whose snooze ended are open again."""
    return alerts_wake()


@shared_task(**RETRY_TRANSIENT)
def run_playbook_triggers() -> int:
    """Beat: start the plays whose triggers are found by looking (stage changes, churn,
    schedules). Idempotent: a cause starts its play once however often this runs."""
    from health.playbooks import playbooks_sweep

    return playbooks_sweep()


@shared_task(**RETRY_TRANSIENT)
def send_playbook_emails() -> int:
    """Beat, every minute: send the playbook emails that are due (the outbox)."""
    from health.playbooks import playbook_emails_send_due

    return playbook_emails_send_due()
