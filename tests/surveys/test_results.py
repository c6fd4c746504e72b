"""The results page and the set-based reads behind it."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from customers.models import LifecycleStage
from surveys import selectors
from surveys.models import Invitation, Tag
from surveys.selectors import ResponseFilters
from tests.customers.factories import make_account, make_contact
from tests.surveys.factories import make_answer, make_invitation, make_survey

pytestmark = pytest.mark.django_db

SCRIPT = "<script>alert(1)</script>"
ALL_TIME = ResponseFilters(period="all", comments_only=False)


def _csv(response) -> list[list[str]]:
    body = b"".join(response.streaming_content).decode("utf-8")
    return list(csv.reader(io.StringIO(body)))


# --- scores from the database -----------------------------------------------------------------


def test_the_nps_summary_counts_in_sql_what_the_formula_says():
    """Same answers as the hand-worked metrics case: NPS 20 ± 54.0."""
    survey = make_survey("nps")
    for score in [10, 10, 9, 8, 7, 6, 5, 0, 9, 10]:
        make_answer(survey, score)
    make_answer(survey, None, comment="only a comment")  # unanswered: not in N
    summary = selectors.survey_summary(survey=survey, filters=ALL_TIME)
    assert summary.responses == 10
    assert (summary.score, summary.margin) == (Decimal("20.0"), Decimal("54.0"))
    assert summary.distribution[10] == 3 and summary.distribution[1] == 0


def test_a_survey_without_answers_has_no_score():
    summary = selectors.survey_summary(survey=make_survey("nps"), filters=ALL_TIME)
    assert (summary.responses, summary.score, summary.margin) == (0, None, None)


def test_csat_and_ces_summaries_give_share_and_mean():
    csat, ces = make_survey("csat"), make_survey("ces")
    for score in [5, 4, 4, 3, 2, 1, 5]:
        make_answer(csat, score)
    for score in [7, 6, 5, 4, 3, 2, 1, 5]:
        make_answer(ces, score)
    assert selectors.survey_summary(survey=csat, filters=ALL_TIME).score == Decimal("57")
    assert selectors.survey_summary(survey=csat, filters=ALL_TIME).mean == Decimal("3.43")
    assert selectors.survey_summary(survey=ces, filters=ALL_TIME).score == Decimal("50")
    assert selectors.survey_summary(survey=ces, filters=ALL_TIME).mean == Decimal("4.13")


def test_a_csat_page_shows_its_share_with_the_margin_in_percentage_points(csm_client):
    """4 of 7 satisfied: 57 %, margin 196 × sqrt((4/7)(3/7) / 7) = 36.66 → 36.7."""
    csat = make_survey("csat")
    for score in [5, 4, 4, 3, 2, 1, 5]:
        make_answer(csat, score)
    assert selectors.survey_summary(survey=csat, filters=ALL_TIME).margin == Decimal("36.7")
    page = csm_client.get(f"/surveys/{csat.slug}/?period=all").content.decode()
    assert "± 36.7" in page
    assert "95 % margin of error (percentage points)" in page


def test_cli_is_aggregated_from_the_json_answers():
    """(9, 8, 5) and (6, 7, 3): 38 / 6 / 10 × 100 = 63.3, on SQLite and PostgreSQL alike."""
    survey = make_survey("cli")
    make_answer(survey, answers={"recommend": 9, "buy_again": 8, "try_other": 5})
    make_answer(survey, answers={"recommend": 6, "buy_again": 7, "try_other": 3})
    summary = selectors.survey_summary(survey=survey, filters=ALL_TIME)
    assert summary.score == Decimal("63.3")
    # Respondents' CLIs 73.3 and 53.3: variance 100, margin 1.96 × sqrt(100 / 2) = 13.9.
    assert summary.margin == Decimal("13.9")
    assert summary.distribution[9] == 1 and summary.distribution[7] == 1
    assert sum(summary.distribution.values()) == 6


def test_csi_is_aggregated_from_the_json_answers():
    """The hand-worked case of test_metrics: CSI 62.5 with weights 0.583 / 0.417."""
    survey = make_survey("csi", csi_criteria=["price", "support"])
    make_answer(
        survey,
        answers={
            "price": {"importance": 8, "satisfaction": 6},
            "support": {"importance": 4, "satisfaction": 9},
        },
    )
    make_answer(
        survey,
        answers={
            "price": {"importance": 6, "satisfaction": 4},
            "support": {"importance": 6, "satisfaction": 7},
        },
    )
    summary = selectors.survey_summary(survey=survey, filters=ALL_TIME)
    assert summary.score == Decimal("62.5")
    assert [c.weight for c in summary.result.criteria] == [Decimal("0.583"), Decimal("0.417")]
    # Respondents' CSIs at these weights 72.5 and 52.5: margin 1.96 × sqrt(100 / 2) = 13.9.
    assert summary.margin == Decimal("13.9")


def test_the_trend_has_one_score_per_calendar_month():
    survey = make_survey("nps")
    now = timezone.now()
    this_month = now.replace(day=1, hour=12)
    last_month = (this_month - dt.timedelta(days=1)).replace(day=2)
    for score in (10, 10):
        r = make_answer(survey, score)
        r.created_at = this_month
        r.save()
    for score in (0, 10):
        r = make_answer(survey, score)
        r.created_at = last_month
        r.save()
    points = selectors.survey_trend(survey=survey, filters=ALL_TIME, now=now)
    assert [(p.month, p.responses, p.score) for p in points] == [
        (last_month.date().replace(day=1), 2, Decimal("0.0")),
        (this_month.date(), 2, Decimal("100.0")),
    ]


def test_the_response_rate_counts_answers_to_the_invitations_sent_in_the_period():
    survey = make_survey("nps")
    make_answer(survey, 9, days_ago=3)
    make_answer(survey, 3, days_ago=10)
    make_invitation(survey, make_contact(), days_ago=5)
    make_invitation(survey, make_contact(), days_ago=6)
    make_answer(survey, 9, days_ago=100)  # sent before the 30-day window
    test_link = make_invitation(survey, make_contact(), days_ago=1)  # an admin trying the survey
    test_link.trigger = Invitation.Trigger.MANUAL
    test_link.save()
    rate = selectors.survey_response_rate(survey=survey, filters=ResponseFilters(period="30"))
    assert (rate.sent, rate.answered, rate.percent) == (4, 2, Decimal("50"))


# --- filters ------------------------------------------------------------------------------------


@pytest.fixture
def mixed_answers(csm_user):
    survey = make_survey("nps")
    pro = make_account(name="Pro Co", plan="Pro", stage=LifecycleStage.RENEWAL, owner=csm_user)
    basic = make_account(name="Basic Co", plan="Basic", stage=LifecycleStage.ONBOARDING)
    pricing = Tag.objects.create(name="Pricing", keywords="price")
    answers = {
        "pro_detractor": make_answer(survey, 2, comment="The price is too high", acc=pro),
        "pro_promoter": make_answer(survey, 10, comment="Love it", acc=pro, days_ago=60),
        "basic_passive": make_answer(survey, 7, comment="Fine", acc=basic, days_ago=200),
        "basic_silent": make_answer(survey, 9, acc=basic),
    }
    answers["pro_detractor"].tags.add(pricing)
    return survey, answers, pro, pricing


def _ids(survey, **filters) -> set[int]:
    return {
        r.pk for r in selectors.survey_comments(survey=survey, filters=ResponseFilters(**filters))
    }


def test_comments_filter_by_category_account_segment_period_tag_and_search(mixed_answers):
    survey, a, pro, pricing = mixed_answers
    pk = {name: r.pk for name, r in a.items()}
    assert _ids(survey) == {pk["pro_detractor"], pk["pro_promoter"], pk["basic_passive"]}
    assert _ids(survey, comments_only=False) == set(pk.values())
    assert _ids(survey, category="detractor") == {pk["pro_detractor"]}
    assert _ids(survey, category="promoter", comments_only=False) == {
        pk["pro_promoter"],
        pk["basic_silent"],
    }
    assert _ids(survey, account_id=pro.pk) == {pk["pro_detractor"], pk["pro_promoter"]}
    assert _ids(survey, plan="Basic") == {pk["basic_passive"]}
    assert _ids(survey, stage=LifecycleStage.RENEWAL) == {pk["pro_detractor"], pk["pro_promoter"]}
    assert _ids(survey, period="30") == {pk["pro_detractor"]}
    assert _ids(survey, period="all") == {
        pk["pro_detractor"],
        pk["pro_promoter"],
        pk["basic_passive"],
    }
    assert _ids(survey, tag=pricing) == {pk["pro_detractor"]}
    assert _ids(survey, search="PRICE") == {pk["pro_detractor"]}
    assert _ids(survey, search="basic co") == {pk["basic_passive"]}


def test_a_custom_period_includes_both_end_days(mixed_answers):
    survey, a, _pro, _tag = mixed_answers
    day = a["pro_promoter"].created_at.date()
    assert _ids(survey, period="custom", date_from=day, date_to=day) == {a["pro_promoter"].pk}


def test_the_score_ignores_the_category_filter_but_follows_the_others(mixed_answers):
    survey, _a, pro, _tag = mixed_answers
    detractors_only = ResponseFilters(category="detractor", period="all")
    # A score of the detractors alone would always be −100: the category narrows the list only.
    assert selectors.survey_summary(survey=survey, filters=detractors_only).responses == 4
    of_pro = ResponseFilters(account_id=pro.pk, period="all")
    assert selectors.survey_summary(survey=survey, filters=of_pro).score == Decimal("0.0")


def test_the_results_page_applies_filters_from_the_url(csm_client, mixed_answers):
    survey, a, _pro, _tag = mixed_answers
    response = csm_client.get(f"/surveys/{survey.slug}/?category=detractor&period=all")
    assert response.status_code == 200
    rows = [r.pk for r in response.context["page"].object_list]
    assert rows == [a["pro_detractor"].pk]
    assert "The price is too high" in response.text
    assert "Love it" not in response.text


def test_htmx_gets_the_results_partial_and_the_url_is_pushed(csm_client, mixed_answers):
    survey, _a, _pro, _tag = mixed_answers
    response = csm_client.get(
        f"/surveys/{survey.slug}/?category=promoter", headers={"HX-Request": "true"}
    )
    assert response.status_code == 200
    assert "<html" not in response.text
    assert 'hx-push-url="true"' in response.text
    assert "Love it" in response.text
    full = csm_client.get(
        f"/surveys/{survey.slug}/",
        headers={"HX-Request": "true", "HX-History-Restore-Request": "true"},
    )
    assert "<html" in full.text


def test_bad_filters_are_reported_by_name_with_a_400(csm_client, mixed_answers):
    survey, _a, _pro, _tag = mixed_answers
    response = csm_client.get(
        f"/surveys/{survey.slug}/?category=ninja&date_from=2026-05-02&date_to=2026-05-01"
    )
    assert response.status_code == 400
    assert "Category: Select a valid choice" in response.text
    assert "To: The end date is before the start date." in response.text


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("date_to=9999-12-31", "To: Pick a date between 1900-01-01 and 2999-12-31."),
        ("date_from=0001-01-01", "From: Pick a date between 1900-01-01 and 2999-12-31."),
        ("account=99999999999999999999", "Ensure this value is less than or equal to"),
    ],
)
def test_filters_beyond_what_the_database_holds_are_a_400_on_the_page_and_the_export(
    csm_client, mixed_answers, query, message
):
    survey, *_ = mixed_answers

    page = csm_client.get(f"/surveys/{survey.slug}/?{query}")
    export = csm_client.get(f"/surveys/{survey.slug}/export.csv?{query}")

    assert page.status_code == 400
    assert message in page.text
    assert export.status_code == 400


def test_csat_surveys_filter_by_satisfaction_not_nps_categories(csm_client):
    survey = make_survey("csat")
    make_answer(survey, 1, comment="bad")
    make_answer(survey, 5, comment="good")
    response = csm_client.get(f"/surveys/{survey.slug}/?category=unsatisfied")
    assert [r.comment for r in response.context["page"].object_list] == ["bad"]
    assert csm_client.get(f"/surveys/{survey.slug}/?category=detractor").status_code == 400


def test_an_unknown_survey_is_a_404(csm_client):
    assert csm_client.get("/surveys/no-such-survey/").status_code == 404


def test_viewers_read_results_without_tag_forms(viewer_client, mixed_answers):
    survey, _a, _pro, _tag = mixed_answers
    response = viewer_client.get(f"/surveys/{survey.slug}/")
    assert response.status_code == 200
    assert "The price is too high" in response.text
    assert "tag-add" not in response.text


def test_anonymous_visitors_are_sent_to_log_in(client, mixed_answers):
    survey, _a, _pro, _tag = mixed_answers
    response = client.get(f"/surveys/{survey.slug}/")
    assert response.status_code == 302
    assert "/auth/login/" in response["Location"]


def test_the_page_shows_score_margin_rate_charts_and_benchmarks(csm_client, mixed_answers):
    survey, _a, _pro, _tag = mixed_answers
    text = csm_client.get(f"/surveys/{survey.slug}/?period=all").text
    # 10 and 9 promote, 7 is passive, 2 detracts: 100 × (2 − 1) / 4 = 25.
    assert "data-score>25<" in text
    assert "± " in text
    assert 'data-chart="trend-chart"' in text and 'id="trend-chart"' in text
    assert 'id="distribution-chart"' in text
    assert "vendor/plotly.min.js" in text
    assert "NPS ≥ 50 is good" in text


# --- query counts ---------------------------------------------------------------------------


def _many_answers(survey, n: int, tag: Tag) -> None:
    acc = make_account(plan="Pro")
    person = make_contact(acc)
    for i in range(n):
        r = make_answer(survey, i % 11, comment=f"comment {i}", person=person, days_ago=i % 300)
        r.tags.add(tag)


@pytest.mark.parametrize("kind", ["nps", "cli"])
def test_the_results_page_needs_the_same_queries_for_5_or_60_answers(
    csm_client, django_assert_max_num_queries, kind
):
    tag = Tag.objects.create(name="t")
    small, big = make_survey(kind), make_survey(kind)
    _many_answers(small, 5, tag)
    _many_answers(big, 60, tag)
    with django_assert_max_num_queries(16) as small_queries:
        assert csm_client.get(f"/surveys/{small.slug}/?show=all").status_code == 200
    with django_assert_max_num_queries(len(small_queries.captured_queries)):
        assert csm_client.get(f"/surveys/{big.slug}/?show=all").status_code == 200


def test_paging_through_comments_fetches_only_the_comments(
    csm_client, django_assert_max_num_queries
):
    tag = Tag.objects.create(name="t")
    survey = make_survey("nps")
    _many_answers(survey, 60, tag)
    url = f"/surveys/{survey.slug}/?show=all&period=all&page=2"

    with CaptureQueriesContext(connection) as filtering:
        whole = csm_client.get(url, headers={"HX-Request": "true", "HX-Target": "results"})
    with django_assert_max_num_queries(8) as paging:
        comments = csm_client.get(url, headers={"HX-Request": "true", "HX-Target": "comments"})

    assert comments.status_code == 200
    assert comments.text.lstrip().startswith('<section class="panel" id="comments"')
    assert 'data-kpi="score"' not in comments.text and 'data-kpi="score"' in whole.text
    assert "Page 2 of 3" in comments.text
    rows = re.findall(r'data-response="(\d+)"', comments.text)
    assert rows == re.findall(r'data-response="(\d+)"', whole.text) and len(rows) == 25
    # No scores, trend or rate this time: three aggregate queries fewer at least.
    assert len(paging.captured_queries) <= len(filtering.captured_queries) - 3

    # A refused filter (reported above the comments) does not turn the page into the whole
    # results block: the comments come back with the valid filters applied.
    bad = csm_client.get(
        f"{url}&date_to=9999-12-31", headers={"HX-Target": "comments", "HX-Request": "true"}
    )
    assert bad.text.lstrip().startswith('<section class="panel" id="comments"')
    assert re.findall(r'data-response="(\d+)"', bad.text) == rows


def test_the_survey_list_shows_every_kind_with_bounded_queries(
    csm_client, django_assert_max_num_queries
):
    for kind in ["nps", "csat", "ces", "cli", "csi"]:
        survey = make_survey(kind, name=f"The {kind} one")
        for _ in range(3):
            if kind == "cli":
                make_answer(survey, answers={"recommend": 10, "buy_again": 10, "try_other": 4})
            elif kind == "csi":
                make_answer(
                    survey,
                    answers={k: {"importance": 5, "satisfaction": 9} for k in survey.criteria},
                )
            else:
                make_answer(survey, {"nps": 10, "csat": 5, "ces": 2}[kind])
    with django_assert_max_num_queries(8):
        response = csm_client.get("/surveys/")
    rows = {row.survey.kind: row.summary for row in response.context["rows"]}
    assert rows["nps"].score == Decimal("100.0")
    assert rows["csat"].score == Decimal("100")
    assert rows["ces"].score == Decimal("0")
    assert rows["cli"].score == Decimal("80.0")
    assert rows["csi"].score == Decimal("90.0")
    assert "The csi one" in response.text


def _csi_answers(survey, rows):
    for satisfactions in rows:
        make_answer(
            survey,
            answers={
                key: {"importance": 4 + i, "satisfaction": sat}
                for i, (key, sat) in enumerate(zip(survey.criteria, satisfactions, strict=True))
            },
        )


def test_the_survey_list_shows_the_same_margins_as_each_results_page():
    cli = make_survey("cli")
    for values in [(10, 9, 8), (4, 6, 5), (7, 7, 2)]:
        make_answer(
            cli, answers=dict(zip(["recommend", "buy_again", "try_other"], values, strict=True))
        )
    # The same criteria in another order: the list's union re-keys each survey's columns.
    forward = make_survey("csi", csi_criteria=["price", "support"])
    backward = make_survey("csi", csi_criteria=["support", "price"])
    _csi_answers(forward, [(9, 3), (5, 8), (7, 7)])
    _csi_answers(backward, [(2, 10), (6, 6), (9, 4)])

    def margins():
        rows = {row.survey.pk: row.summary.margin for row in selectors.survey_index()}
        pages = {
            s.pk: selectors.survey_summary(survey=s, filters=ALL_TIME).margin
            for s in (cli, forward, backward)
        }
        return rows, pages

    rows, pages = margins()
    assert all(margin is not None for margin in pages.values())
    assert {pk: rows[pk] for pk in pages} == pages

    # A survey with a criterion the others lack: their answers never rated it, so the list
    # leaves their margins out instead of showing a wrong one.
    wider = make_survey("csi", csi_criteria=["price", "support", "onboarding"])
    _csi_answers(wider, [(9, 3, 7), (5, 8, 6)])
    rows, _ = margins()
    assert (rows[forward.pk], rows[backward.pk]) == (None, None)
    assert rows[wider.pk] == selectors.survey_summary(survey=wider, filters=ALL_TIME).margin


# --- escaping -----------------------------------------------------------------------------------


def test_script_payloads_in_comments_and_names_are_escaped_on_the_results_page(csm_client):
    survey = make_survey("nps", name=SCRIPT)
    acc = make_account(name=SCRIPT, plan=SCRIPT)
    person = make_contact(acc, name=SCRIPT)
    r = make_answer(survey, 3, comment=SCRIPT, person=person)
    r.tags.add(Tag.objects.create(name=SCRIPT))
    for url in (f"/surveys/{survey.slug}/", f"/surveys/{survey.slug}/?account={acc.pk}"):
        text = csm_client.get(url).text
        assert SCRIPT not in text
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert SCRIPT not in csm_client.get("/surveys/").text


# --- CSV export ---------------------------------------------------------------------------------


def test_the_csv_export_has_the_filtered_answers_with_tags(csm_client, mixed_answers):
    survey, a, _pro, _tag = mixed_answers
    response = csm_client.get(f"/surveys/{survey.slug}/export.csv?category=detractor")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith("attachment;")
    header, *rows = _csv(response)
    assert header[:4] == ["response_id", "answered_at", "updated_at", "account"]
    assert [row[header.index("response_id")] for row in rows] == [str(a["pro_detractor"].pk)]
    row = dict(zip(header, rows[0], strict=True))
    assert (row["score"], row["category"], row["tags"]) == ("2", "detractor", "Pricing")


def test_the_csv_export_neutralises_spreadsheet_formulas(csm_client):
    survey = make_survey("nps")
    acc = make_account(name='=HYPERLINK("http://evil.example","x")')
    make_answer(survey, 1, comment="+cmd|' /C calc'!A0", acc=acc)
    make_answer(survey, 2, comment="  @SUM(1+1)", acc=acc)
    make_answer(survey, 3, comment=SCRIPT, acc=acc)
    header, *rows = _csv(csm_client.get(f"/surveys/{survey.slug}/export.csv"))
    comments = {row[header.index("comment")] for row in rows}
    assert comments == {"'+cmd|' /C calc'!A0", "'  @SUM(1+1)", SCRIPT}
    assert {row[header.index("account")] for row in rows} == {
        '\'=HYPERLINK("http://evil.example","x")'
    }


def test_the_csv_export_of_multi_item_surveys_has_a_column_per_item(csm_client):
    cli = make_survey("cli")
    make_answer(cli, answers={"recommend": 9, "buy_again": 8, "try_other": 7}, days_ago=1)
    make_answer(cli, answers={"recommend": 0, "buy_again": 0, "try_other": 0})
    header, *rows = _csv(csm_client.get(f"/surveys/{cli.slug}/export.csv?show=all"))
    assert [dict(zip(header, row, strict=True))["cli"] for row in rows] == ["80.0", "0.0"]
    assert {"recommend", "buy_again", "try_other"} <= set(header)
    csi = make_survey("csi", csi_criteria=["price"])
    make_answer(csi, answers={"price": {"importance": 3, "satisfaction": 7}})
    header, row = _csv(csm_client.get(f"/surveys/{csi.slug}/export.csv?show=all"))
    values = dict(zip(header, row, strict=True))
    assert (values["price_importance"], values["price_satisfaction"], values["csi"]) == (
        "3",
        "7",
        "70.0",
    )


def test_the_csv_export_refuses_bad_filters_by_name(csm_client):
    survey = make_survey("nps")
    response = csm_client.get(f"/surveys/{survey.slug}/export.csv?period=forever")
    assert response.status_code == 400
    assert "period" in response.content.decode()


def test_viewers_may_export(viewer_client, mixed_answers):
    survey, *_ = mixed_answers
    assert viewer_client.get(f"/surveys/{survey.slug}/export.csv").status_code == 200


def test_exports_and_pages_need_no_csrf_but_writes_do(csm_user, mixed_answers):
    survey, a, _pro, _tag = mixed_answers
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(csm_user)
    assert strict.get(f"/surveys/{survey.slug}/").status_code == 200
    response = strict.post(f"/surveys/responses/{a['pro_promoter'].pk}/tags/", {"name": "x"})
    assert response.status_code == 403


def test_picking_dates_means_a_custom_period_and_the_select_says_so(csm_client, mixed_answers):
    survey, a, _pro, _tag = mixed_answers
    day = a["pro_promoter"].created_at.date().isoformat()
    response = csm_client.get(f"/surveys/{survey.slug}/?period=30&date_from={day}&date_to={day}")
    assert response.context["filters"].period == "custom"
    assert [r.pk for r in response.context["page"].object_list] == [a["pro_promoter"].pk]
    assert '<option value="custom" selected>' in response.text


def test_without_a_period_the_page_shows_and_uses_the_last_12_months(csm_client, mixed_answers):
    survey, *_ = mixed_answers
    response = csm_client.get(f"/surveys/{survey.slug}/")
    assert response.context["filters"].period == "365"
    assert '<option value="365" selected>' in response.text


def test_read_pages_answer_head_and_refuse_post(csm_client, mixed_answers):
    survey, *_ = mixed_answers
    for url in ("/surveys/", f"/surveys/{survey.slug}/", "/surveys/follow-ups/"):
        assert csm_client.head(url).status_code == 200
        assert csm_client.post(url).status_code == 405


def test_csi_criteria_are_shown_by_their_label_with_script_payloads_escaped(csm_client):
    from surveys.models import SurveyText

    survey = make_survey("csi", csi_criteria=["price_value", "support"])
    SurveyText.objects.update_or_create(
        survey=survey,
        language="en",
        defaults={"items": {"support": "<script>alert(1)</script> Help desk"}},
    )
    make_answer(
        survey,
        answers={
            "price_value": {"importance": 8, "satisfaction": 6},
            "support": {"importance": 6, "satisfaction": 9},
        },
    )
    page = csm_client.get(f"/surveys/{survey.slug}/?show=all").content.decode()
    assert "<td>Price value</td>" in page
    assert "<td>&lt;script&gt;alert(1)&lt;/script&gt; Help desk</td>" in page
    assert "<script>alert(1)" not in page
