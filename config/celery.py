"""The Celery application and the one place where the beat schedule lives.

Every periodic task carries ``expires`` so a beat that fired while workers were down does not
leave a pile of stale runs behind: the next tick does the same work anyway.
"""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("tenure")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

HOUR = 60 * 60
DAY = 24 * HOUR

app.conf.beat_schedule = {
    "customers-refresh-account-revenue": {
        "task": "customers.tasks.refresh_account_revenue",
        "schedule": HOUR,
        "options": {"expires": HOUR - 60},
    },
    # Every account, daily: heals derived MRR after an outage longer than the hourly window.
    "customers-refresh-all-account-revenue": {
        "task": "customers.tasks.refresh_account_revenue",
        "schedule": DAY,
        "kwargs": {"lookback_hours": None},
        "options": {"expires": HOUR},
    },
    "customers-resume-stalled-imports": {
        "task": "customers.tasks.resume_stalled_imports",
        "schedule": 5 * 60,
        "options": {"expires": 5 * 60 - 10},
    },
    # Segment messages parked for an account or contact that did not exist yet: apply those
    # whose record has appeared (through the API, an import, the admin), give up the old ones.
    "customers-sweep-parked-messages": {
        "task": "customers.tasks.sweep_parked_messages",
        "schedule": 10 * 60,
        "options": {"expires": 10 * 60 - 10},
    },
    # Saved segments' members: who newly matches is announced (segment_entered) for playbooks.
    # A missed run is caught up by the next one, which diffs against the stored members.
    "customers-refresh-segment-memberships": {
        "task": "customers.tasks.refresh_segment_memberships",
        "schedule": 15 * 60,
        "options": {"expires": 15 * 60 - 10},
    },
    # Every account's health snapshot for the day, split into id ranges that workers share.
    # A rerun replaces the day's snapshots, so an overlap with the previous run is harmless.
    "health-recompute-all": {
        "task": "health.tasks.recompute_health_all",
        "schedule": DAY,
        "options": {"expires": 6 * HOUR},
    },
    # Accounts whose data changed: normally scored a second after the change; this catches
    # what a lost message left, and is how the embedded mode scores them.
    "health-recompute-dirty": {
        "task": "health.tasks.recompute_health_dirty",
        "schedule": 30,
        "options": {"expires": 25},
    },
    # Snoozes that ended: the alert is open again on the CSM's list within five minutes.
    "health-wake-snoozed-alerts": {
        "task": "health.tasks.wake_snoozed_alerts",
        "schedule": 300,
        "options": {"expires": 290},
    },
    # Playbooks whose triggers are found by looking: stage changes, churn, schedules.
    "health-run-playbook-triggers": {
        "task": "health.tasks.run_playbook_triggers",
        "schedule": 600,
        "options": {"expires": 590},
    },
    "health-send-playbook-emails": {
        "task": "health.tasks.send_playbook_emails",
        "schedule": 60,
        "options": {"expires": 55},
    },
    # Every account's RFM scores, replaced in one transaction; a second run the same day
    # returns at once, and a missed night is made up by the next one.
    "metrics-recompute-rfm": {
        "task": "metrics.tasks.recompute_rfm",
        "schedule": DAY,
        "options": {"expires": 6 * HOUR},
    },
    "surveys-send-due-invitations": {
        "task": "surveys.tasks.send_due_invitations",
        "schedule": 60,
        "options": {"expires": 55},
    },
    "surveys-run-due-campaigns": {
        "task": "surveys.tasks.run_due_campaigns",
        "schedule": 5 * 60,
        "options": {"expires": 5 * 60 - 10},
    },
    "surveys-announce-responses": {
        "task": "surveys.tasks.announce_responses",
        "schedule": 10,
        "options": {"expires": 9},
    },
    "surveys-send-reminders": {
        "task": "surveys.tasks.send_reminders",
        "schedule": HOUR,
        "options": {"expires": HOUR - 60},
    },
    # The repair job: follow-ups for unhappy answers that have none. Late is fine (the
    # receivers make them at once); a missed day is made up by the next one.
    "surveys-create-missing-follow-ups": {
        "task": "surveys.tasks.create_missing_follow_ups",
        "schedule": DAY,
        "options": {"expires": HOUR},
    },
    # The loyalty ledger's night: pending points become spendable, lapsed points expire
    # (deterministic entry keys: a rerun writes nothing twice); and tiers follow the points
    # earned. Both set-based and idempotent; each locks members in id order, so the two never
    # deadlock each other (a transient error is retried).
    "loyalty-run-nightly-ledger": {
        "task": "loyalty.tasks.run_nightly_ledger",
        "schedule": DAY,
        "options": {"expires": 6 * HOUR},
    },
    "loyalty-recalculate-tiers": {
        "task": "loyalty.tasks.recalculate_tiers",
        "schedule": DAY,
        "options": {"expires": 6 * HOUR},
    },
    # The earning engine's night: anniversaries, birthdays, last month's revenue and events a
    # lost signal left unpaid. Every award is keyed by rule and cause, so a rerun pays nothing.
    "loyalty-earn-nightly": {
        "task": "loyalty.earning_tasks.earn_nightly",
        "schedule": DAY,
        "options": {"expires": 6 * HOUR},
    },
    # Points expiring in the program's warning days: one email per contact, in their language.
    "loyalty-send-expiry-warnings": {
        "task": "loyalty.earning_tasks.send_expiry_warnings",
        "schedule": DAY,
        "options": {"expires": 6 * HOUR},
    },
    # Monthly revenue facts (metrics): every month rebuilt nightly; between nights, rebuilt
    # when the revenue history changed (a new change, or a future-dated one now in force).
    "metrics-rebuild-account-months": {
        "task": "metrics.tasks.rebuild_account_months",
        "schedule": DAY,
        "options": {"expires": 6 * HOUR},
    },
    "metrics-rebuild-account-months-if-changed": {
        "task": "metrics.tasks.rebuild_account_months_if_changed",
        "schedule": 10 * 60,
        "options": {"expires": 10 * 60 - 10},
    },
}
