"""Property tests: for any generated revenue history, the real rebuild and selectors keep
the movement identity, agree with classify_movement applied account by account, and keep
GRR ≤ 100 % ≤ … and NRR ≥ GRR."""

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from customers.models import Account, RevenueChange
from customers.services import revenue_change_record
from metrics import formulas as f
from metrics.filters import DashboardFilters, add_months
from metrics.selectors.revenue import revenue_report
from metrics.services import account_months_rebuild

pytestmark = pytest.mark.django_db

START = dt.date(2025, 1, 1)
END = dt.date(2025, 12, 1)
NOW = dt.datetime(2026, 1, 5, tzinfo=dt.UTC)
AMOUNTS = st.sampled_from(["0", "0", "10", "25.50", "40", "99.99", "100", "250"])
CHANGE = st.tuples(st.integers(0, 11), st.integers(1, 28), AMOUNTS)
HISTORY = st.lists(
    st.tuples(st.sampled_from(["Pro", "Basic"]), st.lists(CHANGE, min_size=1, max_size=6)),
    min_size=1,
    max_size=5,
)


def _oracle(changes: list[tuple[dt.datetime, Decimal]]) -> dict[dt.date, f.Movement | None]:
    """classify_movement applied to one account's month-end MRRs, straight from its changes."""
    result, opening = {}, Decimal("0")
    for i in range(12):
        month = add_months(START, i)
        starts = dt.datetime.combine(month, dt.time(), tzinfo=dt.UTC)
        ends = dt.datetime.combine(add_months(month, 1), dt.time(), tzinfo=dt.UTC)
        before = [mrr for at, mrr in changes if at < ends]
        closing = before[-1] if before else Decimal("0")
        paid_before = any(mrr > 0 for at, mrr in changes if at < starts)
        result[month] = f.classify_movement(
            opening=opening, closing=closing, paid_before=paid_before
        )
        opening = closing
    return result


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(history=HISTORY)
def test_any_history_keeps_the_identity_and_the_retention_bounds(csm_user, history):
    RevenueChange.objects.all().delete()
    Account.objects.all().delete()
    expected: dict[dt.date, list] = {add_months(START, i): [] for i in range(12)}
    for n, (plan, changes) in enumerate(history):
        account = Account.objects.create(external_id=f"h{n}", name=f"H{n}", plan=plan)
        dated = sorted(
            (dt.datetime(2025, 1 + month, day, 12, tzinfo=dt.UTC) + dt.timedelta(minutes=i), amount)
            for i, (month, day, amount) in enumerate(changes)
        )
        for at, amount in dated:
            revenue_change_record(account=account, mrr=Decimal(amount), effective_at=at)
        for month, movement in _oracle([(at, Decimal(a)) for at, a in dated]).items():
            expected[month].append(movement)
    account_months_rebuild(now=NOW)

    report = revenue_report(filters=DashboardFilters(START, END), user=csm_user)
    previous_closing = Decimal("0")
    for month in report.months:
        assert month.opening == previous_closing
        assert month.movements.closing(month.opening) == month.closing
        assert month.movements == f.movements_sum(expected[month.month])
        if month.grr is not None:
            assert 0 <= month.grr <= 1
            assert month.nrr >= month.grr
        if month.logo_churn is not None:
            assert 0 <= month.logo_churn <= 1
        previous_closing = month.closing
    for plan in ("Pro", "Basic"):
        part = revenue_report(filters=DashboardFilters(START, END, plan=plan), user=csm_user)
        for month in part.months:
            assert month.movements.closing(month.opening) == month.closing
