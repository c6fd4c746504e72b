"""Background jobs for metrics: keep the monthly revenue facts in step with the revenue
history, and recompute the RFM scores nightly. All are idempotent (a rebuild rewrites the same rows) and safe to kill (a rebuild
is one transaction)."""

from __future__ import annotations

import datetime as dt

from celery import shared_task
from django.core.cache import cache
from django.db.models import Count, Max
from django.utils import timezone

from core.db import single_run
from core.tasks import RETRY_TRANSIENT
from customers.models import RevenueChange
from metrics.selectors.cohorts import cohort_fits_warm
from metrics.services import account_months_rebuild

FINGERPRINT_KEY = "metrics:facts-fingerprint"
FINGERPRINT_SECONDS = 2 * 24 * 60 * 60


def revenue_fingerprint() -> str:
    """What the facts were built from: how many changes are in force and the newest id. A
    new change, or a future-dated one coming into force, changes it (one indexed query)."""
    row = RevenueChange.objects.filter(effective_at__lte=timezone.now()).aggregate(
        n=Count("id"), last=Max("id")
    )
    return f"{row['n']}:{row['last']}"


@shared_task(**RETRY_TRANSIENT)
def rebuild_account_months() -> int:
    """Beat, nightly: rebuild every month's facts (heals anything a missed run left)."""
    return _rebuild(revenue_fingerprint())


def _rebuild(fingerprint: str) -> int:
    """Rebuild, remember what from, and fit the default cohorts so the Retention page's first
    view finds them cached. The fingerprint is read before the rebuild: a change landing during
    it makes the next check rebuild again, never skip."""
    written = account_months_rebuild()
    cache.set(FINGERPRINT_KEY, fingerprint, FINGERPRINT_SECONDS)
    cohort_fits_warm()
    return written


@shared_task(**RETRY_TRANSIENT)
def rebuild_account_months_if_changed() -> int | None:
    """After revenue changes (debounced, see ``metrics.receivers``) and every few minutes on
    the beat: rebuild only when the revenue history differs from what the facts were built
    from, so touches that are not revenue (usage, tickets) cost one small query."""
    fingerprint = revenue_fingerprint()
    if cache.get(FINGERPRINT_KEY) == fingerprint:
        return None
    return _rebuild(fingerprint)


@shared_task(**RETRY_TRANSIENT)
def recompute_rfm(day: str | None = None, force: bool = False) -> int | None:
    """Beat, nightly: every account's RFM scores for the day. Returns how many accounts were
    scored, or None when there was nothing to do: the day's scores are already stored (a beat
    that fired twice, a worker restart) or another run holds the lock."""
    from metrics.rfm import rfm_computed_on, rfm_recompute

    today = dt.date.fromisoformat(day) if day else timezone.localdate()
    if not force and rfm_computed_on() == today:
        return None
    with single_run("metrics.recompute_rfm") as held:
        if not held:
            return None
        return rfm_recompute(today=today)
