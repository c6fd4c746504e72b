"""Real-browser check of the segment editor: two rules built with htmx (a row added, its field
changed so its operators change), the live count following each change, saving, and the
portfolio opened filtered by the saved segment. The ``page`` fixture fails on any CSP block."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from accounts.roles import Role
from customers.models import Segment
from tests.customers.factories import make_account

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def settled(page) -> None:
    """Wait until htmx has finished a swap: new content gets its listeners only after the settle
    delay, so a change made in that window would go unheard (a person is never that quick)."""
    busy = ".htmx-request, .htmx-swapping, .htmx-settling, .htmx-added"
    expect(page.locator(busy)).to_have_count(0)


@pytest.fixture
def csm(make_user):
    csm = make_user(Role.CSM, "casey@example.com", "Casey Success")
    make_account(name="Acme Rockets", plan="Pro", owner=csm, mrr="900")
    make_account(name="Beta Bakery", plan="Starter", owner=csm, mrr="50")
    make_account(name="Gamma Gears", plan="Pro", mrr="400")
    return csm


def test_a_csm_builds_a_segment_with_two_rules_sees_the_count_and_opens_the_portfolio(
    page, login, csm
):
    login(csm)
    page.goto("/customers/segments/")
    page.get_by_role("link", name="New segment").click()
    page.wait_for_url("**/customers/segments/new/")
    page.evaluate("window.__noReload = true")

    page.get_by_label("Name", exact=True).fill("Big Pro accounts")
    first = page.locator('[data-rule="0"]')
    expect(first.get_by_label("Field")).to_have_value("plan")
    first.get_by_label("Value").fill("Pro")
    preview = page.locator("#segment-preview")
    expect(preview).to_contain_text("2 accounts match now.")

    page.get_by_role("button", name="Add rule").click()
    second = page.locator('[data-rule="1"]')
    expect(second).to_be_visible()
    settled(page)
    second.get_by_label("Field").select_option("mrr")
    # The row comes back with a number's operators; "contains" is no longer offered.
    expect(second.get_by_label("Operator").locator('option[value="contains"]')).to_have_count(0)
    settled(page)
    second.get_by_label("Operator").select_option("gte")
    settled(page)
    second.get_by_label("Value").fill("500")
    expect(preview).to_contain_text("1 account matches now.")
    expect(first.get_by_label("Value")).to_have_value("Pro")  # kept across the redraw
    assert page.evaluate("window.__noReload === true"), "rows should change without a reload"

    page.get_by_role("button", name="Save segment").click()
    page.wait_for_url(re.compile(r"/customers/segments/$"))
    expect(page.get_by_role("status")).to_contain_text("Segment “Big Pro accounts” saved.")
    segment = Segment.objects.get()
    assert segment.rules == [
        {"field": "plan", "operator": "equals", "value": "Pro"},
        {"field": "mrr", "operator": "gte", "value": "500.00"},
    ]

    page.locator(f'tr[data-segment="{segment.pk}"] td.num a').click()
    page.wait_for_url(re.compile(rf"/customers/\?owner=all&segment={segment.pk}$"))
    table_rows = page.locator("#portfolio-results tbody tr")
    expect(table_rows).to_have_count(1)
    expect(table_rows.first).to_contain_text("Acme Rockets")
    expect(page.get_by_label("Segment")).to_have_value(str(segment.pk))
