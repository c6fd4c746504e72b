"""rfm_recompute against hand-computed R, F, M, quintile scores and segments, on whichever
database the suite runs (SQLite by default, PostgreSQL with DATABASE_URL)."""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

import pytest

from metrics.formulas import quintile_scores, rfm_segment
from metrics.models import AccountRfm
from metrics.rfm import SEGMENT_KEYS, rfm_recompute, segment_key, window_months
from tests.customers.factories import make_account
from tests.metrics.rfm_factories import paid, revenue, usage

pytestmark = pytest.mark.django_db

TODAY = dt.date(2026, 6, 15)  # window: July 2025 to June 2026


@pytest.fixture
def book():
    """Four paying accounts, two free ones, one churned long ago and one with nothing."""
    a = make_account(name="A steady")  # revenue history only, paid all 12 months
    revenue(a, "2025-01-10", 100, kind="started")
    b = make_account(name="B churned")  # paid September to January, then cancelled
    revenue(b, "2025-09-15", 50, kind="started")
    revenue(b, "2026-02-10", 0)
    c = make_account(name="C new")  # started in April, expanded in May
    revenue(c, "2026-04-20", 30, kind="started")
    revenue(c, "2026-05-10", 60)
    d = make_account(name="D events")  # payment events decide R and F; M from revenue
    revenue(d, "2025-05-01", 20, kind="started")
    paid(d, "2025-06-10", "2026-05-10", "2026-06-10")  # the first is before the window
    paid(d, "2026-04-10", count=2)  # two payments that day: the rollup counts both
    e = make_account(name="E free")
    usage(e, "2026-06-01", login=3, report_run=1)
    usage(e, "2026-05-01", login=1)
    usage(e, "2026-06-14", payment_failed=1)  # billing: not activity
    f = make_account(name="F free, quiet")
    usage(f, "2025-08-01", login=1)
    g = make_account(name="G churned long ago")
    revenue(g, "2024-01-01", 10, kind="started")
    revenue(g, "2025-03-01", 0)
    usage(g, "2025-05-01", login=1)
    h = make_account(name="H nothing")
    return {"a": a, "b": b, "c": c, "d": d, "e": e, "f": f, "g": g, "h": h}


def scores(book) -> dict[str, AccountRfm]:
    rows = {row.account_id: row for row in AccountRfm.objects.all()}
    return {name: rows[acc.pk] for name, acc in book.items() if acc.pk in rows}


def test_the_window_is_the_twelve_calendar_months_up_to_today():
    months = window_months(TODAY)
    assert months[0][0] == dt.date(2025, 7, 1)
    assert months[0][1] == dt.datetime(2025, 8, 1, tzinfo=dt.UTC)
    assert months[-1][0] == dt.date(2026, 6, 1)
    assert months[-1][1] == dt.datetime(2026, 6, 16, tzinfo=dt.UTC)  # the end of today
    assert len(months) == 12


def test_it_measures_r_f_and_m_as_the_rfm_doc_defines_them(book):
    assert rfm_recompute(today=TODAY) == 6
    got = scores(book)
    assert set(got) == {"a", "b", "c", "d", "e", "f"}  # G paid and was active before the window
    measured = {
        name: (row.basis, row.last_on, row.recency_days, row.frequency, row.monetary)
        for name, row in got.items()
    }
    assert measured == {
        "a": ("paying", dt.date(2026, 6, 1), 14, 12, Decimal("1200.00")),
        "b": ("paying", dt.date(2026, 1, 1), 165, 5, Decimal("250.00")),
        "c": ("paying", dt.date(2026, 6, 1), 14, 3, Decimal("150.00")),
        "d": ("paying", dt.date(2026, 6, 10), 5, 4, Decimal("240.00")),
        "e": ("free", dt.date(2026, 6, 1), 14, 2, Decimal("0.00")),
        "f": ("free", dt.date(2025, 8, 1), 318, 1, Decimal("0.00")),
    }


def test_it_scores_each_basis_by_quintile_with_ties_broken_by_account_order(book):
    rfm_recompute(today=TODAY)
    got = {name: (row.r, row.f, row.m, row.segment) for name, row in scores(book).items()}
    # Paying, n = 4, score = 1 + 5·position // 4. R: B (165 days), then A and C tied at 14
    # (A first: the lower id), then D. F: C 3, D 4, B 5, A 12. M: C, D, B, A.
    assert got["a"] == (2, 4, 4, "at_risk")
    assert got["b"] == (1, 3, 3, "at_risk")
    assert got["c"] == (3, 1, 1, "about_to_sleep")
    assert got["d"] == (4, 2, 2, "potential_loyalist")
    # Free, n = 2 (1 + 5·1 // 2 = 3), ranked apart from the paying ones; no M score.
    assert got["e"] == (3, 3, None, "need_attention")
    assert got["f"] == (1, 1, None, "hibernating")


def test_a_rerun_writes_the_same_scores_and_drops_accounts_no_longer_scored(book):
    rfm_recompute(today=TODAY)
    first = {
        r.account_id: (r.r, r.f, r.m, r.segment, r.recency_days) for r in AccountRfm.objects.all()
    }
    assert rfm_recompute(today=TODAY) == 6
    again = {
        r.account_id: (r.r, r.f, r.m, r.segment, r.recency_days) for r in AccountRfm.objects.all()
    }
    assert again == first
    # A year later F's only active day has left the window: it is no longer scored.
    rfm_recompute(today=dt.date(2026, 8, 15))
    assert not AccountRfm.objects.filter(account=book["f"]).exists()


def test_nothing_to_score_leaves_no_rows(db):
    make_account()
    assert rfm_recompute(today=TODAY) == 0
    assert not AccountRfm.objects.exists()


def test_every_score_and_segment_agrees_with_the_python_formulas():
    """Random payments with many ties: the SQL ranking gives exactly quintile_scores' answer
    and rfm_segment's segment for every account."""
    rng = random.Random(12)
    accounts = [make_account() for _ in range(37)]
    days = [TODAY - dt.timedelta(days=n) for n in (0, 3, 40, 90, 200, 300)]
    for account in accounts:
        for day in rng.sample(days, rng.randint(1, 4)):
            paid(account, day.isoformat(), count=rng.choice([1, 1, 2]))
        revenue(account, "2025-11-01", rng.choice([0, 10, 10, 25]) or 5, kind="started")
    assert rfm_recompute(today=TODAY) == 37
    rows = list(AccountRfm.objects.all())
    r = quintile_scores([(x.account_id, x.recency_days) for x in rows], higher_is_better=False)
    f = quintile_scores([(x.account_id, x.frequency) for x in rows])
    m = quintile_scores([(x.account_id, x.monetary) for x in rows])
    assert {x.account_id: (x.r, x.f, x.m) for x in rows} == {
        x.account_id: (r[x.account_id], f[x.account_id], m[x.account_id]) for x in rows
    }
    for x in rows:
        assert x.segment == SEGMENT_KEYS[rfm_segment(x.r, x.f)]
    assert sorted({x.r for x in rows}) == [1, 2, 3, 4, 5]


def test_every_pair_of_scores_maps_to_a_stored_segment_key():
    assert segment_key(5, 5) == "champions"
    assert segment_key(1, 5) == "cant_lose_them"
    assert segment_key(5, 1) == "new"
    assert {segment_key(r, f) for r in range(1, 6) for f in range(1, 6)} == set(
        SEGMENT_KEYS.values()
    )


def test_a_run_that_fails_mid_way_leaves_the_previous_scores_untouched(book, monkeypatch):
    from django.db import DatabaseError

    from metrics import rfm
    from metrics.models import RfmRun

    rfm_recompute(today=TODAY)
    before = sorted(AccountRfm.objects.values_list("account_id", "segment", "as_of"))
    monkeypatch.setattr(rfm, "_statement", lambda: "INSERT INTO no_such_table VALUES (1)")
    with pytest.raises(DatabaseError):
        rfm_recompute(today=dt.date(2026, 7, 1))  # its DELETE ran, then the INSERT failed
    assert sorted(AccountRfm.objects.values_list("account_id", "segment", "as_of")) == before
    assert list(RfmRun.objects.values_list("as_of", flat=True)) == [TODAY]
