"""The Satisfaction dashboard (/metrics/satisfaction/): trends with margins, the period
verdicts and satisfaction ↔ churn, on the dashboards' shell. Figures checked against the
hand-counted book in tests/metrics/satisfaction_factories.py."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest

from metrics.filters import DashboardFilters
from metrics.views.satisfaction import period_windows
from surveys import metrics
from tests.metrics.satisfaction_factories import make_book

pytestmark = pytest.mark.django_db

URL = "/metrics/satisfaction/"
Q1 = {"from": "2026-01", "to": "2026-03"}


@pytest.fixture
def book(db):
    return make_book()


def test_the_period_is_compared_with_as_many_months_just_before():
    current, previous = period_windows(
        DashboardFilters(start=dt.date(2026, 1, 1), end=dt.date(2026, 3, 1))
    )
    assert (current.label, previous.label) == ("Jan 2026 – Mar 2026", "Oct 2025 – Dec 2025")
    assert (current.start, current.end) == (
        dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
        dt.datetime(2026, 4, 1, tzinfo=dt.UTC),
    )
    assert previous.end == current.start
    one, before = period_windows(
        DashboardFilters(start=dt.date(2026, 1, 1), end=dt.date(2026, 1, 1))
    )
    assert (one.label, before.label) == ("Jan 2026", "Dec 2025")


def test_a_viewer_reads_the_trends_with_their_margins(viewer_client, book):
    """NPS answers in Q1 2026: Jan 2 and 10 → 0.0 ± 138.6 (p = d = ½: 196 × sqrt(1/2));
    Feb 0 → −100.0 ± 0.0; Mar 0 → −100.0 ± 0.0."""
    response = viewer_client.get(URL, Q1)
    assert response.status_code == 200
    rows = response.context["charts"]["nps_trend"].table.rows
    assert rows == [
        [dt.date(2026, 1, 1), Decimal("0.0"), Decimal("138.6"), 2],
        [dt.date(2026, 2, 1), Decimal("-100.0"), Decimal("0.0"), 1],
        [dt.date(2026, 3, 1), Decimal("-100.0"), Decimal("0.0"), 1],
    ]
    html = response.text
    assert 'data-plotly-spec="chart-nps_trend-spec"' in html
    assert '"error_y"' in html  # the margins are drawn as error bars
    assert 'data-tab="satisfaction" aria-current="page"' in html


def test_the_quarter_is_compared_with_the_one_before_and_gets_a_verdict(csm_client, book):
    """Q1 2026 NPS: 2, 0, 0, 10 → P 1, D 3, N 4: −50.0; p + d − (p − d)² = 1 − ¼ = ¾,
    margin 196 × sqrt(¾ / 4) = 84.87 → 84.9. Q4 2025: 9, 3, 10, 8, 0 → P 2, D 2, N 5: 0.0;
    0.8 − 0 → 196 × sqrt(0.16) = 78.4. Difference −50.0, margin sqrt(84.9² + 78.4²) = 115.56
    → 115.6: within noise. CSAT has no answer in Q1, so no verdict; CES none at all."""
    response = csm_client.get(URL, Q1)
    changes = {name: change for name, change, _unit in response.context["changes"]}
    nps = changes["NPS"]
    assert (nps.current.score, nps.current.margin) == (Decimal("-50.0"), Decimal("84.9"))
    assert (nps.previous.score, nps.previous.margin) == (Decimal("0.0"), Decimal("78.4"))
    assert (nps.difference, nps.margin) == (Decimal("-50.0"), Decimal("115.6"))
    assert nps.verdict == metrics.WITHIN_NOISE
    assert changes["CSAT"].verdict is None
    assert changes["CSAT"].reason == "No answers in Jan 2026 – Mar 2026."
    assert changes["CES"].reason == "No answers in Jan 2026 – Mar 2026 or Oct 2025 – Dec 2025."
    html = response.text
    assert 'data-verdict="within noise"' in html
    assert "No verdict: No answers in Jan 2026 – Mar 2026." in html


def test_churn_by_latest_nps_and_csat_is_shown_with_the_book_total(csm_client, book):
    response = csm_client.get(URL, Q1)
    nps_rows = response.context["charts"]["churn_by_nps"].table.rows
    assert nps_rows == [
        ["Promoters (9–10)", 2, 0, Decimal("0.0")],
        ["Passives (7–8)", 1, 1, Decimal("100.0")],
        ["Detractors (0–6)", 2, 2, Decimal("100.0")],
        ["No answer", 3, 1, Decimal("33.3")],
        ["All accounts paying at the start", 8, 4, Decimal("50.0")],
    ]
    csat_rows = response.context["charts"]["churn_by_csat"].table.rows
    assert csat_rows[2] == ["Unsatisfied (1–2)", 1, 1, Decimal("100.0")]
    assert 'data-plotly-spec="chart-churn_by_nps-spec"' in response.text


def test_the_plan_filter_narrows_answers_and_accounts(csm_client, book):
    """Pro: A1, A2, A3. Q1 NPS answers: A3's 2 only → −100.0; churn: 3 at risk, 2 churned."""
    response = csm_client.get(URL, {**Q1, "plan": "Pro"})
    assert response.context["charts"]["nps_trend"].table.rows == [
        [dt.date(2026, 1, 1), Decimal("-100.0"), Decimal("0.0"), 1]
    ]
    assert response.context["charts"]["churn_by_nps"].table.rows[-1][1:3] == [3, 2]


def test_each_empty_chart_names_the_missing_data(csm_client, book):
    response = csm_client.get(URL, Q1)
    charts = response.context["charts"]
    assert charts["ces_trend"].empty.startswith("No CES answers from these accounts in Jan 2026")
    assert 'data-empty="csat_trend"' in response.text
    empty = csm_client.get(URL, {"from": "2019-01", "to": "2019-03"}).context["charts"]
    assert "No account from these filters was paying on 01 Jan 2019" in empty["churn_by_nps"].empty


def test_answers_without_any_paying_account_say_so(csm_client):
    from tests.customers.factories import make_account
    from tests.metrics.factories import pay
    from tests.surveys.factories import make_answer, make_survey

    acc = make_account()
    pay(acc, "100", dt.datetime(2025, 1, 1, tzinfo=dt.UTC))
    make_answer(make_survey("ces"), 6, acc=acc, days_ago=1)
    charts = csm_client.get(URL).context["charts"]
    assert "had answered an NPS survey" in charts["churn_by_nps"].empty
    assert charts["ces_trend"].table.rows[-1][3] == 1


def test_a_chart_downloads_as_csv_with_formula_cells_neutralised(csm_client, book):
    response = csm_client.get(URL, {**Q1, "format": "csv", "chart": "score_changes"})
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0][:2] == ["Score", "Jan 2026 – Mar 2026"]
    assert rows[1] == [
        "NPS", "-50.0", "84.9", "4", "0.0", "78.4", "5", "-50.0", "115.6", "within noise"
    ]  # fmt: skip
    churn = csm_client.get(URL, {**Q1, "format": "csv", "chart": "churn_by_nps"})
    assert churn.content.decode().splitlines()[1] == "Promoters (9–10),2,0,0.0"


def test_a_text_cell_starting_with_a_formula_sign_is_quoted_in_the_csv():
    """Period labels reach the CSV's header; one that starts with "=" must not run as a
    formula in a spreadsheet."""
    from metrics.views.satisfaction import _changes_chart
    from surveys.periods import Window, period_parse

    month = period_parse("2026-01")
    evil = Window("=cmd|' /C calc'!A0", month.start, month.end)
    change = metrics.score_change(
        current=metrics.PeriodScore(evil.label, 0, None, None),
        previous=metrics.PeriodScore("Dec 2025", 0, None, None),
    )
    rows = list(
        csv.reader(io.StringIO(_changes_chart({"nps": change}, evil, month).table.csv_text()))
    )
    assert rows[0][1] == "'=cmd|' /C calc'!A0"
    assert rows[1][-1] == "no verdict: No answers in =cmd|' /C calc'!A0 or Dec 2025."


def test_htmx_gets_only_the_dashboard_part(csm_client, book):
    full = csm_client.get(URL, Q1)
    part = csm_client.get(URL, Q1, headers={"HX-Request": "true"})
    assert "<html" in full.text
    assert "<html" not in part.text
    assert part.text.lstrip().startswith('<div id="dashboard"')
    assert "Did it really move?" in part.text


def test_a_bad_period_is_named_beside_its_field_not_a_500(csm_client, book):
    response = csm_client.get(URL, {"from": "<i>soon</i>", "to": "2026-03"})
    assert response.status_code == 400
    assert 'data-error="from"' in response.text
    assert "<i>soon</i>" not in response.text
    assert response.context["charts"]["nps_trend"]  # the defaults still apply


def test_anonymous_visitors_are_sent_to_log_in(client):
    response = client.get(URL)
    assert response.status_code == 302
    assert "/auth/login" in response["Location"]


def test_the_dashboard_costs_at_most_15_queries(csm_client, book, django_assert_max_num_queries):
    with django_assert_max_num_queries(15):
        assert csm_client.get(URL, Q1).status_code == 200
    with django_assert_max_num_queries(15):
        assert csm_client.get(URL, {**Q1, "plan": "Pro"}).status_code == 200
