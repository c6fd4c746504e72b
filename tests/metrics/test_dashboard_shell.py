"""The dashboards' shared shell: filters from the URL, tabs, the chart include with its table
and CSV, htmx partials, permissions."""

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
from django.utils import timezone

from customers.models import Account, Segment, SegmentMember
from customers.services import revenue_change_record
from metrics.filters import (
    DashboardFilters,
    FilterOptions,
    add_months,
    filters_parse,
    month_start,
    months_between,
)
from metrics.services import account_months_rebuild
from metrics.tables import ChartTable, Link
from metrics.views.common import dashboard_tabs

TODAY = dt.date(2026, 3, 14)


def test_the_default_period_is_the_last_eleven_complete_months_and_the_current_one():
    filters, errors = filters_parse({}, today=TODAY)
    assert errors == {}
    assert (filters.start, filters.end) == (dt.date(2025, 4, 1), dt.date(2026, 3, 1))
    assert len(filters.months) == 12


def test_it_reads_a_period_plan_owner_and_segment():
    options = FilterOptions(plans=[("Pro", "Pro")], owners=[("7", "Kim")], segments=[("3", "S")])
    filters, errors = filters_parse(
        {"from": "2025-11", "to": "2026-01", "plan": "Pro", "owner": "7", "segment": "3"},
        options=options,
        today=TODAY,
    )
    assert errors == {}
    assert filters == DashboardFilters(
        start=dt.date(2025, 11, 1), end=dt.date(2026, 1, 1), plan="Pro", owner=7, segment=3
    )
    assert filters.months == [dt.date(2025, 11, 1), dt.date(2025, 12, 1), dt.date(2026, 1, 1)]


@pytest.mark.parametrize(
    ("params", "field", "message"),
    [
        ({"from": "March"}, "from", "YYYY-MM"),
        ({"from": "2025-13"}, "from", "YYYY-MM"),
        ({"to": "2026-04"}, "to", "after the current month"),
        ({"from": "2026-02", "to": "2026-01"}, "from", "on or before"),
        ({"from": "2019-01"}, "from", "at most 60 months"),
        ({"owner": "abc"}, "owner", "from the list"),
        ({"owner": "99"}, "owner", "no owner 99"),
        ({"segment": "5"}, "segment", "no segment 5"),
        ({"plan": "Gold"}, "plan", "no account is on the plan 'Gold'"),
        # Found at the fresh-clone review: each was a 500 (int("²"), year 0).
        ({"owner": "²"}, "owner", "from the list"),
        ({"segment": "１２"}, "segment", "from the list"),
        ({"from": "0000-01"}, "from", "YYYY-MM"),
        ({"to": "0000-05"}, "to", "YYYY-MM"),
        ({"from": "1999-12"}, "from", "cannot start before 2000-01"),
        ({"from": "٢٠٢٥-٠٣"}, "from", "YYYY-MM"),
    ],
)
def test_it_names_a_bad_value_beside_its_field_and_keeps_the_default(params, field, message):
    filters, errors = filters_parse(params, options=FilterOptions(), today=TODAY)
    assert list(errors) == [field]
    assert message in errors[field]
    assert filters.end <= dt.date(2026, 3, 1)
    assert filters.plan == "" and filters.owner is None and filters.segment is None


def test_the_query_string_keeps_every_filter_and_adds_extras():
    filters = DashboardFilters(dt.date(2025, 1, 1), dt.date(2025, 6, 1), plan="A&B", owner=4)
    assert filters.query_string() == "?from=2025-01&to=2025-06&plan=A%26B&owner=4"
    assert filters.query_string(format="csv", chart="mrr").endswith("&format=csv&chart=mrr")
    assert months_between(dt.date(2025, 11, 1), dt.date(2026, 2, 1))[-1] == dt.date(2026, 2, 1)


@pytest.mark.django_db
def test_restrict_keeps_only_the_plan_owner_and_segment_chosen(csm_user, make_user):
    other = make_user()
    a = Account.objects.create(external_id="a", name="A", plan="Pro", owner=csm_user)
    Account.objects.create(external_id="b", name="B", plan="Pro", owner=other)
    c = Account.objects.create(external_id="c", name="C", plan="Basic", owner=csm_user)
    segment = Segment.objects.create(name="Some")
    SegmentMember.objects.create(segment=segment, account=c)
    base = DashboardFilters(dt.date(2025, 1, 1), dt.date(2025, 6, 1))
    everything = Account.objects.all()

    def names(filters, user=csm_user):
        return sorted(filters.restrict(everything, user=user).values_list("name", flat=True))

    assert names(base) == ["A", "B", "C"]
    assert names(base.with_(plan="Pro")) == ["A", "B"]
    assert names(base.with_(owner=csm_user.pk)) == ["A", "C"]
    assert names(base.with_(plan="Pro", owner=csm_user.pk)) == [a.name]
    assert names(base.with_(segment=segment.pk)) == ["C"]
    from django.contrib.auth.models import AnonymousUser

    assert names(base, user=AnonymousUser()) == []


def test_csv_cells_are_escaped_and_formula_safe():
    table = ChartTable(
        key="t",
        title="T",
        columns=["Name", "MRR"],
        rows=[
            ['=HYPERLINK("x")', Decimal("-12.50")],
            [Link('Acme, "Inc"', "/x"), None],
            [dt.date(2025, 3, 1), 3],
            ['  =HYPERLINK("y")', 0],
        ],
    )
    rows = list(csv.reader(io.StringIO(table.csv_text())))
    assert rows == [
        ["Name", "MRR"],
        ['\'=HYPERLINK("x")', "-12.50"],
        ['Acme, "Inc"', ""],
        ["2025-03-01", "3"],
        ['\'  =HYPERLINK("y")', "0"],
    ]


def test_a_chart_key_must_be_usable_in_a_template():
    with pytest.raises(ValueError, match="chart key"):
        ChartTable(key="mrr-by-plan", title="", columns=[], rows=[])


def test_tabs_leave_out_dashboards_that_are_not_routed():
    filters = DashboardFilters(dt.date(2025, 1, 1), dt.date(2025, 6, 1))
    tabs = dashboard_tabs("overview", filters)
    keys = [tab["key"] for tab in tabs]
    assert keys[0] == "overview" and tabs[0]["active"]
    assert tabs[0]["url"] == "/metrics/?from=2025-01&to=2025-06"
    from django.urls import NoReverseMatch, reverse

    for key in ("satisfaction", "rfm"):
        try:
            reverse(f"metrics:{key}")
        except NoReverseMatch:
            assert key not in keys
        else:
            assert key in keys


# --- the Overview page through the shell ---------------------------------------------------


@pytest.fixture
def two_plans(db, csm_user):
    now = timezone.now() - dt.timedelta(days=2)
    pro = Account.objects.create(external_id="p", name="Pro Co", plan="Pro", owner=csm_user)
    basic = Account.objects.create(external_id="b", name="=cmd|' /C calc'!A0", plan="Basic")
    revenue_change_record(account=pro, mrr=Decimal("300.00"), effective_at=now)
    revenue_change_record(account=basic, mrr=Decimal("100.00"), effective_at=now)
    return pro, basic


def test_a_viewer_reads_the_overview_with_its_chart_table_and_csv_link(viewer_client, two_plans):
    response = viewer_client.get("/metrics/")
    assert response.status_code == 200
    text = response.text
    assert 'data-plotly-spec="chart-mrr_by_plan-spec"' in text
    assert 'id="chart-mrr_by_plan-spec" type="application/json"' in text
    assert '<td>Pro</td><td class="num">1</td><td class="num">300.00</td>' in text
    assert 'data-csv="mrr_by_plan"' in text
    assert 'data-tab="overview" aria-current="page"' in text


def test_the_overview_filters_by_plan_and_owner(csm_client, csm_user, two_plans):
    response = csm_client.get("/metrics/", {"owner": csm_user.pk})
    rows = response.context["charts"]["mrr_by_plan"].table.rows
    assert rows == [["Pro", 1, Decimal("300.00")]]
    response = csm_client.get("/metrics/", {"plan": "Basic"})
    assert response.context["charts"]["mrr_by_plan"].table.rows == [["Basic", 1, Decimal("100.00")]]


def test_a_chart_downloads_as_csv_with_the_filters_applied(csm_client, two_plans):
    response = csm_client.get("/metrics/", {"plan": "Pro", "format": "csv", "chart": "mrr_by_plan"})
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert "attachment" in response["Content-Disposition"]
    assert response.content.decode().splitlines() == [
        "Plan,Paying accounts,MRR (USD)",
        "Pro,1,300.00",
    ]


def test_an_unknown_chart_csv_is_a_400_naming_the_charts(csm_client, two_plans):
    response = csm_client.get("/metrics/", {"format": "csv", "chart": "nope"})
    assert response.status_code == 400
    assert "mrr_by_plan" in response.text


def test_a_bad_filter_shows_the_page_with_its_message_not_a_500(csm_client, two_plans):
    response = csm_client.get("/metrics/", {"from": "<b>x</b>", "owner": "12345"})
    assert response.status_code == 400
    assert 'data-error="from"' in response.text and "YYYY-MM" in response.text
    assert "there is no owner 12345" in response.text
    assert "<b>x</b>" not in response.text
    assert response.context["charts"]["mrr_by_plan"].table.rows  # the defaults still apply


def test_htmx_gets_only_the_dashboard_part(csm_client, two_plans):
    full = csm_client.get("/metrics/")
    part = csm_client.get("/metrics/", headers={"HX-Request": "true"})
    assert "<html" in full.text and 'class="topbar"' in full.text
    assert "<html" not in part.text and part.text.lstrip().startswith('<div id="dashboard"')
    assert 'hx-push-url="true"' in part.text


def test_anonymous_visitors_are_sent_to_log_in(client):
    response = client.get("/metrics/")
    assert response.status_code == 302
    assert "/auth/login" in response["Location"]


def test_the_overview_costs_a_fixed_number_of_queries(
    csm_client, two_plans, django_assert_max_num_queries
):
    with django_assert_max_num_queries(15):
        assert csm_client.get("/metrics/").status_code == 200


def test_the_overview_says_when_its_month_is_not_over_yet(csm_client):
    this_month = month_start(timezone.localdate())
    account = Account.objects.create(external_id="m", name="Monthly Co", plan="Pro")
    started = dt.datetime.combine(add_months(this_month, -3), dt.time(12), tzinfo=dt.UTC)
    revenue_change_record(account=account, mrr=Decimal("300.00"), effective_at=started)
    account_months_rebuild()

    current = csm_client.get("/metrics/")
    assert "data-month-to-date" in current.text
    assert "the month is not over" in current.text
    last = add_months(this_month, -1)
    past = csm_client.get("/metrics/", {"to": f"{last:%Y-%m}"})
    assert 'data-kpi="mrr"' in past.text  # figures shown, for a month that is over
    assert "data-month-to-date" not in past.text
