"""The rebuild's jobs: the nightly one, the check that rebuilds only when revenue changed,
the debounced enqueue after changes, the beat entries; and the finance rows' validation."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from config.celery import app
from customers.models import Account
from metrics import formulas, receivers
from metrics.filters import add_months, default_filters
from metrics.models import AccountMonth, PeriodFinance
from metrics.selectors.cohorts import WHOLE_BOOK, cohorts
from metrics.tasks import rebuild_account_months, rebuild_account_months_if_changed
from tests.metrics.factories import at, pay

pytestmark = pytest.mark.django_db


def test_the_check_rebuilds_only_when_the_revenue_history_changed():
    account = Account.objects.create(external_id="a", name="A")
    pay(account, "100", at(2026, 1))
    assert rebuild_account_months_if_changed() == AccountMonth.objects.count() > 0
    assert rebuild_account_months_if_changed() is None  # nothing new: one small query
    pay(account, "150", at(2026, 2))
    assert rebuild_account_months_if_changed() is not None
    feb = AccountMonth.objects.get(account=account, month=dt.date(2026, 2, 1))
    assert (feb.movement, feb.movement_mrr) == ("expansion", Decimal("50.00"))


def test_the_nightly_rebuild_is_safe_twice():
    account = Account.objects.create(external_id="a", name="A")
    pay(account, "100", at(2026, 1))
    first = rebuild_account_months()
    rows = list(AccountMonth.objects.values_list("account_id", "month", "closing_mrr"))
    assert rebuild_account_months() == first
    assert list(AccountMonth.objects.values_list("account_id", "month", "closing_mrr")) == rows


def test_revenue_changes_queue_one_delayed_check(monkeypatch):
    queued = []
    monkeypatch.setattr(app.conf, "task_always_eager", False)
    monkeypatch.setattr(
        rebuild_account_months_if_changed, "apply_async", lambda **kw: queued.append(kw)
    )
    receivers.on_accounts_touched(None, account_ids=[1])
    receivers.on_accounts_touched(None, account_ids=[2])
    assert queued == [{"countdown": 60, "expires": 600}]


def test_the_embedded_mode_never_rebuilds_inline(monkeypatch):
    queued = []
    monkeypatch.setattr(
        rebuild_account_months_if_changed, "apply_async", lambda **kw: queued.append(kw)
    )
    receivers.on_accounts_touched(None, account_ids=[1])
    assert queued == []


def test_both_rebuilds_are_on_the_beat_with_an_expiry():
    entries = {v["task"]: v for v in app.conf.beat_schedule.values()}
    for task in ("rebuild_account_months", "rebuild_account_months_if_changed"):
        entry = entries[f"metrics.tasks.{task}"]
        assert 0 < entry["options"]["expires"] <= entry["schedule"]


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"month": dt.date(2026, 1, 2)}, "month"),
        ({"gross_margin": Decimal("1.2")}, "gross_margin"),
        ({"gross_margin": Decimal("-0.1")}, "gross_margin"),
        ({"cac": Decimal("0")}, "cac"),
    ],
)
def test_finance_rows_refuse_impossible_values(fields, error):
    row = PeriodFinance(
        **{"month": dt.date(2026, 1, 1), "gross_margin": Decimal("0.8"), "cac": None, **fields}
    )
    with pytest.raises(ValidationError) as caught:
        row.full_clean()
    assert error in caught.value.message_dict


def test_the_database_refuses_a_margin_above_one():
    with pytest.raises(IntegrityError), transaction.atomic():
        PeriodFinance.objects.create(month=dt.date(2026, 1, 1), gross_margin=Decimal("1.5"))


def test_finance_is_entered_in_the_admin(admin_client_):
    response = admin_client_.post(
        "/admin/metrics/periodfinance/add/",
        {"month": "2026-01-01", "gross_margin": "0.75", "cac": "320.00"},
    )
    assert response.status_code == 302
    row = PeriodFinance.objects.get()
    assert (row.gross_margin, row.cac) == (Decimal("0.75"), Decimal("320.00"))
    refused = admin_client_.post(
        "/admin/metrics/periodfinance/add/", {"month": "2026-02-01", "gross_margin": "80"}
    )
    assert refused.status_code == 200 and PeriodFinance.objects.count() == 1


def test_the_rollup_refuses_a_second_row_for_the_same_month_cohort_plan_and_no_owner():
    from metrics.models import RevenueMonth

    key = {"month": dt.date(2026, 1, 1), "cohort_month": dt.date(2026, 1, 1), "plan": "Pro"}
    RevenueMonth.objects.create(**key)
    with pytest.raises(IntegrityError), transaction.atomic():
        RevenueMonth.objects.create(**key)


def test_the_rebuild_fits_the_default_cohorts_so_the_first_retention_view_fits_none(
    monkeypatch,
):
    cache.clear()
    start = add_months(default_filters().start, 1)
    for i in range(6):  # a cohort of six, one lost each month after its second
        account = Account.objects.create(external_id=f"c{i}", name=f"C{i}")
        pay(account, "100", dt.datetime.combine(start, dt.time(12), tzinfo=dt.UTC))
        lost = add_months(start, 2 + i)
        if lost <= timezone.localdate():
            pay(account, "0", dt.datetime.combine(lost, dt.time(12), tzinfo=dt.UTC))
    rebuild_account_months()
    fits = []
    real_fit = formulas.fit_shifted_beta_geometric
    monkeypatch.setattr(
        formulas, "fit_shifted_beta_geometric", lambda s: fits.append(s) or real_fit(s)
    )
    (cohort,) = cohorts(filters=default_filters(), user=WHOLE_BOOK)
    assert cohort.fit is not None
    assert fits == []  # found in the cache the rebuild filled
    cache.clear()
    cohorts(filters=default_filters(), user=WHOLE_BOOK)
    assert len(fits) == 1  # and without it, the page would have fitted it itself
