"""The demo's loyalty program: a year of history written as valid ledger rows, so the
reconcile finds nothing to report, and the pages have something real to show."""

from __future__ import annotations

import datetime as dt
import random
import time
from io import StringIO

import pytest
from django.core.management import call_command
from django.db.models import Sum

from demo.customers import demo_flush, demo_seed
from demo.loyalty import seed_loyalty
from demo.management.commands.seed_demo import APP_SEEDERS
from loyalty.models import EntryKind, LedgerEntry, Member, Redemption, RedemptionState
from loyalty.selectors import ledger_mismatches

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2025, 6, 15, tzinfo=dt.UTC)


def test_seed_demo_lists_the_loyalty_seeder():
    assert "demo.loyalty.seed_loyalty" in APP_SEEDERS


def test_the_demo_builds_a_year_of_history_fast_that_reconciles_with_no_mismatch(
    django_assert_max_num_queries,
):
    demo_seed(accounts=150, seed=42, now=NOW)
    started = time.perf_counter()
    seed_loyalty(rng=random.Random(45), now=NOW)
    seconds = time.perf_counter() - started

    out = StringIO()
    call_command("reconcile_loyalty", stdout=out)
    assert "mismatches=0" in out.getvalue()
    assert ledger_mismatches().total == 0
    kinds = dict(
        LedgerEntry.objects.order_by()
        .values("kind")
        .annotate(n=Sum("points"))
        .values_list("kind", "n")
    )
    assert Member.objects.count() > 50
    assert kinds[EntryKind.EARN] > 0
    assert kinds[EntryKind.SPEND] < 0
    assert kinds[EntryKind.EXPIRE] < 0
    first = LedgerEntry.objects.order_by("created_at").first().created_at
    assert NOW - first > dt.timedelta(days=360)
    states = set(Redemption.objects.values_list("state", flat=True))
    assert {RedemptionState.FULFILLED, RedemptionState.CANCELLED} <= states
    assert Member.objects.filter(tier__isnull=False).exists()
    assert seconds < 15

    demo_flush()  # --flush-demo takes the program's history with the accounts
    assert (Member.objects.count(), LedgerEntry.objects.count()) == (0, 0)
