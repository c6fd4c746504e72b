"""The demo's revenue dashboards are filled: finance rows and rebuilt monthly facts with
every movement kind in them."""

from __future__ import annotations

import datetime as dt
import random

import pytest

from demo.customers import demo_seed
from demo.metrics import FINANCE_MONTHS, seed_metrics
from metrics.filters import DashboardFilters
from metrics.models import AccountMonth, PeriodFinance
from metrics.selectors.revenue import revenue_report

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2025, 6, 15, tzinfo=dt.UTC)


def test_the_demo_has_finance_and_a_year_and_a_half_of_movements(csm_user):
    demo_seed(accounts=200, seed=42, now=NOW)
    seed_metrics(rng=random.Random(1), now=NOW)
    assert PeriodFinance.objects.count() == FINANCE_MONTHS
    kinds = set(AccountMonth.objects.values_list("movement", flat=True).distinct())
    assert {"new", "expansion", "contraction", "churn"} <= kinds
    months = AccountMonth.objects.values_list("month", flat=True).distinct().count()
    assert months >= 18
    report = revenue_report(
        filters=DashboardFilters(dt.date(2024, 7, 1), dt.date(2025, 6, 1)), user=csm_user
    )
    assert report.has_history and report.months[-1].closing > 0
    for month in report.months:
        assert month.movements.closing(month.opening) == month.closing
    seed_metrics(rng=random.Random(1), now=NOW)  # a second run keeps one row a month
    assert PeriodFinance.objects.count() == FINANCE_MONTHS
