"""Satisfaction ↔ churn (docs/domain/satisfaction-churn.md): churn rate by latest NPS category
and latest CSAT band, counted in one SQL query, against a case worked by hand. Runs on SQLite
and on PostgreSQL (DATABASE_URL)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from customers.models import Account
from metrics.selectors import satisfaction as selectors
from tests.customers.factories import make_account
from tests.metrics.satisfaction_factories import END, START, at, make_book

pytestmark = pytest.mark.django_db


@pytest.fixture
def book(db):
    return make_book()


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
    make_account(first_paid_at=at(2026, 1, 1))
    result = selectors.satisfaction_churn(start=at(2020, 1, 1), end=at(2020, 2, 1))
    assert (result.accounts, result.churned, result.rate) == (0, 0, None)
    assert not result.answered
    assert [g.rate for g in result.nps] == [None, None, None, None]


def test_it_is_two_queries_whatever_the_number_of_accounts(book, django_assert_num_queries):
    with django_assert_num_queries(2):
        selectors.satisfaction_churn(start=START, end=END)


def test_every_account_reads_the_same_as_the_whole_book_passed_as_a_narrowing(book):
    """The unnarrowed read tests the accounts on the answers' own join; passing every account
    takes the semi-join path. Both must group the same accounts the same way."""
    whole = selectors.satisfaction_churn(start=START, end=END)
    narrowed = selectors.satisfaction_churn(start=START, end=END, accounts=Account.objects.all())
    assert whole == narrowed
    assert whole.answered
