"""A CSM asks a survey's results page whether the score really moved, in a real browser."""

from __future__ import annotations

import datetime as dt

import pytest
from playwright.sync_api import expect

from surveys import periods
from surveys.models import Response
from tests.surveys.factories import make_answer, make_survey

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _answer_in(survey, month: str, score: int, hours: int) -> None:
    window = periods.period_parse(month)
    response = make_answer(survey, score)
    at = window.start + dt.timedelta(hours=hours)
    Response.objects.filter(pk=response.pk).update(created_at=at, updated_at=at)


def test_a_csm_compares_two_months_and_reads_the_verdict(page, login, csm_user):
    survey = make_survey("nps", name="Relationship NPS")
    for i in range(20):
        _answer_in(survey, "2026-02", 10, hours=i)  # 100.0 ± 0.0
    for i, score in enumerate((10, 7, 0)):
        _answer_in(survey, "2026-01", score, hours=i)  # 0.0 ± 92.4
    for i, score in enumerate((9, 6)):
        _answer_in(survey, "2025-12", score, hours=i)  # 0.0 ± 138.6 (196 × sqrt(1 / 2))
    login(csm_user)
    page.goto(f"/surveys/{survey.slug}/?period=all")
    expect(page.locator("[data-score-change] [data-no-verdict]")).to_contain_text(
        "has no period before it"
    )

    # Each field applies on Enter (htmx swaps the results and pushes the URL).
    page.get_by_label("Compare").fill("2026-02")
    page.get_by_label("Compare").press("Enter")
    page.wait_for_url("**compare=2026-02**")
    page.get_by_label("against").fill("2026-01")
    page.get_by_label("against").press("Enter")
    page.wait_for_url("**against=2026-01**")
    change = page.locator("[data-score-change]")
    expect(change).to_have_attribute("data-verdict", "significant")
    expect(change.locator("[data-difference]")).to_have_text("+100")
    expect(change.locator("[data-difference-margin]")).to_have_text("92.4")

    # January against December: 0 → 0, margin sqrt(92.4² + 138.6²) = 166.58 → 166.6: noise.
    page.get_by_label("against").fill("")
    page.get_by_label("against").press("Enter")
    page.wait_for_url("**against=&**")
    page.get_by_label("Compare").fill("2026-01")
    page.get_by_label("Compare").press("Enter")
    page.wait_for_url("**compare=2026-01**")
    expect(change).to_have_attribute("data-verdict", "within noise")
    expect(change.locator("[data-difference-margin]")).to_have_text("166.6")

    page.get_by_label("Compare").fill("2026-14")
    page.get_by_label("Compare").press("Enter")
    expect(page.get_by_role("alert")).to_contain_text("has no month 14")
