"""A CSM opens the health dashboard in a real browser: reads the at-risk MRR, sees both charts,
switches the period, and follows the at-risk figure to the portfolio's red paying accounts."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from tests.customers.factories import make_account
from tests.health.test_dashboard import mark_today, pay, snap

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_csm_reads_the_health_dashboard_and_opens_the_red_accounts(
    page, login, csm_user, admin_user
):
    t = timezone.localdate()
    # Owned by someone else: the at-risk link must open everyone's book, not the CSM's own.
    accounts = {
        "Red Big": ("red", "500"),
        "Red Small": ("red", "120.25"),
        "Red Trial": ("red", None),
        "Yellow Co": ("yellow", "80"),
        "Green Co": ("green", "300"),
    }
    for name, (band, mrr) in accounts.items():
        account = make_account(name=name, owner=admin_user)
        if mrr:
            pay(account, t - dt.timedelta(days=60), mrr)
        for days_ago in range(0, 40, 3):
            snap(account, t - dt.timedelta(days=days_ago), "green" if days_ago > 20 else band)
        mark_today(account)

    login(csm_user)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Health").click()
    page.wait_for_url("**/health/")
    expect(page.locator("[data-kpi='at-risk-mrr']")).to_have_text("620.25")
    expect(page.locator("[data-kpi='yellow-mrr']")).to_have_text("80.00")
    charts = page.locator("#health-history .js-plotly-plot .main-svg")
    expect(charts.first).to_be_visible()
    expect(page.locator("#health-history .js-plotly-plot")).to_have_count(2)

    page.get_by_role("navigation", name="Period").get_by_role("link", name="30 days").click()
    page.wait_for_url("**days=30")
    expect(page.locator("[data-period='30']")).to_have_attribute("aria-current", "page")
    expect(page.locator("#health-history h3").first).to_contain_text("last 30 days")
    expect(page.locator("#health-history .js-plotly-plot")).to_have_count(2)
    expect(page.locator("#health-history .js-plotly-plot .main-svg").first).to_be_visible()
    # The figures above the charts stayed: only the period's section was swapped.
    expect(page.locator("[data-kpi='at-risk-mrr']")).to_have_text("620.25")

    page.locator("[data-link='at-risk']").click()
    page.wait_for_url("**/customers/?**health=red**")
    rows = page.locator("#portfolio-results tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("Red Big")
    expect(rows.nth(1)).to_contain_text("Red Small")
