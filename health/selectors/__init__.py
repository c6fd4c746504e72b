"""Reads for health, by concern: the score's inputs and history (:mod:`.inputs`), the facts
the risk signals read (:mod:`.signals`), alerts and playbook work for the pages and the
timeline (:mod:`.alerts`), and the CSM's day (:mod:`.day`). Every read is set-based: a fixed
handful of queries whatever the number of accounts."""

from health.selectors.alerts import account_alerts, alert_list, timeline_alerts, timeline_playbooks
from health.selectors.day import (
    FELL_POINTS,
    WORK_COLUMNS,
    alerts_for_day,
    health_fell,
    renewals_ahead,
    work_item_dicts,
    work_items,
)
from health.selectors.inputs import (
    CSAT_WINDOW,
    WINDOW,
    change_since,
    chunk_filter,
    health_history,
    health_inputs,
    overrides_in_force,
    snapshots_before,
)
from health.selectors.signals import signal_facts

__all__ = [
    "CSAT_WINDOW",
    "FELL_POINTS",
    "WINDOW",
    "WORK_COLUMNS",
    "account_alerts",
    "alert_list",
    "alerts_for_day",
    "change_since",
    "chunk_filter",
    "health_fell",
    "health_history",
    "health_inputs",
    "overrides_in_force",
    "renewals_ahead",
    "signal_facts",
    "snapshots_before",
    "timeline_alerts",
    "timeline_playbooks",
    "work_item_dicts",
    "work_items",
]
