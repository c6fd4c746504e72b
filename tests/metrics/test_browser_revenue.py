"""A CSM narrows the Revenue dashboard's period in a real browser and opens a movement's
accounts."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from playwright.sync_api import expect

from metrics.services import account_months_rebuild
from tests.metrics.factories import hand_worked_book

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_csm_changes_the_period_and_opens_the_expanding_accounts(page, login, csm_user):
    hand_worked_book(owner=csm_user)
    account_months_rebuild(now=dt.datetime(2026, 6, 15, 12, tzinfo=dt.UTC))
    login(csm_user)
    page.goto("/metrics/revenue/?from=2026-01&to=2026-06")
    movements = page.locator("[data-chart='movements']")
    expect(movements.locator(".js-plotly-plot .main-svg").first).to_be_visible()
    expect(movements.locator("table tbody tr")).to_have_count(6)

    page.get_by_label("From").fill("2026-03")
    page.get_by_label("From").dispatch_event("change")
    expect(page).to_have_url(re.compile(r"from=2026-03&to=2026-06"))
    movements = page.locator("[data-chart='movements']")
    expect(movements.locator("table tbody tr")).to_have_count(4)
    expect(movements.locator("table tbody tr").first).to_contain_text("2026-03")
    expect(movements.locator(".js-plotly-plot .main-svg").first).to_be_visible()
    expect(page.locator("[data-tab='retention']")).to_have_attribute(
        "href", "/metrics/retention/?from=2026-03&to=2026-06"
    )

    movements.get_by_text("Table").click()
    movements.get_by_role("link", name="50.00", exact=True).click()
    expect(page.get_by_role("heading", name="Expansion in March 2026")).to_be_visible()
    rows = page.locator("[data-table='movement-accounts'] tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Alpha")
    rows.first.get_by_role("link", name="Alpha").click()
    expect(page.get_by_role("heading", name="Alpha")).to_be_visible()


def test_a_click_on_a_movement_bar_opens_its_accounts(page, login, csm_user):
    hand_worked_book(owner=csm_user)
    account_months_rebuild(now=dt.datetime(2026, 6, 15, 12, tzinfo=dt.UTC))
    login(csm_user)
    page.goto("/metrics/revenue/?from=2026-01&to=2026-06")
    chart = page.locator("[data-chart-links]")
    expect(chart.locator(".main-svg").first).to_be_visible()
    # A real mouse click in the middle of May's churn bar (a bar below 0), located through
    # the chart's own axes.
    x, y = page.evaluate(
        """() => {
          const el = document.querySelector('[data-chart-links]');
          const churn = el.data.find((trace) => trace.name === 'Churn');
          const layout = el._fullLayout, box = el.getBoundingClientRect();
          return [
            box.left + layout._size.l + layout.xaxis.d2p(churn.x[4]),
            box.top + layout._size.t + layout.yaxis.d2p(churn.y[4] / 2),
          ];
        }"""
    )
    page.mouse.move(x, y)  # Plotly picks the point under the pointer on hover
    expect(chart.locator(".hoverlayer .hovertext")).to_contain_text("Churn")
    page.mouse.click(x, y)
    expect(page.get_by_role("heading", name="Churn in May 2026")).to_be_visible()
    expect(page.locator("[data-table='movement-accounts'] tbody tr")).to_have_count(1)


def test_the_overview_and_retention_dashboards_draw_their_charts(page, login, csm_user):
    hand_worked_book(owner=csm_user)
    account_months_rebuild(now=dt.datetime(2026, 6, 15, 12, tzinfo=dt.UTC))
    login(csm_user)
    page.goto("/metrics/?from=2026-01&to=2026-06")
    expect(page.locator("[data-kpi='mrr'] .value")).to_have_text("290.00")
    expect(page.locator("[data-chart='mrr'] .main-svg").first).to_be_visible()
    page.locator("[data-tab='retention']").click()
    expect(page).to_have_url(re.compile(r"/metrics/retention/\?from=2026-01&to=2026-06"))
    for key in ("logo_cohorts", "mrr_cohorts", "retention", "projection"):
        expect(page.locator(f"[data-chart='{key}'] .main-svg").first).to_be_visible()
    expect(page.locator("[data-chart='projection'] h2")).to_contain_text("cohort 2026-01")
