"""What the health app does when data it scores changes: mark the accounts, and in production
queue one recompute of every marked account a moment later (debounced: the busy accounts of
many ingest batches are scored together). In the embedded mode the marks wait for
``run_scheduled``, so an import or an ingest batch is never slowed by scoring inline."""

from __future__ import annotations

from celery import current_app
from django.core.cache import cache

from health.services import health_mark_dirty

FLUSH_DELAY_SECONDS = 1
FLUSH_QUEUED_KEY = "health:flush-queued"


def _flush_soon() -> None:
    if current_app.conf.task_always_eager:
        return
    # One flush in flight at a time: later marks ride on it, or on the next one.
    if cache.add(FLUSH_QUEUED_KEY, 1, timeout=FLUSH_DELAY_SECONDS + 1):
        from health.tasks import recompute_health_dirty

        recompute_health_dirty.apply_async(countdown=FLUSH_DELAY_SECONDS)


def on_accounts_touched(sender, account_ids: list[int], **kwargs) -> None:
    health_mark_dirty(account_ids=account_ids)
    _flush_soon()


def on_response_saved(sender, response_id: int, **kwargs) -> None:
    from surveys.models import Response

    account_id = (
        Response.objects.filter(pk=response_id).values_list("account_id", flat=True).first()
    )
    if account_id is not None:
        health_mark_dirty(account_ids=[account_id])
        _flush_soon()


def on_segment_entered(sender, segment_id: int, account_ids: list[int], **kwargs) -> None:
    """Accounts entered a saved segment (announced after the membership refresh commits):
    start the plays keyed to it, once per account and day of entry."""
    from health.playbooks import playbooks_on_segment_entry

    playbooks_on_segment_entry(segment_id=segment_id, account_ids=account_ids)
