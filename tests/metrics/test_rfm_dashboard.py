"""The RFM dashboard (/metrics/rfm/): segment tiles, the MRR-by-segment chart and the R × F
grid with their tables and CSV, the filters, empty states, permissions and query counts."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
from django.urls import reverse

from customers.models import Account
from metrics.rfm import rfm_recompute
from tests.customers.factories import SCRIPT, make_account
from tests.metrics.rfm_factories import paid, revenue, store_rfm, usage

pytestmark = pytest.mark.django_db

URL = "/metrics/rfm/"
HTMX = {"HX-Request": "true"}
TODAY = dt.date(2026, 6, 15)


def csv_rows(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(response.content.decode())))


@pytest.fixture
def scored(csm_user):
    """Three stored scores: two champions (one on Pro, owned by the CSM), one at risk."""
    pro = make_account(name="Pro champ", plan="Pro", owner=csm_user, mrr="300")
    basic = make_account(name="Basic champ", plan="Basic", mrr="100")
    risky = make_account(name="Risky", plan="Basic", mrr="50")
    store_rfm(pro, "champions", r=5, f=5, monetary="3600")
    store_rfm(basic, "champions", r=5, f=4, monetary="1200")
    store_rfm(risky, "at_risk", r=2, f=3, monetary="600")
    return {"pro": pro, "basic": basic, "risky": risky}


def test_the_url_name_is_metrics_rfm_and_the_tab_is_shown():
    assert reverse("metrics:rfm") == URL


def test_segment_tiles_and_table_count_accounts_and_sum_mrr(viewer_client, scored):
    response = viewer_client.get(URL)
    assert response.status_code == 200
    text = " ".join(response.text.split())
    assert 'data-tab="rfm" aria-current="page"' in text
    rows = {row[0].value: row[1:] for row in response.context["charts"]["segments"].table.rows}
    assert rows["Champions"] == [2, Decimal("66.7"), Decimal("400.00"), Decimal("4800.00")]
    assert rows["At risk"] == [1, Decimal("33.3"), Decimal("50.00"), Decimal("600.00")]
    assert rows["Hibernating"] == [0, Decimal("0.0"), Decimal("0.00"), Decimal("0.00")]
    assert 'data-segment="champions"' in text
    assert "2 accounts" in text and "400.00 USD MRR" in text


def test_the_grid_counts_accounts_per_r_and_f_score(csm_client, scored):
    grid = csm_client.get(URL).context["charts"]["grid"].table
    assert grid.columns == ["R \\ F", "F1", "F2", "F3", "F4", "F5"]
    assert grid.rows[0] == ["R5", 0, 0, 0, 1, 1]
    assert grid.rows[3] == ["R2", 0, 0, 1, 0, 0]
    figure = csm_client.get(URL).context["charts"]["grid"].figure
    assert figure["data"][0]["type"] == "heatmap"
    assert figure["data"][0]["text"][0][4] == "Champions"


def test_a_segment_links_to_the_portfolio_listing_its_accounts(csm_client, scored):
    response = csm_client.get(URL, {"plan": "Basic"})
    link = next(
        row[0]
        for row in response.context["charts"]["segments"].table.rows
        if row[0].value == "Champions"
    )
    assert link.href == "/customers/?owner=all&plan=Basic&rfm=champions"
    listed = csm_client.get(link.href)
    assert [a.name for a in listed.context["page"].object_list] == ["Basic champ"]


def test_the_filters_narrow_the_figures(csm_client, csm_user, scored):
    rows = csm_client.get(URL, {"owner": csm_user.pk}).context["charts"]["segments"].table.rows
    assert {r[0].value: r[1] for r in rows if r[1]} == {"Champions": 1}
    rows = csm_client.get(URL, {"plan": "Basic"}).context["charts"]["segments"].table.rows
    assert {r[0].value: r[1] for r in rows if r[1]} == {"Champions": 1, "At risk": 1}


def test_the_basis_switch_shows_paying_or_free_accounts_and_stays_in_links(csm_client, scored):
    store_rfm(make_account(name="Free one"), "new", basis="free", m=None, monetary="0")
    rows = csm_client.get(URL, {"basis": "free"}).context["charts"]["segments"].table.rows
    assert {r[0].value: r[1] for r in rows if r[1]} == {"New": 1}
    response = csm_client.get(URL, {"basis": "paying"})
    rows = response.context["charts"]["segments"].table.rows
    assert {r[0].value: r[1] for r in rows if r[1]} == {"Champions": 2, "At risk": 1}
    assert "basis=paying&amp;format=csv&amp;chart=segments" in response.text


def test_each_chart_downloads_as_csv_with_the_filters_applied(csm_client, scored):
    response = csm_client.get(URL, {"plan": "Basic", "format": "csv", "chart": "segments"})
    assert response["Content-Type"].startswith("text/csv")
    rows = csv_rows(response)
    assert rows[0][0] == "Segment"
    assert rows[1] == ["Champions", "1", "50.0", "100.00", "1200.00"], rows[1]
    grid = csv_rows(csm_client.get(URL, {"format": "csv", "chart": "grid"}))
    assert grid[1] == ["R5", "0", "0", "0", "1", "1"]
    assert csm_client.get(URL, {"format": "csv", "chart": "nope"}).status_code == 400


def test_before_the_first_run_it_says_rfm_runs_nightly(csm_client):
    make_account()
    response = csm_client.get(URL)
    assert response.status_code == 200
    assert "RFM not computed yet — it runs nightly." in response.text
    assert 'data-chart="segments"' in response.text  # the panel is there, with the reason


def test_after_a_run_without_payments_it_says_which_data_is_missing(csm_client):
    make_account()
    rfm_recompute(today=TODAY)
    text = csm_client.get(URL).text
    assert "No account had a payment or product activity in the 12 months up to 2026-06-15" in text


def test_filters_that_leave_nobody_say_so(csm_client, scored):
    make_account(plan="Gold")
    text = csm_client.get(URL, {"plan": "Gold"}).text
    assert "No scored account matches these filters." in text


def test_bad_filters_get_a_message_and_a_400_never_a_500(csm_client, scored):
    response = csm_client.get(URL, {"basis": "<i>vip</i>", "owner": "x"})
    assert response.status_code == 400
    assert "Accounts: choose all, paying or free accounts." in response.text
    assert "choose the owner from the list." in response.text
    assert "<i>vip</i>" not in response.text


def test_htmx_gets_only_the_dashboard_part(csm_client, scored):
    response = csm_client.get(URL, {"basis": "paying"}, headers=HTMX)
    assert response.status_code == 200
    assert "<html" not in response.text
    assert response.text.lstrip().startswith('<div id="dashboard"')


def test_names_are_escaped(csm_client):
    store_rfm(make_account(name=SCRIPT, plan=SCRIPT), "champions")
    response = csm_client.get(URL)
    assert SCRIPT not in response.text


def test_anonymous_visitors_are_sent_to_log_in(client):
    response = client.get(URL)
    assert response.status_code == 302 and "/auth/login/" in response["Location"]


def test_the_dashboard_costs_a_fixed_number_of_queries(
    csm_client, scored, django_assert_max_num_queries
):
    for i in range(30):
        store_rfm(make_account(name=f"More {i}", plan=f"P{i % 4}"), "loyal")
    with django_assert_max_num_queries(15):
        assert csm_client.get(URL).status_code == 200
    with django_assert_max_num_queries(15):
        assert (
            csm_client.get(URL, {"plan": "P1", "basis": "paying"}, headers=HTMX).status_code == 200
        )


def test_the_dashboard_shows_what_the_real_service_computed(csm_client):
    """End to end: events and revenue in, rfm_recompute, the dashboard counts them."""
    payer = make_account(name="Payer", mrr="40")
    revenue(payer, "2026-01-05", 40, kind="started")
    paid(payer, "2026-06-01")
    free = make_account(name="Free")
    usage(free, "2026-06-10", login=1)
    rfm_recompute(today=TODAY)
    rows = csm_client.get(URL).context["charts"]["segments"].table.rows
    # Alone in its basis, each account is at position 0 of 1: R1 F1, hibernating.
    assert {r[0].value: r[1] for r in rows if r[1]} == {"Hibernating": 2}
    assert Account.objects.count() == 2
