"""MRR is derived from the dated revenue history, never typed twice (docs/domain/revenue.md)."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from customers.models import Account, ExchangeRate, RevenueChange
from customers.services import accounts_refresh_revenue, revenue_change_record
from customers.tasks import refresh_account_revenue

pytestmark = pytest.mark.django_db

NOW = timezone.now()


def days_ago(n: int) -> dt.datetime:
    return NOW - dt.timedelta(days=n)


@pytest.fixture
def account():
    return Account.objects.create(external_id="acc-1", name="Acme", currency="USD")


def test_it_infers_start_change_cancel_and_reactivation(account):
    kinds = [
        revenue_change_record(account=account, mrr=Decimal("100"), effective_at=days_ago(90)).kind,
        revenue_change_record(account=account, mrr=Decimal("150"), effective_at=days_ago(60)).kind,
        revenue_change_record(account=account, mrr=Decimal("0"), effective_at=days_ago(30)).kind,
        revenue_change_record(account=account, mrr=Decimal("80"), effective_at=days_ago(10)).kind,
    ]
    assert kinds == ["started", "changed", "cancelled", "reactivated"]
    account.refresh_from_db()
    assert account.mrr == Decimal("80.00")
    assert account.first_paid_at == days_ago(90)
    assert account.churned_at is None


def test_a_cancellation_marks_the_account_churned(account):
    revenue_change_record(account=account, mrr=Decimal("100"), effective_at=days_ago(40))
    revenue_change_record(account=account, mrr=Decimal("0"), effective_at=days_ago(5))
    account.refresh_from_db()
    assert (account.mrr, account.churned_at) == (Decimal("0"), days_ago(5))


def test_a_backdated_change_does_not_override_a_later_one(account):
    revenue_change_record(account=account, mrr=Decimal("200"), effective_at=days_ago(5))
    revenue_change_record(account=account, mrr=Decimal("100"), effective_at=days_ago(50))
    account.refresh_from_db()
    assert account.mrr == Decimal("200.00")
    assert account.first_paid_at == days_ago(50)


def test_a_future_change_takes_effect_when_the_task_runs_after_its_date(account):
    revenue_change_record(account=account, mrr=Decimal("100"), effective_at=days_ago(10))
    change = revenue_change_record(
        account=account, mrr=Decimal("300"), effective_at=NOW + dt.timedelta(hours=1)
    )
    account.refresh_from_db()
    assert account.mrr == Decimal("100.00")
    RevenueChange.objects.filter(pk=change.pk).update(effective_at=NOW - dt.timedelta(minutes=1))
    assert refresh_account_revenue.apply().get() == 1
    account.refresh_from_db()
    assert account.mrr == Decimal("300.00")
    # running again changes nothing
    refresh_account_revenue.apply()
    account.refresh_from_db()
    assert account.mrr == Decimal("300.00")


def test_it_converts_to_the_base_currency_at_entry(account):
    account.currency = "NOK"
    account.save()
    ExchangeRate.objects.create(currency="NOK", per_base=Decimal("10"), valid_from=days_ago(100))
    change = revenue_change_record(account=account, mrr=Decimal("1000"), effective_at=days_ago(20))
    ExchangeRate.objects.create(currency="NOK", per_base=Decimal("12.5"), valid_from=days_ago(1))
    assert (change.mrr, change.currency, change.mrr_base) == (
        Decimal("1000.00"),
        "NOK",
        Decimal("100.00"),
    )
    accounts_refresh_revenue()
    account.refresh_from_db()
    assert account.mrr_base == Decimal("100.00")  # history never moves with later rates


def test_it_refuses_a_currency_without_a_rate(account):
    account.currency = "SEK"
    account.save()
    with pytest.raises(ValidationError, match="No exchange rate from SEK"):
        revenue_change_record(account=account, mrr=Decimal("10"), effective_at=days_ago(1))
    assert not RevenueChange.objects.exists()


def test_it_refuses_negative_mrr_naive_times_and_cancellations_with_money(account):
    with pytest.raises(ValidationError, match="negative"):
        revenue_change_record(account=account, mrr=Decimal("-1"), effective_at=days_ago(1))
    with pytest.raises(ValidationError, match="timezone"):
        revenue_change_record(
            account=account, mrr=Decimal("1"), effective_at=dt.datetime(2026, 1, 1)
        )
    with pytest.raises(ValidationError, match="cancellation sets MRR to 0"):
        revenue_change_record(
            account=account, mrr=Decimal("5"), effective_at=days_ago(1), kind="cancelled"
        )
    assert not RevenueChange.objects.exists()
