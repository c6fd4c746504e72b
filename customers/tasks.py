"""Background jobs for customers. Each takes ids (or nothing), is idempotent and safe to kill:
re-running recomputes the same derived values from the histories."""

from __future__ import annotations

import datetime as dt
import logging

from celery import Task, shared_task
from django.db import OperationalError
from django.utils import timezone

from core.tasks import RETRY_TRANSIENT
from customers.imports.steps import (
    import_failure_message,
    import_job_apply,
    import_job_fail,
    import_job_validate,
)
from customers.ingest import parked
from customers.models import Account, RevenueChange, Segment
from customers.segments import SegmentRulesError
from customers.selectors import import_jobs_stalled
from customers.services import accounts_refresh_revenue, segment_memberships_refresh

TRANSIENT_ERRORS = (OperationalError,)
logger = logging.getLogger(__name__)


@shared_task(
    acks_late=True,
    autoretry_for=TRANSIENT_ERRORS,
    retry_backoff=True,
    retry_jitter=True,
    max_retries=5,
)
def refresh_account_revenue(lookback_hours: int | None = 26) -> int:
    """Apply future-dated revenue changes once their date has come.

    Only accounts with a change that became effective in the lookback window are touched, so
    the hourly run stays cheap at 100k accounts; the window overlaps runs so a missed beat or a
    killed worker is caught up by the next one. ``None`` re-derives every account: the daily
    run, which also heals an outage longer than the window (one UPDATE, seconds at 100k).
    """
    now = timezone.now()
    if lookback_hours is None:
        return accounts_refresh_revenue(now=now)
    since = now - dt.timedelta(hours=lookback_hours)
    due = RevenueChange.objects.filter(effective_at__gt=since, effective_at__lte=now)
    return accounts_refresh_revenue(
        accounts=Account.objects.filter(pk__in=due.values("account_id")), now=now
    )


# --- CSV import ----------------------------------------------------------------------------


class ImportTask(Task):
    """Marks the import failed when its task gives up (a bug, or a database that stayed down
    through every retry), so its page stops polling and says what happened. A killed worker is
    not a failure: with acks_late the message comes back and the job resumes."""

    def on_failure(self, exc, task_id, args, kwargs, einfo) -> None:
        job_id = kwargs.get("job_id", args[0] if args else None)
        if job_id is None:
            return
        try:
            import_job_fail(job_id=job_id, error=import_failure_message(exc))
        except Exception:  # the database may be what failed; the log has the first error
            logger.exception("could not mark import %s as failed", job_id)


IMPORT_TASK_OPTIONS = {
    "base": ImportTask,
    "acks_late": True,
    "autoretry_for": TRANSIENT_ERRORS,
    "retry_backoff": True,
    "retry_backoff_max": 120,
    "retry_jitter": True,
    "max_retries": 5,
}


@shared_task(**IMPORT_TASK_OPTIONS)
def validate_import(job_id: int) -> str | None:
    """Check an uploaded file; returns at once if the job is gone or no longer validating."""
    job = import_job_validate(job_id=job_id)
    return job.status if job else None


@shared_task(**IMPORT_TASK_OPTIONS)
def apply_import(job_id: int) -> str | None:
    """Apply a confirmed import; returns at once if the job is gone or not importing."""
    job = import_job_apply(job_id=job_id)
    return job.status if job else None


@shared_task(acks_late=True)
def resume_stalled_imports() -> int:
    """Beat: queue again the imports whose task was lost, so none waits forever. The tasks
    resume from the job's committed progress, and two at once take turns chunk by chunk."""
    checking, writing = import_jobs_stalled()
    for job_id in checking:
        validate_import.delay(job_id)
    for job_id in writing:
        apply_import.delay(job_id)
    return len(checking) + len(writing)


# --- parked Segment messages ---------------------------------------------------------------


@shared_task(**RETRY_TRANSIENT)
def apply_parked_messages(parked_ids: list[int]) -> dict[str, int]:
    """Apply parked Segment messages whose account or contact has just been written. Rows
    already applied (gone) or given up are skipped, so a re-run or a late duplicate is a
    no-op; a database that stays down through the retries leaves them to the sweep."""
    return parked.apply(ids=parked_ids)


@shared_task(**RETRY_TRANSIENT)
def sweep_parked_messages() -> dict[str, int]:
    """Beat: apply the parked messages whose account or contact appeared some other way, and
    give up (keeping them, with why) those waiting longer than parked.PARKED_MAX_AGE."""
    return parked.sweep()


# --- segment membership --------------------------------------------------------------------


@shared_task(
    acks_late=True,
    autoretry_for=TRANSIENT_ERRORS,
    retry_backoff=True,
    retry_backoff_max=300,
    retry_jitter=True,
    max_retries=5,
)
def refresh_segment_memberships() -> int:
    """Beat: bring every segment's members in line with its rules and announce the accounts
    that entered (``segment_entered``). Each segment commits on its own, so a retry after a
    transient error redoes only what is left: a segment already refreshed finds no change.
    A segment whose stored rules no longer read is logged and skipped, not retried. Returns
    how many accounts entered a segment."""
    entered = 0
    for segment_id in Segment.objects.order_by("pk").values_list("pk", flat=True):
        try:
            entered += len(segment_memberships_refresh(segment_id=segment_id))
        except SegmentRulesError as error:
            logger.warning("segment %s not refreshed: %s", segment_id, "; ".join(error.messages))
    return entered
