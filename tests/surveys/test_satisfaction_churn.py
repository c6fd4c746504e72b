"""Satisfaction ↔ churn (docs/domain/satisfaction-churn.md): churn rate by latest NPS category
and latest CSAT band, counted in one SQL query, against a case worked by hand. Runs on SQLite
and on PostgreSQL (DATABASE_URL)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from customers.models import Account
from surveys import selectors
from surveys.models import Response
from tests.customers.factories import make_account
from tests.surveys.factories import make_answer, make_survey

pytestmark = pytest.mark.django_db

START = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
END = dt.datetime(2026, 4, 1, tzinfo=dt.UTC)


def _at(y: int, m: int, d: int) -> dt.datetime:
    return dt.datetime(y, m, d, 12, tzinfo=dt.UTC)


def _account(paid: dt.datetime, churned: dt.datetime | None = None, **fields) -> Account:
    return make_account(first_paid_at=paid, churned_at=churned, **fields)


def _said(survey, account: Account, score: int, at: dt.datetime) -> None:
    response = make_answer(survey, score, acc=account)
    Response.objects.filter(pk=response.pk).update(created_at=at, updated_at=at)


@pytest.fixture
def book():
    """Q1 2026. Paying at the start: A1–A6, A9, A10 (8). Churned in Q1: A2–A5 (4).

    A1 promoter (9), CSAT 5, stays.            A2 detractor (3), CSAT 1, churns in Feb.
    A3 promoter then detractor (2), churns.    A4 passive (8), churns, then says 0 after.
    A5 no answer, churns in Jan.               A6 no answer, CSAT 3, stays.
    A7 first paid in Feb: not at risk.         A8 churned in Dec 2025: not at risk.
    A9 promoter (10) in Jan, churns in May (after the period): stays in Q1.
    A10 only answered after the period's end: no answer.
    """
    nps, csat = make_survey("nps"), make_survey("csat")
    paid = _at(2025, 1, 15)
    a1 = _account(paid, plan="Pro")
    _said(nps, a1, 9, _at(2025, 12, 1))
    _said(csat, a1, 5, _at(2025, 12, 2))
    a2 = _account(paid, _at(2026, 2, 10), plan="Pro")
    _said(nps, a2, 3, _at(2025, 11, 1))
    _said(csat, a2, 1, _at(2025, 11, 2))
    a3 = _account(_at(2025, 6, 1), _at(2026, 3, 1), plan="Pro")
    _said(nps, a3, 10, _at(2025, 10, 1))
    _said(nps, a3, 2, _at(2026, 1, 15))
    a4 = _account(_at(2025, 6, 1), _at(2026, 3, 10))
    _said(nps, a4, 8, _at(2025, 12, 20))
    _said(nps, a4, 0, _at(2026, 3, 20))  # after it churned: not what it said before leaving
    _account(paid, _at(2026, 1, 5))  # A5
    a6 = _account(paid)
    _said(csat, a6, 3, _at(2025, 9, 1))
    a7 = _account(_at(2026, 2, 1))
    _said(nps, a7, 0, _at(2026, 2, 5))
    a8 = _account(paid, _at(2025, 12, 1))
    _said(nps, a8, 0, _at(2025, 11, 1))
    a9 = _account(paid, _at(2026, 5, 1))
    _said(nps, a9, 10, _at(2026, 1, 10))
    a10 = _account(paid)
    _said(nps, a10, 1, _at(2026, 4, 15))
    _account(None)  # never paid: not at risk
    return nps, csat


def _table(groups) -> dict[str, tuple[int, int, Decimal | None]]:
    return {g.key: (g.accounts, g.churned, g.rate) for g in groups}


def test_churn_rate_by_latest_nps_category_matches_the_hand_count(book):
    result = selectors.satisfaction_churn(start=START, end=END)
    assert (result.accounts, result.churned, result.rate) == (8, 4, Decimal("50.0"))
    assert _table(result.nps) == {
        "promoter": (2, 0, Decimal("0.0")),  # A1, A9
        "passive": (1, 1, Decimal("100.0")),  # A4
        "detractor": (2, 2, Decimal("100.0")),  # A2, A3
        "no_answer": (3, 1, Decimal("33.3")),  # A5 churned; A6, A10 stayed
    }


def test_churn_rate_by_latest_csat_band_matches_the_hand_count(book):
    result = selectors.satisfaction_churn(start=START, end=END)
    assert _table(result.csat) == {
        "satisfied": (1, 0, Decimal("0.0")),  # A1
        "neutral": (1, 0, Decimal("0.0")),  # A6
        "unsatisfied": (1, 1, Decimal("100.0")),  # A2
        "no_answer": (5, 3, Decimal("60.0")),  # A3, A4, A5 churned; A9, A10 stayed
    }
    assert result.answered


def test_the_accounts_can_be_narrowed_to_a_plan(book):
    result = selectors.satisfaction_churn(
        start=START, end=END, accounts=Account.objects.filter(plan="Pro")
    )
    assert (result.accounts, result.churned) == (3, 2)  # A1, A2, A3
    assert _table(result.nps)["detractor"] == (2, 2, Decimal("100.0"))
    assert _table(result.nps)["passive"] == (0, 0, None)


def test_a_period_before_anyone_paid_has_no_rate_and_no_answers():
    make_account(first_paid_at=_at(2026, 1, 1))
    result = selectors.satisfaction_churn(start=_at(2020, 1, 1), end=_at(2020, 2, 1))
    assert (result.accounts, result.churned, result.rate) == (0, 0, None)
    assert not result.answered
    assert [g.rate for g in result.nps] == [None, None, None, None]


def test_it_is_one_query_whatever_the_number_of_accounts(book, django_assert_num_queries):
    with django_assert_num_queries(1):
        selectors.satisfaction_churn(start=START, end=END)
