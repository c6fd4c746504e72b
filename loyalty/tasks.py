"""Background jobs for loyalty: the nightly ledger run and the tier recalculation. Both are
set-based, one transaction each, and idempotent (a rerun, or a run after one that was killed,
does the remaining work and nothing twice)."""

from __future__ import annotations

from celery import shared_task

from core.tasks import RETRY_TRANSIENT
from loyalty.services import lots_activate, lots_expire, tiers_recalculate


@shared_task(**RETRY_TRANSIENT)
def run_nightly_ledger() -> dict[str, int]:
    """Activate the pending lots that are due, then expire the lapsed ones (activation first,
    so a lot both due and lapsed is expired, not left pending)."""
    activated = lots_activate()
    expired = lots_expire()
    return {"activated": activated, "expired": expired}


@shared_task(**RETRY_TRANSIENT)
def recalculate_tiers() -> int:
    """Every member's tier from its window points: upgrades, due downgrades, ended floors.
    Returns the number of tier changes written."""
    return tiers_recalculate()
