"""Background jobs for customers. Each takes ids (or nothing), is idempotent and safe to kill:
re-running recomputes the same derived values from the histories."""

from __future__ import annotations

import datetime as dt

from celery import shared_task
from django.db import OperationalError
from django.utils import timezone

from customers.models import Account, RevenueChange
from customers.services import accounts_refresh_revenue

TRANSIENT_ERRORS = (OperationalError,)


@shared_task(
    acks_late=True,
    autoretry_for=TRANSIENT_ERRORS,
    retry_backoff=True,
    retry_jitter=True,
    max_retries=5,
)
def refresh_account_revenue(lookback_hours: int = 26) -> int:
    """Apply future-dated revenue changes once their date has come.

    Only accounts with a change that became effective in the lookback window are touched, so
    the hourly run stays cheap at 100k accounts; the window overlaps runs so a missed beat or a
    killed worker is caught up by the next one.
    """
    now = timezone.now()
    since = now - dt.timedelta(hours=lookback_hours)
    due = RevenueChange.objects.filter(effective_at__gt=since, effective_at__lte=now)
    return accounts_refresh_revenue(
        accounts=Account.objects.filter(pk__in=due.values("account_id")), now=now
    )
