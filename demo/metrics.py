"""The demo's finance rows and monthly revenue facts, so a fresh ``make run`` shows the
Revenue and Retention dashboards filled, LTV and LTV:CAC included, instead of waiting for
the nightly rebuild."""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

from metrics.filters import add_months, month_start
from metrics.models import PeriodFinance
from metrics.services import account_months_rebuild

FINANCE_MONTHS = 24


def seed_metrics(*, rng: random.Random, now: dt.datetime, stdout=None) -> None:
    """A gross margin near 80 % and a CAC near 1,100 for each of the last 24 months (kept
    over a --flush-demo: finance rows are not demo accounts' data), then one rebuild."""
    current = month_start(now.astimezone(dt.UTC).date())
    for i in range(FINANCE_MONTHS):
        month = add_months(current, -i)
        PeriodFinance.objects.get_or_create(
            month=month,
            defaults={
                "gross_margin": Decimal(rng.randint(7600, 8400)) / 10000,
                "cac": Decimal(rng.randint(90000, 130000)) / 100,
            },
        )
    rows = account_months_rebuild(now=now)
    if stdout is not None:
        stdout.write(
            f"Metrics: {rows} account-months rebuilt, finance for {FINANCE_MONTHS} months."
        )
