"""The Overview, Revenue and Retention pages and a movement's account list: permissions,
filters, tables, CSV, empty states, htmx partials and their query counts."""

import csv
import datetime as dt
import io

import pytest
from django.utils import timezone

from metrics.filters import add_months, month_start
from metrics.models import PeriodFinance
from metrics.services import account_months_rebuild
from tests.metrics.factories import hand_worked_book

pytestmark = pytest.mark.django_db

PERIOD = {"from": "2026-01", "to": "2026-06"}


@pytest.fixture
def book(csm_user):
    accounts = hand_worked_book(owner=csm_user)
    account_months_rebuild(now=dt.datetime(2026, 6, 15, 12, tzinfo=dt.UTC))
    return accounts


@pytest.mark.parametrize("url", ["/metrics/", "/metrics/revenue/", "/metrics/retention/"])
def test_a_viewer_reads_every_dashboard_and_anonymous_visitors_log_in_first(
    viewer_client, book, url
):
    from django.test import Client

    assert viewer_client.get(url, PERIOD).status_code == 200
    response = Client().get(url)
    assert response.status_code == 302 and "/auth/login" in response["Location"]


def test_the_revenue_dashboard_shows_the_movements_and_links_each_to_its_accounts(csm_client, book):
    response = csm_client.get("/metrics/revenue/", PERIOD)
    text = response.text
    assert 'data-plotly-spec="chart-movements-spec"' in text
    assert "data-chart-links" in text
    link = "/metrics/revenue/2026-03/expansion/accounts/?from=2026-01&amp;to=2026-06"
    assert f'<a href="{link}">50.00</a>' in text
    table = response.context["charts"]["figures"].table
    march = next(row for row in table.rows if row[0] == "2026-03")
    assert [str(v) for v in march[1:12]] == [
        "270.00",
        "2",
        "-50.00",
        "33.3",
        "66.7",
        "31.2",
        "68.8",
        "1.1",  # GRR annualised: 0.6875 ** 12 = 0.0112
        "84.4",
        "13.0",
        "None",
    ]


def test_the_figures_csv_holds_the_exact_table(csm_client, book):
    response = csm_client.get("/metrics/revenue/", {**PERIOD, "format": "csv", "chart": "figures"})
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert 'filename="revenue-figures-2026-01_2026-06.csv"' in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert [r["Month"] for r in rows] == [f"2026-0{m}" for m in range(1, 7)]
    may = rows[4]
    assert (may["MRR (USD)"], may["GRR (%)"], may["Logo churn (%)"]) == ("290.00", "55.9", "33.3")
    assert rows[0]["GRR (%)"] == ""  # undefined in January: nothing to lose
    assert rows[5]["LTV (USD)"] == ""


def test_the_movements_csv_keeps_the_amounts_not_the_links(csm_client, book):
    response = csm_client.get(
        "/metrics/revenue/", {**PERIOD, "plan": "Pro", "format": "csv", "chart": "movements"}
    )
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0][:3] == ["Month", "New (USD)", "Expansion (USD)"]
    assert rows[1][:2] == ["2026-01", "100.00"]
    assert rows[3][:3] == ["2026-03", "0.00", "50.00"]


def test_ltv_shows_a_dash_with_its_reason(csm_client, book):
    text = csm_client.get("/metrics/revenue/", PERIOD).text
    assert "LTV — in 2026-06: no gross margin entered" in text
    PeriodFinance.objects.create(month=dt.date(2026, 1, 1), gross_margin="0.8", cac="100")
    response = csm_client.get("/metrics/", PERIOD)
    ltv = next(k for k in response.context["kpis"] if k.key == "ltv")
    assert str(ltv.value) == "580.00"


def test_a_movements_account_list_links_to_the_accounts(csm_client, book):
    response = csm_client.get("/metrics/revenue/2026-01/new/accounts/", {**PERIOD, "plan": "Basic"})
    assert response.status_code == 200
    text = response.text
    assert f'href="/customers/{book["B"].pk}/"' in text or f"/{book['B'].pk}" in text
    assert "Bravo" in text and "Delta" in text and "Alpha" not in text
    assert "back" in text.lower()


@pytest.mark.parametrize(
    "path", ["2026-13/new", "2026-01/upsell", "junk/new", "0001-01/new", "0000-01/churn"]
)
def test_an_unknown_month_or_movement_is_a_404(csm_client, book, path):
    assert csm_client.get(f"/metrics/revenue/{path}/accounts/").status_code == 404


def test_the_retention_dashboard_shows_cohorts_and_the_projection(csm_client, book):
    response = csm_client.get("/metrics/retention/", PERIOD)
    assert response.status_code == 200
    charts = response.context["charts"]
    logo = charts["logo_cohorts"].table.rows
    assert [str(v) for v in logo[0][:8]] == [
        "2026-01",
        "3",
        "100.0",
        "100.0",
        "66.7",
        "66.7",
        "66.7",
        "66.7",
    ]
    assert [str(v) for v in charts["mrr_cohorts"].table.rows[0][2:8]] == [
        "100.0",
        "80.0",
        "67.5",
        "67.5",
        "55.0",
        "55.0",
    ]
    assert 'data-plotly-spec="chart-projection-spec"' in response.text
    assert response.context["chosen"].start == dt.date(2026, 1, 1)
    assert "nobody churned" in response.text  # the April cohort cannot be fitted


def test_a_dashboard_without_revenue_history_says_so(csm_client):
    text = csm_client.get("/metrics/revenue/").text
    assert "No revenue history yet" in text
    assert "No cohort started paying" in csm_client.get("/metrics/retention/").text


def test_a_bad_period_shows_the_message_and_the_default_period(csm_client, book):
    response = csm_client.get("/metrics/revenue/", {"from": "2026-99", "to": "nope"})
    assert response.status_code == 400
    assert "write the month as YYYY-MM" in response.text
    current = month_start(timezone.localdate())
    assert response.context["filters"].end == current
    assert response.context["filters"].start == add_months(current, -11)


def test_htmx_gets_the_dashboard_part_and_the_url_keeps_the_filters(csm_client, book):
    response = csm_client.get(
        "/metrics/revenue/", {**PERIOD, "plan": "Pro"}, headers={"HX-Request": "true"}
    )
    assert response.text.lstrip().startswith('<div id="dashboard"')
    assert 'href="/metrics/retention/?from=2026-01&amp;to=2026-06&amp;plan=Pro"' in response.text


@pytest.mark.parametrize(
    "url",
    [
        "/metrics/",
        "/metrics/revenue/",
        "/metrics/retention/",
        "/metrics/revenue/2026-01/new/accounts/",
    ],
)
@pytest.mark.parametrize("filters", [{}, {"plan": "Pro"}, {"segment": "1"}])
def test_each_dashboard_costs_at_most_15_queries(
    csm_client, book, url, filters, django_assert_max_num_queries
):
    from customers.models import Segment, SegmentMember

    segment = Segment.objects.create(name="Some")
    SegmentMember.objects.create(segment=segment, account=book["B"])
    if "segment" in filters:
        filters = {"segment": str(segment.pk)}
    with django_assert_max_num_queries(15):
        assert csm_client.get(url, {**PERIOD, **filters}).status_code == 200


def test_a_movement_month_after_the_current_one_is_a_404(csm_client, book):
    assert csm_client.get("/metrics/revenue/2999-01/new/accounts/").status_code == 404


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("owner=%C2%B2", "choose the owner from the list"),
        ("from=0000-01", "write the month as YYYY-MM"),
        ("to=0000-05", "write the month as YYYY-MM"),
    ],
)
def test_a_dashboard_answers_a_bad_filter_with_a_400_not_a_500(csm_client, book, query, message):
    for path in ("/metrics/", "/metrics/revenue/", "/metrics/retention/"):
        response = csm_client.get(f"{path}?{query}")
        assert response.status_code == 400
        assert message in response.text


def test_a_csv_with_a_bad_filter_is_refused_not_filled_with_the_default_period(csm_client, book):
    response = csm_client.get(
        "/metrics/revenue/", {"from": "zzz", "format": "csv", "chart": "figures"}
    )
    assert response.status_code == 400
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert response.text == "from: write the month as YYYY-MM, e.g. 2025-03."
