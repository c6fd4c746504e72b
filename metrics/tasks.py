"""Background jobs for metrics. Each is idempotent and safe to kill (see each service)."""

from __future__ import annotations

import datetime as dt

from celery import shared_task
from django.db import OperationalError
from django.utils import timezone

from core.db import single_run

TRANSIENT_ERRORS = (OperationalError,)
RETRY = {
    "acks_late": True,
    "autoretry_for": TRANSIENT_ERRORS,
    "retry_backoff": True,
    "retry_backoff_max": 300,
    "retry_jitter": True,
    "max_retries": 5,
}


@shared_task(**RETRY)
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
