"""The demo company's health: a weekly history of every account's score over the last 13
months, then today's, so the first screen of `make run` already shows who is at risk and the
backtest (/health/backtest/) has the scores accounts had before they churned or stayed.

The history is scored as the nightly recompute would have scored it on those days, oldest
first, so an account that churned is frozen at its last score before the churn, as it is in
production. Weekly rather than daily keeps `seed_demo` fast; the backtest takes the latest
snapshot within a week of the day it wants.
"""

from __future__ import annotations

import datetime as dt
import random

from customers.models import Account
from health.services import health_recompute

HISTORY_DAYS = 395  # 13 months: a year of outcomes, each with its score 90 days before
HISTORY_STEP_DAYS = 7


def history_days(today: dt.date) -> list[dt.date]:
    """The past days scored, oldest first: every week back from today, over HISTORY_DAYS."""
    backs = range(HISTORY_STEP_DAYS, HISTORY_DAYS + 1, HISTORY_STEP_DAYS)
    return [today - dt.timedelta(days=back) for back in reversed(backs)]


def seed_health(*, rng: random.Random, now: dt.datetime, stdout=None) -> None:
    today = now.date()
    written = 0
    for day in history_days(today):
        # Only the accounts that existed that day: nobody is scored before they signed up.
        next_midnight = dt.datetime.combine(day + dt.timedelta(days=1), dt.time.min, tzinfo=dt.UTC)
        existing = Account.objects.filter(created_at__lt=next_midnight).values_list("pk", flat=True)
        written += health_recompute(account_ids=list(existing), day=day)
    scored_today = health_recompute(day=today)
    if stdout is not None:
        stdout.write(
            f"Health: {scored_today} accounts scored, {written} past snapshots "
            f"(every {HISTORY_STEP_DAYS} days over {HISTORY_DAYS} days)."
        )


# Saved segments a CSM team keeps, so the segments page, the portfolio's segment filter and
# segment audiences have something real to show on a fresh `make run`.
DEMO_SEGMENTS = [
    (
        "Renewing soon, not green",
        "Red or yellow accounts renewing in the next 90 days: this quarter's save list.",
        [
            {"field": "health_band", "operator": "one_of", "value": "red, yellow"},
            {"field": "renewal", "operator": "within_next_days", "value": "90"},
        ],
    ),
    (
        "Enterprise promoters",
        "Enterprise accounts whose latest NPS answer was 9 or 10: references and case studies.",
        [
            {"field": "plan", "operator": "equals", "value": "Enterprise"},
            {"field": "nps_category", "operator": "equals", "value": "promoter"},
        ],
    ),
]


def seed_segments(*, rng: random.Random, now: dt.datetime, stdout=None) -> None:
    from customers.models import Segment
    from customers.services import segment_memberships_refresh, segment_save

    for name, description, rules in DEMO_SEGMENTS:
        segment = Segment.objects.filter(name=name).first()  # kept over a --flush-demo
        if segment is None:
            segment = segment_save(name=name, description=description, rules=rules)
        segment_memberships_refresh(segment_id=segment.pk, now=now)
    if stdout is not None:
        stdout.write(f"Segments: {len(DEMO_SEGMENTS)} saved.")
