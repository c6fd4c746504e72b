"""The backtest page: who may see it, its defaults, its answers to bad input, and its cost."""

from __future__ import annotations

import datetime as dt
import html

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from tests.customers.factories import SCRIPT
from tests.health.test_backtest import customer, scored

pytestmark = pytest.mark.django_db
URL = reverse("health:backtest")


def test_anonymous_visitors_are_sent_to_log_in(client):
    response = client.get(URL)

    assert response.status_code == 302
    assert response.url.startswith(reverse("accounts:login"))


def test_defaults_are_90_days_over_the_last_12_months(viewer_client):
    today = timezone.localdate()
    churn = today - dt.timedelta(days=20)
    scored(customer(churned_on=churn), churn - dt.timedelta(days=90), 30)
    scored(customer(), today - dt.timedelta(days=90), 80)
    scored(customer(), today - dt.timedelta(days=92), 45)

    response = viewer_client.get(URL)

    text = response.text
    assert response.status_code == 200
    year_ago = today.replace(year=today.year - 1) + dt.timedelta(days=1)
    assert f'name="start" value="{year_ago:%Y-%m-%d}"' in text
    assert f'name="end" value="{today:%Y-%m-%d}"' in text
    assert 'name="days" value="90"' in text
    assert 'data-churners="1">1 churned' in text
    assert 'data-stayers="2">2 stayed' in text
    # Stayers 80 and 45 against the churner's 30: both higher.
    assert 'data-auc="1.00"' in text
    assert 'data-plotly-spec="backtest-spec"' in text


def test_the_table_counts_each_band_and_the_whole(csm_client):
    end = dt.date(2025, 6, 30)
    for churn, score in ((dt.date(2025, 3, 1), 20), (dt.date(2025, 4, 1), 40)):
        scored(customer(churned_on=churn), churn - dt.timedelta(days=30), score)
    scored(customer(), end - dt.timedelta(days=30), 30)
    scored(customer(), end - dt.timedelta(days=30), 90)

    text = csm_client.get(URL, {"days": "30", "start": "2025-01-01", "end": "2025-06-30"}).text

    red = text[text.index('data-band="red"') :]
    assert [cell.split("<")[0] for cell in red.split('class="num">')[1:4]] == ["3", "2", "67 %"]
    green = text[text.index('data-band="green"') :]
    assert [cell.split("<")[0] for cell in green.split('class="num">')[1:4]] == ["1", "0", "0 %"]
    # Stayers 30 and 90 against churners 20 and 40: 30>20, 90>20 and 90>40 win, 30<40 loses.
    assert 'data-auc="0.75"' in text
    assert "2 stayers × 2 churners" in text


def test_with_nobody_to_compare_the_page_says_there_is_no_auc(csm_client):
    text = csm_client.get(URL).text

    assert "No ROC AUC" in text
    assert 'data-plotly-spec="backtest-spec"' not in text


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"days": "ninety"}, "Days before the outcome: Enter a whole number."),
        ({"days": "０"}, "Days before the outcome: Enter a whole number."),
        (
            {"days": "0"},
            "Days before the outcome: Ensure this value is greater than or equal to 1.",
        ),
        ({"start": "2025-02-30"}, "Period from: Enter a valid date."),
        (
            {"start": "2025-06-01", "end": "2025-05-01"},
            "Period from: The period must start on or before its last day.",
        ),
        ({"end": "2999-01-01"}, "Period to: The period cannot end after today"),
        (
            {"start": "2015-01-01", "end": "2025-01-01"},
            "Period from: The period can be at most three years long.",
        ),
    ],
)
def test_bad_input_is_named_in_a_message_with_a_400(csm_client, params, message):
    response = csm_client.get(URL, params)

    assert response.status_code == 400
    assert html.escape(message) in response.text


def test_input_is_escaped_where_it_is_shown_again(csm_client):
    response = csm_client.get(URL, {"days": SCRIPT, "start": SCRIPT})

    assert response.status_code == 400
    assert SCRIPT not in response.text
    assert html.escape(SCRIPT) in response.text


def test_htmx_gets_only_the_results(csm_client):
    response = csm_client.get(URL, {"days": "60"}, HTTP_HX_REQUEST="true")

    assert response.status_code == 200
    assert "<html" not in response.text
    assert response.text.lstrip().startswith('<div id="backtest-results"')
    assert "60 days before the outcome" in response.text


def test_a_refused_setting_comes_back_to_htmx_as_the_results_block(csm_client):
    response = csm_client.get(URL, {"days": "-3"}, HTTP_HX_REQUEST="true")

    assert response.status_code == 400
    assert "<html" not in response.text
    assert 'role="alert"' in response.text


def test_the_page_costs_the_same_queries_whatever_the_number_of_accounts(csm_client):
    today = timezone.localdate()

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert csm_client.get(URL).status_code == 200
        return len(captured.captured_queries)

    def add(count: int) -> None:
        for n in range(count):
            churn = today - dt.timedelta(days=10 + n)
            scored(customer(churned_on=churn), churn - dt.timedelta(days=90), 20 + n)
            scored(customer(), today - dt.timedelta(days=90), 50 + n)

    add(2)
    few = queries()
    add(30)

    assert queries() == few
