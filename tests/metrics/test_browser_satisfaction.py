"""A CSM opens the Satisfaction dashboard, reads the trends, the verdicts and churn by
satisfaction, and narrows it to a plan, in a real browser."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.metrics.satisfaction_factories import make_book

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_csm_reads_satisfaction_and_narrows_it_to_a_plan(page, login, csm_user):
    make_book()
    login(csm_user)
    page.goto("/metrics/?from=2026-01&to=2026-03")
    page.locator("[data-tab=satisfaction]").click()
    page.wait_for_url("**/metrics/satisfaction/?from=2026-01&to=2026-03")

    # Trends drawn with their error bars; CES has no answers and says so.
    expect(page.locator("[data-plotly-spec=chart-nps_trend-spec] .main-svg").first).to_be_visible()
    expect(page.locator("[data-empty=ces_trend]")).to_contain_text("No CES answers")
    # Q1 −50.0 against Q4 0.0, margin 115.6: within noise.
    nps = page.locator("[data-change=nps] [data-score-change]")
    expect(nps).to_have_attribute("data-verdict", "within noise")
    expect(nps.locator("[data-difference]")).to_have_text("-50")
    # Churn by latest NPS answer: detractors 2 of 2 churned.
    expect(
        page.locator("[data-plotly-spec=chart-churn_by_nps-spec] .main-svg").first
    ).to_be_visible()
    page.locator("[data-table-of=churn_by_nps] summary").click()
    table = page.locator("table[data-table=churn_by_nps]")
    expect(table.locator("tr", has_text="Detractors")).to_contain_text("100.0")
    expect(table.locator("tr", has_text="All accounts")).to_contain_text("50.0")

    page.get_by_label("Plan").select_option("Pro")
    page.wait_for_url("**plan=Pro**")
    table = page.locator("table[data-table=churn_by_nps]")
    expect(table.locator("tr", has_text="All accounts")).to_contain_text("66.7")  # 2 of 3
    expect(page.locator("[data-plotly-spec=chart-nps_trend-spec] .main-svg").first).to_be_visible()
    expect(page.locator("[data-tab=satisfaction]")).to_have_attribute("aria-current", "page")
