"""'Did it really move?' on a survey's results page: the two periods counted in SQL, the
verdict shown, periods chosen in the URL, refused input named (never a 500)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from surveys import metrics, periods, selectors
from surveys.selectors import ResponseFilters
from tests.surveys.factories import make_answer, make_survey

pytestmark = pytest.mark.django_db

ALL_TIME = ResponseFilters(period="all", comments_only=False)


def _answer_in(survey, window: periods.Window, score: int, hours: int = 1):
    response = make_answer(survey, score)
    at = window.start + dt.timedelta(hours=hours)
    type(response).objects.filter(pk=response.pk).update(created_at=at, updated_at=at)
    return response


def _change(survey, current, previous):
    """The comparison the results page shows for two named periods."""
    return selectors.survey_scores(
        survey=survey, filters=ALL_TIME, comparison=(current, previous)
    ).change


def test_the_selector_counts_each_period_on_its_own_and_gives_the_verdict():
    """Q2 2026: 20 promoters → 100.0 ± 0.0. Q1 2026: 10, 7, 0 → 0.0 ± 92.4.
    An answer in Q4 2025 belongs to neither. Difference 100.0 > 92.4 → significant."""
    survey = make_survey("nps")
    q2, q1 = periods.period_parse("2026-Q2"), periods.period_parse("2026-Q1")
    for i in range(20):
        _answer_in(survey, q2, 10, hours=i)
    for score in (10, 7, 0):
        _answer_in(survey, q1, score)
    _answer_in(survey, periods.period_parse("2025-Q4"), 0)
    change = _change(survey, q2, q1)
    assert (change.current.responses, change.previous.responses) == (20, 3)
    assert (change.current.score, change.previous.score) == (Decimal("100.0"), Decimal("0.0"))
    assert (change.difference, change.margin) == (Decimal("100.0"), Decimal("92.4"))
    assert change.verdict == metrics.SIGNIFICANT


def test_the_last_moment_of_a_period_belongs_to_it_and_the_next_starts_fresh():
    survey = make_survey("csat")
    nov, dec = periods.period_parse("2026-11"), periods.period_parse("2026-12")
    response = make_answer(survey, 5)
    last = nov.end - dt.timedelta(microseconds=1)
    type(response).objects.filter(pk=response.pk).update(created_at=last)
    change = _change(survey, dec, nov)
    assert (change.current.responses, change.previous.responses) == (0, 1)
    assert change.verdict is None
    assert change.reason == "No answers in Dec 2026."


def test_cli_and_csi_have_no_comparison():
    q = periods.period_parse("2026-Q1")
    assert _change(make_survey("cli"), q, q) is None


def test_the_results_page_compares_its_period_with_the_one_before_by_default(csm_client):
    """Last 30 days: 10, 10 (100.0 ± 0.0); the 30 days before: 0, 0 (−100.0 ± 0.0):
    difference +200 beyond a margin of 0 → significant."""
    survey = make_survey("nps")
    make_answer(survey, 10, days_ago=2)
    make_answer(survey, 10, days_ago=3)
    make_answer(survey, 0, days_ago=40)
    make_answer(survey, 0, days_ago=45)
    make_answer(survey, 9, days_ago=70)  # before both windows
    page = csm_client.get(f"/surveys/{survey.slug}/?period=30")
    assert page.status_code == 200
    change = page.context["change"]
    assert (change.current.responses, change.previous.responses) == (2, 2)
    assert change.difference == Decimal("200.0")
    html = page.content.decode()
    assert 'data-verdict="significant"' in html
    assert "Did it really move?" in html


def test_the_results_page_compares_any_two_periods_named_in_the_url(csm_client):
    survey = make_survey("ces")
    jan, mar = periods.period_parse("2026-01"), periods.period_parse("2026-03")
    for score in (7, 6, 5, 4, 3, 2, 1, 5):  # 50 % ± 34.6
        _answer_in(survey, jan, score)
    for score in (7, 6, 2, 1):  # 50 % ± 49.0
        _answer_in(survey, mar, score)
    page = csm_client.get(f"/surveys/{survey.slug}/?period=all&compare=2026-03&against=2026-01")
    assert page.status_code == 200
    change = page.context["change"]
    assert (change.current.label, change.previous.label) == ("Mar 2026", "Jan 2026")
    assert change.difference == Decimal("0.0")
    assert change.verdict == metrics.WITHIN_NOISE
    assert 'data-verdict="within noise"' in page.content.decode()


def test_compare_alone_is_set_against_the_period_before_it(csm_client):
    survey = make_survey("nps")
    page = csm_client.get(f"/surveys/{survey.slug}/?compare=2026-Q1")
    change = page.context["change"]
    assert (change.current.label, change.previous.label) == ("Q1 2026", "Q4 2025")
    assert change.reason == "No answers in Q1 2026 or Q4 2025."
    assert "No verdict: No answers in Q1 2026 or Q4 2025." in page.content.decode()


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("last week", "is not a period"),
        ("2026-13", "has no month 13"),
        ("1800", "Pick a year between 1900 and 2999"),
        ("2026-Q5", "is not a period"),
    ],
)
def test_a_bad_period_is_named_with_a_400_not_a_500(csm_client, value, message):
    survey = make_survey("nps")
    make_answer(survey, 9, days_ago=1)
    page = csm_client.get(f"/surveys/{survey.slug}/", {"compare": value})
    assert page.status_code == 400
    html = page.content.decode()
    assert "Some filters were not applied" in html
    assert message in html
    # The rest of the page still works, compared by default.
    assert page.context["change"].current.responses == 1


def test_all_time_says_why_there_is_no_comparison(csm_client):
    survey = make_survey("csat")
    make_answer(survey, 5)
    page = csm_client.get(f"/surveys/{survey.slug}/?period=all")
    assert page.status_code == 200
    assert page.context["change"] is None
    assert "has no period before it" in page.content.decode()


def test_a_period_in_the_url_is_escaped_in_the_message(csm_client):
    survey = make_survey("nps")
    page = csm_client.get(f"/surveys/{survey.slug}/", {"compare": "<b>x</b>"})
    assert page.status_code == 400
    html = page.content.decode()
    assert "<b>x</b>" not in html
    assert "&lt;b&gt;x&lt;/b&gt;" in html


def test_a_custom_range_is_compared_with_the_same_number_of_days_before_it():
    survey = make_survey("nps")
    from surveys.forms import ResponseFilterForm

    form = ResponseFilterForm(
        {"date_from": "2026-03-01", "date_to": "2026-03-10"}, survey=survey, plans=[]
    )
    assert form.is_valid()
    current, previous = form.comparison(form.filters(), timezone.now())
    assert (current.start, current.end) == (
        dt.datetime(2026, 3, 1, tzinfo=dt.UTC),
        dt.datetime(2026, 3, 11, tzinfo=dt.UTC),
    )
    assert (previous.start, previous.end) == (
        dt.datetime(2026, 2, 19, tzinfo=dt.UTC),
        dt.datetime(2026, 3, 1, tzinfo=dt.UTC),
    )
    assert previous.label == "19 Feb 2026 – 28 Feb 2026"


def test_periods_before_a_month_quarter_and_year_cross_the_year():
    assert periods.period_before(periods.period_parse("2026-01")).label == "Dec 2025"
    assert periods.period_before(periods.period_parse("2026-Q1")).key == "2025-Q4"
    assert periods.period_before(periods.period_parse("2026")).label == "2025"
    assert periods.period_parse("2026-q3").end == dt.datetime(2026, 10, 1, tzinfo=dt.UTC)


@pytest.mark.parametrize("kind", ["nps", "csat", "ces"])
def test_the_results_page_stays_within_15_queries(csm_client, django_assert_max_num_queries, kind):
    survey = make_survey(kind)
    for i in range(30):
        make_answer(survey, i % 5 + 1, comment=f"c{i}", days_ago=i * 20)
    with django_assert_max_num_queries(15):
        assert csm_client.get(f"/surveys/{survey.slug}/?show=all").status_code == 200
