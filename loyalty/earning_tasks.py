"""Background jobs of the earning engine. Each takes ids (or nothing) and is idempotent:
every award is keyed by its rule and cause, so a rerun, a replay or a job killed half-way
and run again pays each cause once."""

from __future__ import annotations

from celery import shared_task
from django.utils import timezone

from core.tasks import RETRY_TRANSIENT
from loyalty import earning


@shared_task(**RETRY_TRANSIENT)
def earn_events(account_ids: list[int]) -> int:
    """Pay the event and referral rules for these accounts' recent events."""
    return earning.earn_for_events(account_ids=account_ids, now=timezone.now())


@shared_task(**RETRY_TRANSIENT)
def earn_response(response_id: int) -> int:
    """Pay the survey rules for one answer (nothing when the answer is gone)."""
    return earning.earn_for_responses(response_ids=[response_id], now=timezone.now())


@shared_task(**RETRY_TRANSIENT)
def earn_nightly() -> dict[str, int]:
    """Beat, nightly: anniversaries, birthdays, last month's revenue and the events catch-up."""
    return earning.earn_nightly(now=timezone.now())


@shared_task(**RETRY_TRANSIENT)
def send_expiry_warnings() -> int:
    """Beat, daily: warn contacts whose account's points expire in the warning days."""
    from loyalty.earning_emails import expiry_warnings_send

    return expiry_warnings_send(now=timezone.now())
