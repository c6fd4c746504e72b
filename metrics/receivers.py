"""What metrics does when account data changes: in production, queue one check-and-rebuild
of the monthly revenue facts a minute later (debounced: one in flight whatever the number of
changes; the task rebuilds only if the revenue history really changed). In the embedded mode
(tasks run eagerly) nothing runs inline: ``run_scheduled`` runs the beat's check instead, so
an import is never slowed by a rebuild."""

from __future__ import annotations

from celery import current_app
from django.core.cache import cache

REBUILD_DELAY_SECONDS = 60
REBUILD_QUEUED_KEY = "metrics:rebuild-queued"


def on_accounts_touched(sender, account_ids: list[int], **kwargs) -> None:
    if current_app.conf.task_always_eager:
        return
    if cache.add(REBUILD_QUEUED_KEY, 1, timeout=REBUILD_DELAY_SECONDS):
        from metrics.tasks import rebuild_account_months_if_changed

        rebuild_account_months_if_changed.apply_async(
            countdown=REBUILD_DELAY_SECONDS, expires=REBUILD_DELAY_SECONDS * 10
        )
