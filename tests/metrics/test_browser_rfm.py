"""A CSM opens the RFM dashboard in a real browser: reads the segment tiles and the R × F
grid, switches to free accounts and back, opens a segment's accounts in the portfolio, and
finds the account's RFM section on its page."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.customers.factories import make_account
from tests.metrics.rfm_factories import store_rfm

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_csm_reads_the_rfm_dashboard_and_opens_a_segments_accounts(page, login, csm_user):
    for name, segment, mrr in [
        ("Ace Corp", "champions", "500"),
        ("Best Ltd", "champions", "250"),
        ("Calm Inc", "hibernating", "40"),
    ]:
        store_rfm(make_account(name=name, mrr=mrr), segment)
    store_rfm(make_account(name="Free Fox"), "new", basis="free", m=None, monetary="0")

    login(csm_user)
    page.goto("/metrics/rfm/")
    champions = page.locator("[data-segment='champions']")
    expect(champions.locator("[data-accounts]")).to_have_text("2 accounts")
    expect(champions.locator("[data-mrr]")).to_contain_text("750.00 USD MRR")
    expect(page.locator("[data-chart='grid'] .js-plotly-plot .main-svg").first).to_be_visible()
    expect(page.locator("[data-chart='segments'] .js-plotly-plot")).to_have_count(1)

    page.locator("[data-basis='free']").click()
    page.wait_for_url("**basis=free**")
    expect(page.locator("[data-basis='free']")).to_have_attribute("aria-current", "page")
    expect(page.locator("[data-segment='new'] [data-accounts]")).to_have_text("1 account")
    expect(page.locator("[data-segment='champions'] [data-accounts]")).to_have_text("0 accounts")
    expect(page.locator("[data-chart='grid'] .js-plotly-plot .main-svg").first).to_be_visible()

    page.locator("[data-basis='paying']").click()
    page.wait_for_url("**basis=paying**")
    page.locator("[data-segment='champions'] a").click()
    page.wait_for_url("**/customers/?**rfm=champions**")
    rows = page.locator("#portfolio-results tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("Ace Corp")
    expect(rows.nth(1)).to_contain_text("Best Ltd")
    expect(page.get_by_label("RFM", exact=True)).to_have_value("champions")

    rows.nth(0).get_by_role("link", name="Ace Corp").click()
    section = page.locator("#rfm")
    expect(section.locator("[data-rfm-segment='champions']")).to_be_visible()
    expect(section).to_contain_text("score 5/5")
