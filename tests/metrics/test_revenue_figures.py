"""Every revenue figure of a hand-worked book, through the real rebuild and selectors."""

import datetime as dt
from decimal import Decimal as D

import pytest

from customers.models import Account, Segment, SegmentMember
from metrics.filters import DashboardFilters
from metrics.models import AccountMonth, PeriodFinance, RevenueMonth
from metrics.selectors.cohorts import cohorts
from metrics.selectors.revenue import movement_accounts, revenue_report
from metrics.services import account_months_rebuild
from tests.metrics.factories import NOW, at, hand_worked_book, pay

pytestmark = pytest.mark.django_db

PERIOD = DashboardFilters(start=dt.date(2026, 1, 1), end=dt.date(2026, 6, 1))


@pytest.fixture
def book(csm_user):
    accounts = hand_worked_book(owner=csm_user)
    account_months_rebuild(now=NOW)
    return accounts


def _by_month(report):
    return {f"{m.month:%m}": m for m in report.months}


def test_the_movements_of_each_month_are_the_hand_worked_ones(book, csm_user):
    months = _by_month(revenue_report(filters=PERIOD, user=csm_user))
    moves = {
        k: (
            m.movements.new,
            m.movements.expansion,
            m.movements.contraction,
            m.movements.churn,
            m.movements.reactivation,
        )
        for k, m in months.items()
    }
    assert moves == {
        "01": (D(400), 0, 0, 0, 0),
        "02": (0, 0, D(80), 0, 0),
        "03": (0, D(50), 0, D(100), 0),
        "04": (0, 0, 0, 0, D(70)),
        "05": (0, 0, 0, D(150), D(100)),
        "06": (0, 0, 0, 0, 0),
    }
    assert [(m.opening, m.closing) for m in months.values()] == [
        (0, D(400)),
        (D(400), D(320)),
        (D(320), D(270)),
        (D(270), D(340)),
        (D(340), D(290)),
        (D(290), D(290)),
    ]
    for m in months.values():
        assert m.movements.closing(m.opening) == m.closing


def test_an_account_that_starts_and_cancels_in_one_month_is_left_out_of_logo_churn(book, csm_user):
    feb = _by_month(revenue_report(filters=PERIOD, user=csm_user))["02"]
    assert (feb.paying_start, feb.paying_end, feb.churned_logos, feb.new_logos) == (3, 3, 0, 0)
    assert feb.logo_churn == 0
    assert not AccountMonth.objects.filter(account=book["C"], month=dt.date(2026, 2, 1)).exists()


def test_churn_grr_nrr_and_quick_ratio(book, csm_user):
    months = _by_month(revenue_report(filters=PERIOD, user=csm_user))
    mar, may = months["03"], months["05"]
    assert mar.logo_churn == D(1) / D(3)
    assert mar.logo_retention == 1 - D(1) / D(3)
    assert mar.grr == D("0.6875")
    assert mar.nrr == D("0.84375")
    assert mar.revenue_churn == D("0.3125")
    assert mar.quick_ratio == D("0.5")
    assert mar.net_new == D(-50)
    assert may.grr == D(190) / D(340)
    assert may.quick_ratio == D(100) / D(150)
    assert months["04"].quick_ratio is None  # nothing lost: no ratio, not infinity
    assert months["01"].grr is None and months["01"].logo_churn is None  # nothing to lose
    assert months["02"].nrr == D("0.8")
    assert mar.nrr_annualised == D("0.84375") ** 12


def test_arpa_ltv_and_ltv_to_cac(book, csm_user):
    PeriodFinance.objects.create(month=dt.date(2026, 1, 1), gross_margin=D("0.8"), cac=D("100"))
    jun = _by_month(revenue_report(filters=PERIOD, user=csm_user))["06"]
    assert jun.arpa == D(290) / D(3)
    # churn of the six months to June: Jan undefined, then 0, 1/3, 0, 1/3, 0 → mean 2/15
    assert jun.ltv == D("580.00")
    assert jun.ltv_to_cac == D("5.8")


def test_ltv_is_missing_with_its_reason_when_nothing_churned(csm_user):
    account = Account.objects.create(external_id="x", name="X")
    pay(account, "100", at(2026, 1))
    PeriodFinance.objects.create(month=dt.date(2025, 12, 1), gross_margin=D("0.7"))
    account_months_rebuild(now=NOW)
    jun = _by_month(revenue_report(filters=PERIOD, user=csm_user))["06"]
    assert jun.ltv is None and "no logo churn" in jun.ltv_reason
    assert jun.ltv_to_cac is None


def test_ltv_names_the_missing_gross_margin(book, csm_user):
    jun = _by_month(revenue_report(filters=PERIOD, user=csm_user))["06"]
    assert jun.ltv is None and "gross margin" in jun.ltv_reason


def test_annual_nrr_follows_the_accounts_paying_a_year_before(csm_user):
    stays = Account.objects.create(external_id="e", name="E")
    leaves = Account.objects.create(external_id="f", name="F")
    pay(stays, "100", at(2025, 1))
    pay(stays, "130", at(2026, 1))
    pay(leaves, "100", at(2025, 1))
    pay(leaves, "0", at(2025, 6))
    late = Account.objects.create(external_id="g", name="G")
    pay(late, "500", at(2025, 3))  # not paying in January 2025: not in the ratio
    account_months_rebuild(now=NOW)
    jan = _by_month(revenue_report(filters=PERIOD, user=csm_user))["01"]
    assert (jan.year_ago_mrr, jan.year_ago_now_mrr) == (D(200), D(130))
    assert jan.annual_nrr == D("0.65")


def test_cohorts_count_logo_and_mrr_retention_and_reactivations_stay_in_theirs(book, csm_user):
    groups = {f"{c.start:%m}": c for c in cohorts(filters=PERIOD, user=csm_user)}
    assert list(groups) == ["01", "04"]
    jan = groups["01"]
    assert (jan.size, jan.start_mrr) == (3, D(400))
    assert jan.paying == [3, 3, 2, 2, 2, 2]  # D churned in March and came back in May
    assert jan.mrr == [D(400), D(320), D(270), D(270), D(220), D(220)]
    assert jan.survivors == [3, 3, 2, 2, 1, 1]  # never churned yet
    assert jan.logo_retention[2] == D(2) / D(3)
    assert jan.mrr_retention[4] == D("0.55")
    apr = groups["04"]
    assert (apr.size, apr.paying, apr.fit) == (1, [1, 1, 1], None)
    assert "nobody churned" in apr.fit_problem


def test_a_cohorts_sbg_fit_and_clv(book, csm_user):
    jan = cohorts(filters=PERIOD, user=csm_user, gross_margin=D("0.5"))[0]
    assert jan.fit is not None
    # the fit reproduces the survivors it was fitted to reasonably
    assert abs(jan.fit.survival(5) - 1 / 3) < 0.15
    lifetime = jan.fit.discounted_expected_lifetime((1.1) ** (1 / 12) - 1)
    expected = (D(400) / 3 * D("0.5") * D(str(lifetime))).quantize(D("0.01"))
    assert jan.clv == expected


@pytest.mark.parametrize(
    ("filters", "new_jan", "churn_may", "react_apr"),
    [
        ({"plan": "Pro"}, D(100), D(150), D(70)),
        ({"plan": "Basic"}, D(300), D(0), D(0)),
        ({"owner": "csm"}, D(100), D(150), D(0)),
        ({"segment": "bd"}, D(300), D(0), D(0)),
    ],
)
def test_plan_owner_and_segment_filters(book, csm_user, filters, new_jan, churn_may, react_apr):
    if filters.get("owner"):
        filters = {"owner": csm_user.pk}
    if filters.get("segment"):
        segment = Segment.objects.create(name="B and D")
        for key in ("B", "D"):
            SegmentMember.objects.create(segment=segment, account=book[key])
        filters = {"segment": segment.pk}
    months = _by_month(revenue_report(filters=PERIOD.with_(**filters), user=csm_user))
    assert months["01"].movements.new == new_jan
    assert months["05"].movements.churn == churn_may
    assert months["04"].movements.reactivation == react_apr
    for m in months.values():
        assert m.movements.closing(m.opening) == m.closing


def test_the_segment_path_agrees_with_the_rollup(book, csm_user):
    segment = Segment.objects.create(name="Everyone")
    for account in book.values():
        SegmentMember.objects.create(segment=segment, account=account)
    plain = revenue_report(filters=PERIOD, user=csm_user).months
    seg = revenue_report(filters=PERIOD.with_(segment=segment.pk), user=csm_user).months
    assert plain == seg


def test_a_movements_accounts_are_listed_largest_first_with_the_filters(book, csm_user):
    may = dt.date(2026, 5, 1)
    rows = movement_accounts(filters=PERIOD, user=csm_user, month=may, kind="churn")
    assert [(r.account.name, r.movement_mrr) for r in rows] == [("Alpha", D(150))]
    jan = movement_accounts(filters=PERIOD, user=csm_user, month=dt.date(2026, 1, 1), kind="new")
    assert [r.account.name for r in jan] == ["Bravo", "Alpha", "Delta"]
    basic = movement_accounts(
        filters=PERIOD.with_(plan="Basic"), user=csm_user, month=dt.date(2026, 1, 1), kind="new"
    )
    assert [r.account.name for r in basic] == ["Bravo", "Delta"]


def test_rebuilding_twice_gives_identical_rows(book):
    def snapshot():
        facts = list(
            AccountMonth.objects.order_by("account_id", "month").values_list(
                "account_id",
                "month",
                "cohort_month",
                "plan",
                "owner_id",
                "opening_mrr",
                "closing_mrr",
                "movement",
                "movement_mrr",
                "first_churn",
                "year_ago_mrr",
            )
        )
        rollup = list(
            RevenueMonth.objects.order_by("month", "cohort_month", "plan", "owner_id").values()
        )
        for row in rollup:
            row.pop("id")
        return facts, rollup

    first = snapshot()
    assert account_months_rebuild(now=NOW) == len(first[0])
    assert snapshot() == first
    account_months_rebuild(since=dt.date(2026, 4, 1), now=NOW)
    assert snapshot() == first


def test_future_changes_wait_for_their_month(book, csm_user):
    pay(book["B"], "999", at(2026, 6, 20))  # after NOW
    account_months_rebuild(now=NOW)
    jun = _by_month(revenue_report(filters=PERIOD, user=csm_user))["06"]
    assert jun.closing == D(290)


def test_anonymous_users_see_no_figures(book):
    from django.contrib.auth.models import AnonymousUser

    report = revenue_report(filters=PERIOD, user=AnonymousUser())
    assert not report.has_history
    assert all(m.closing == 0 for m in report.months)


@pytest.mark.parametrize("narrow", [{}, {"plan": "Pro"}])
def test_month_totals_summed_from_cohort_rows_agree_with_the_month_query(book, csm_user, narrow):
    from metrics.selectors.cohorts import cohort_rows
    from metrics.selectors.revenue import report_first_month, sum_by_month

    filters = PERIOD.with_(**narrow)
    rows = cohort_rows(filters=filters, user=csm_user, first=report_first_month(filters))
    summed = revenue_report(filters=filters, user=csm_user, rows=sum_by_month(rows))
    assert summed.months == revenue_report(filters=filters, user=csm_user).months
