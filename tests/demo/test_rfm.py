"""The demo's RFM scores: computed at the end of seed_demo from its payments and revenue."""

from __future__ import annotations

import datetime as dt
import random

import pytest
from django.db.models import Count

from customers.models import Account
from demo.customers import demo_seed
from demo.rfm import seed_rfm
from metrics.models import AccountRfm, RfmRun

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2025, 6, 15, tzinfo=dt.UTC)


def test_the_demo_scores_its_paying_and_free_accounts_into_several_segments():
    demo_seed(accounts=120, seed=42, now=NOW)
    seed_rfm(rng=random.Random(46), now=NOW)
    run = RfmRun.objects.get()
    assert run.as_of == NOW.date()
    assert run.scored == AccountRfm.objects.count() > 60
    by_basis = dict(AccountRfm.objects.values_list("basis").annotate(n=Count("pk")))
    assert by_basis.get("paying", 0) > 30
    segments = set(AccountRfm.objects.values_list("segment", flat=True))
    assert len(segments) >= 6
    assert AccountRfm.objects.count() <= Account.objects.count()
