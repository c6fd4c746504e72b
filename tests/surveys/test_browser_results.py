"""A CSM reads a survey's results, narrows them to detractors and closes the loop, in a real
browser."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from surveys import services
from surveys.models import FollowUp
from tests.customers.factories import make_account
from tests.surveys.factories import make_answer, make_survey

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def nps_with_answers(csm_user):
    survey = make_survey("nps", name="Quarterly NPS")
    acme = make_account(name="Acme", plan="Pro", owner=csm_user)
    globex = make_account(name="Globex", plan="Basic", owner=csm_user)
    make_answer(survey, 10, comment="Love the new reports", acc=globex, days_ago=40)
    make_answer(survey, 9, comment="Great support", acc=globex, days_ago=5)
    make_answer(survey, 8, comment="Fine overall", acc=globex, days_ago=70)
    unhappy = make_answer(survey, 3, comment="<b>Too slow</b> to load", acc=acme, days_ago=2)
    make_answer(survey, 5, comment="Price went up", acc=acme, days_ago=35)
    services.follow_up_create_for_response(response_id=unhappy.pk)
    return survey


def test_a_csm_filters_to_detractors_and_marks_a_follow_up_handled(
    page, login, csm_user, nps_with_answers
):
    survey = nps_with_answers
    login(csm_user)

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Surveys").click()
    page.get_by_role("link", name="Quarterly NPS").click()
    page.wait_for_url(f"**/surveys/{survey.slug}/")

    # 2 promoters, 1 passive, 2 detractors of 5: NPS 0, margin 196 × sqrt(0.8 / 5) = 78.4.
    expect(page.locator("[data-kpi=score] [data-score]")).to_have_text("0")
    expect(page.locator("[data-kpi=score] [data-margin]")).to_have_text("± 78.4")
    expect(page.locator("[data-chart=trend-chart] .main-svg").first).to_be_visible()
    expect(page.locator("[data-chart=distribution-chart] .main-svg").first).to_be_visible()
    expect(page.locator("tr[data-response]")).to_have_count(5)
    # The comment's markup is shown as text, never run.
    expect(page.get_by_text("<b>Too slow</b> to load")).to_be_visible()

    page.get_by_label("Category").select_option("detractor")
    page.wait_for_url("**category=detractor**")
    rows = page.locator("tr[data-response]")
    expect(rows).to_have_count(2)
    for category in rows.evaluate_all("rows => rows.map(r => r.dataset.category)"):
        assert category == "detractor"
    expect(page.get_by_text("Love the new reports")).to_have_count(0)
    # The score still covers every category; the charts are redrawn after the swap.
    expect(page.locator("[data-kpi=score] [data-score]")).to_have_text("0")
    expect(page.locator("[data-chart=trend-chart] .main-svg").first).to_be_visible()

    # The filtered view is a URL: reloading it shows the same.
    page.reload()
    expect(page.locator("tr[data-response]")).to_have_count(2)
    expect(page.get_by_label("Category")).to_have_value("detractor")

    # Close the loop from the home page.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Home").click()
    panel = page.locator("[data-home-follow-ups]")
    expect(panel).to_contain_text("Your tasks and follow-ups (1)")
    panel.get_by_role("link", name="Handle on the follow-ups page").click()
    page.wait_for_url("**/surveys/follow-ups/**")

    row = page.locator("tr[data-follow-up]")
    expect(row).to_have_count(1)
    row.get_by_role("button", name="Mark handled").click()
    expect(row.get_by_text("Write a note on what you did: it is required.")).to_be_visible()
    assert FollowUp.objects.get().status == "open"

    page.get_by_label("What did you do?").fill("Called Acme; the slow page is fixed.")
    page.get_by_role("button", name="Mark handled").click()
    expect(page.locator("tr[data-follow-up]")).to_have_attribute("data-status", "handled")
    expect(page.get_by_text("Called Acme; the slow page is fixed.")).to_be_visible()
    follow_up = FollowUp.objects.get()
    assert (follow_up.status, follow_up.handled_by) == ("handled", csm_user)


def test_a_csm_tags_an_answer_without_leaving_the_page(page, login, csm_user, nps_with_answers):
    survey = nps_with_answers
    login(csm_user)
    page.goto(f"/surveys/{survey.slug}/?category=detractor")
    row = page.locator("tr[data-response]").first
    row.get_by_label("Add a tag to this answer").fill("Performance")
    row.get_by_role("button", name="Add").click()
    expect(row.locator("[data-tag=Performance]")).to_be_visible()
    assert page.url.endswith("category=detractor")
    row.get_by_role("button", name="Remove the tag Performance").click()
    expect(row.locator("[data-tag=Performance]")).to_have_count(0)


def test_paging_through_comments_keeps_the_scores_and_the_back_button(page, login, csm_user):
    survey = make_survey("nps", name="Busy NPS")
    for i in range(30):
        make_answer(survey, i % 11, comment=f"Comment number {i}", days_ago=i)
    login(csm_user)
    page.goto(f"/surveys/{survey.slug}/")
    expect(page.locator("tr[data-response]")).to_have_count(25)

    page.get_by_role("link", name="Older").click()
    page.wait_for_url("**page=2**")
    expect(page.locator("tr[data-response]")).to_have_count(5)
    expect(page.get_by_text("Comment number 29")).to_be_visible()
    expect(page.locator("[data-kpi=score] [data-score]")).to_be_visible()
    expect(page.locator("[data-chart=trend-chart] .main-svg").first).to_be_visible()

    page.go_back()
    page.wait_for_url(lambda url: "page=2" not in url)
    expect(page.locator("tr[data-response]")).to_have_count(25)
    expect(page.get_by_text("Comment number 0", exact=True)).to_be_visible()
