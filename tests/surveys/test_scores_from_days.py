"""NPS, CSAT and CES counted once per page (off the answers per day, or grouped out of a
narrowed set of answers) equal the same scores worked out answer by answer in Python: the
headline, months and comparison of the results page for every period, with and without a plan
filter, and the Satisfaction dashboard's trends and changes, with answers placed right on and
around every window edge (docs/domain/survey-metrics.md, "Reading scores")."""

from __future__ import annotations

import datetime as dt
import random
import zlib
from collections import Counter

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from customers.models import Account
from surveys import metrics, periods, selectors
from surveys.models import Response
from surveys.selectors import ResponseFilters
from tests.customers.factories import make_account, make_contact
from tests.surveys.factories import make_invitation, make_survey

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 11, 17, 14, 25, 31, 250000, tzinfo=dt.UTC)
MICROSECOND = dt.timedelta(microseconds=1)


def _answer(survey, person, at: dt.datetime, score: int) -> None:
    Response.objects.create(
        invitation=make_invitation(survey, person),
        survey=survey,
        contact=person,
        account_id=person.account_id,
        score=score,
        created_at=at,
        updated_at=at,
    )


def _edges() -> list[dt.datetime]:
    """Every edge the pages below cut at: the rolling periods' starts (this minute N days
    ago), their comparison windows, midnights and the first of the months around them."""
    edges = [NOW]
    for days in (30, 90, 365):
        edges += [NOW - dt.timedelta(days=days), NOW - dt.timedelta(days=2 * days)]
    edges += [dt.datetime(2026, 10, 1, tzinfo=dt.UTC), dt.datetime(2026, 7, 1, tzinfo=dt.UTC)]
    edges += [dt.datetime(2025, 11, 18, tzinfo=dt.UTC), dt.datetime(2026, 1, 1, tzinfo=dt.UTC)]
    return edges


def _fill(survey, *, seed: int, low: int, high: int, count: int = 160) -> None:
    rng = random.Random(seed)
    people = [make_contact(make_account(plan=plan)) for plan in ("pro", "basic")]
    for edge in _edges():
        for at in (edge - MICROSECOND, edge, edge + MICROSECOND):
            _answer(survey, rng.choice(people), at, rng.randint(low, high))
    for _ in range(count):
        at = NOW - dt.timedelta(seconds=rng.uniform(-3600, 800 * 86400))
        _answer(survey, rng.choice(people), at, rng.randint(low, high))


def _oracle(survey, filters, comparison):
    """Summary, months and comparison worked out one answer at a time: the summary and months
    by the answer-by-answer aggregate queries CLI and CSI still use, the comparison in Python
    from every answer's own time."""
    answers = Response.objects.filter(survey=survey, score__isnull=False)
    if filters.plan:
        answers = answers.filter(account__plan=filters.plan)
    change = None
    if comparison is not None:
        scores = []
        for window in comparison:
            counts = Counter(
                score
                for at, score in answers.values_list("created_at", "score")
                if window.start <= at < window.end
            )
            summary = selectors._summarise(survey.kind, [], selectors._counts_row(counts))
            scores.append(
                metrics.PeriodScore(window.label, summary.responses, summary.score, summary.margin)
            )
        change = metrics.score_change(current=scores[0], previous=scores[1])
    return (
        selectors.survey_summary(survey=survey, filters=filters, now=NOW),
        selectors.survey_trend(survey=survey, filters=filters, now=NOW),
        change,
    )


PERIODS = [
    (ResponseFilters(period="30"), "default"),
    (ResponseFilters(period="90"), "default"),
    (ResponseFilters(period="365"), "default"),
    (ResponseFilters(period="all"), None),
    (ResponseFilters(period="365"), (periods.quarter(2026, 3), periods.quarter(2026, 2))),
    (ResponseFilters(period="30"), (periods.month(2026, 10), periods.month(2025, 10))),
    (
        ResponseFilters(
            period="custom", date_from=dt.date(2025, 11, 18), date_to=dt.date(2026, 2, 3)
        ),
        "default",
    ),
    (ResponseFilters(period="custom", date_from=dt.date(2026, 9, 30)), None),
    (ResponseFilters(period="365", plan="pro"), "default"),
    (ResponseFilters(period="all", plan="pro"), (periods.year(2026), periods.year(2025))),
]


@pytest.mark.parametrize("kind, low, high", [("nps", 0, 10), ("csat", 1, 5), ("ces", 1, 7)])
@pytest.mark.parametrize("filters, comparison", PERIODS)
def test_the_results_page_scores_equal_the_answer_by_answer_scores(
    kind, low, high, filters, comparison
):
    survey = make_survey(kind)
    _fill(survey, seed=zlib.crc32(f"{kind}{filters.period}".encode()), low=low, high=high)
    _fill(make_survey(kind), seed=7, low=low, high=high, count=20)  # another survey's answers
    if comparison == "default":
        start, end = filters.window(NOW)
        current = periods.days(start, end or NOW)
        comparison = (current, periods.period_before(current))

    scores = selectors.survey_scores(survey=survey, filters=filters, now=NOW, comparison=comparison)

    summary, trend, change = _oracle(survey, filters, comparison)
    assert scores.summary.responses > 0
    assert (scores.summary, scores.trend, scores.change) == (summary, trend, change)


def test_the_results_page_reads_its_scores_in_two_queries_whatever_the_answers():
    survey = make_survey("nps")
    _fill(survey, seed=3, low=0, high=10)
    filters = ResponseFilters(period="365")
    current = periods.days(NOW - dt.timedelta(days=365), NOW)
    with CaptureQueriesContext(connection) as queries:
        selectors.survey_scores(
            survey=survey,
            filters=filters,
            now=NOW,
            comparison=(current, periods.period_before(current)),
        )
    assert len(queries) == 2  # the days, and the answers of the days an edge splits


def test_a_month_aligned_dashboard_reads_the_days_once():
    survey = make_survey("nps")
    _fill(survey, seed=4, low=0, high=10)
    current, previous = periods.quarter(2026, 3), periods.quarter(2026, 2)
    with CaptureQueriesContext(connection) as queries:
        selectors.scored_overview(current=current, previous=previous)
    assert len(queries) == 1


@pytest.mark.parametrize("seed", [1, 2])
def test_the_dashboard_trends_and_changes_equal_the_answer_by_answer_ones(seed):
    for kind, low, high in [("nps", 0, 10), ("csat", 1, 5), ("ces", 1, 7)]:
        _fill(make_survey(kind), seed=seed, low=low, high=high, count=120)
    current = periods.Window(
        "Dec 2025 – Nov 2026",
        dt.datetime(2025, 12, 1, tzinfo=dt.UTC),
        dt.datetime(2026, 12, 1, tzinfo=dt.UTC),
        "months",
    )
    previous = periods.Window(
        "Dec 2024 – Nov 2025",
        dt.datetime(2024, 12, 1, tzinfo=dt.UTC),
        dt.datetime(2025, 12, 1, tzinfo=dt.UTC),
        "months",
    )

    trends, changes = selectors.scored_overview(current=current, previous=previous)

    assert all(trends[kind] for kind in selectors.SCORED_KINDS)
    # Narrowed to every account, the same counts come out of the answers themselves.
    assert (trends, changes) == selectors.scored_overview(
        current=current, previous=previous, accounts=Account.objects.all()
    )
    rows = list(Response.objects.values_list("survey__kind", "created_at", "score"))
    for kind in selectors.SCORED_KINDS:
        months = {point.month: point.responses for point in trends[kind]}
        expected = Counter(
            at.date().replace(day=1)
            for k, at, _ in rows
            if k == kind and current.start <= at < current.end
        )
        assert months == dict(expected)
        in_previous = sum(
            1 for k, at, _ in rows if k == kind and previous.start <= at < previous.end
        )
        assert changes[kind].previous.responses == in_previous


def test_a_plan_filter_counts_only_that_plans_answers():
    survey = make_survey("nps")
    pro, basic = make_account(plan="pro"), make_account(plan="basic")
    for person, score in ((make_contact(pro), 10), (make_contact(basic), 0)):
        _answer(survey, person, NOW - dt.timedelta(days=2), score)
    scores = selectors.survey_scores(
        survey=survey, filters=ResponseFilters(period="30", plan="pro"), now=NOW
    )
    assert (scores.summary.responses, scores.summary.score) == (1, 100)


def test_a_plan_filtered_results_page_still_reads_its_scores_in_two_queries():
    survey = make_survey("nps")
    _fill(survey, seed=5, low=0, high=10)
    current = periods.days(NOW - dt.timedelta(days=365), NOW)
    with CaptureQueriesContext(connection) as queries:
        selectors.survey_scores(
            survey=survey,
            filters=ResponseFilters(period="365", plan="pro"),
            now=NOW,
            comparison=(current, periods.period_before(current)),
        )
    assert len(queries) == 2  # one pass over the plan's answers, and the split days' answers


def test_the_survey_list_counts_the_days_as_its_results_pages_count_the_answers():
    nps, ces = make_survey("nps"), make_survey("ces")
    _fill(nps, seed=11, low=0, high=10)
    _fill(ces, seed=12, low=1, high=7)
    rows = {row.survey.pk: row.summary for row in selectors.survey_index(now=NOW)}
    for survey in (nps, ces):
        expected = selectors.survey_summary(
            survey=survey, filters=ResponseFilters(period="365"), now=NOW
        )
        assert rows[survey.pk] == expected
        assert expected.responses > 0
