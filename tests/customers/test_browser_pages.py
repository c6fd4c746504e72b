"""Real-browser checks of the CSM pages: filtering the portfolio (URL and back button included),
opening an account, its charts, adding a note and changing the stage without a reload."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from accounts.roles import Role
from customers.models import Note, StageChange
from customers.services import revenue_change_record
from tests.customers.factories import SCRIPT, add_usage, make_account

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def mark_page(page) -> None:
    """Tag the document so a full reload (which would drop the tag) is detectable."""
    page.evaluate("window.__noReload = true")


def not_reloaded(page) -> bool:
    return page.evaluate("window.__noReload === true")


def rows(page):
    return page.locator("#portfolio-results tbody tr")


@pytest.fixture
def book(make_user):
    csm = make_user(Role.CSM, "casey@example.com", "Casey Success")
    other = make_user(Role.CSM, "olga@example.com", "Olga Other")
    make_account(name="Acme Rockets", domain="acme.io", plan="Pro", owner=csm, mrr="900")
    make_account(name="Beta Bakery", plan="Starter", owner=csm, mrr="50")
    make_account(name="Gamma Gears", plan="Pro", owner=other, mrr="400")
    return csm


def test_a_csm_filters_the_portfolio_and_the_back_button_restores_each_step(page, login, book):
    login(book)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Portfolio").click()
    page.wait_for_url(re.compile(r"/customers/$"))
    expect(rows(page)).to_have_count(2)  # a CSM starts on their own book
    expect(page.get_by_label("Owner")).to_have_value("me")
    mark_page(page)

    page.get_by_label("Plan").select_option("Pro")
    page.wait_for_url(re.compile(r"\?owner=me&plan=Pro$"))
    expect(rows(page)).to_have_count(1)
    expect(rows(page).first).to_contain_text("Acme Rockets")

    page.get_by_label("Owner").select_option("all")
    page.wait_for_url(re.compile(r"\?owner=all&plan=Pro$"))
    expect(rows(page)).to_have_count(2)

    page.get_by_role("link", name="MRR", exact=True).click()
    page.wait_for_url(re.compile(r"\?owner=all&plan=Pro&sort=-mrr$"))
    expect(rows(page).first).to_contain_text("Acme Rockets")
    expect(page.locator('th[aria-sort="descending"]')).to_have_text("MRR")

    page.get_by_label("Search").fill("gear")
    page.wait_for_url(re.compile(r"\?q=gear&owner=all&plan=Pro&sort=-mrr$"))
    expect(rows(page)).to_have_count(1)
    expect(rows(page).first).to_contain_text("Gamma Gears")
    assert not_reloaded(page), "filters should apply without a full page load"

    page.go_back()
    page.wait_for_url(re.compile(r"\?owner=all&plan=Pro&sort=-mrr$"))
    expect(rows(page)).to_have_count(2)
    expect(page.get_by_label("Search")).to_have_value("")

    page.go_back()
    page.wait_for_url(re.compile(r"\?owner=all&plan=Pro$"))
    expect(page.locator('th[aria-sort="descending"]')).to_have_count(0)
    expect(page.get_by_label("Owner")).to_have_value("all")

    page.go_back()
    page.wait_for_url(re.compile(r"\?owner=me&plan=Pro$"))
    expect(rows(page)).to_have_count(1)
    expect(page.get_by_label("Owner")).to_have_value("me")
    expect(page.get_by_label("Plan")).to_have_value("Pro")

    # The URL is shareable: opening it fresh shows the same view.
    page.goto("/customers/?owner=all&plan=Pro&sort=-mrr")
    expect(rows(page)).to_have_count(2)
    expect(rows(page).first).to_contain_text("Acme Rockets")


def test_a_bad_mrr_range_shows_a_message_in_place(page, login, book):
    login(book)
    page.goto("/customers/")
    page.get_by_label("MRR from (USD)").fill("500")
    page.get_by_label("MRR to (USD)").fill("100")
    page.get_by_label("MRR to (USD)").press("Enter")
    expect(page.get_by_role("alert")).to_contain_text(
        "MRR to (USD): MRR to must be at least MRR from."
    )


@pytest.fixture
def account(book):
    account = make_account(
        name="Delta Drones", plan="Enterprise", owner=book, stage="onboarding", currency="USD"
    )
    now = timezone.now()
    revenue_change_record(
        account=account, mrr=Decimal("500"), effective_at=now - dt.timedelta(days=60)
    )
    revenue_change_record(
        account=account, mrr=Decimal("750"), effective_at=now - dt.timedelta(days=10)
    )
    today = timezone.localdate()
    for days_ago in range(0, 30, 3):
        add_usage(account, today - dt.timedelta(days=days_ago), login=5 + days_ago, feature_used=2)
    return account


def test_a_csm_opens_an_account_adds_a_note_and_changes_its_stage(page, login, book, account):
    login(book)
    page.goto("/customers/?owner=me&q=delta")
    page.get_by_role("link", name="Delta Drones").click()
    page.wait_for_url(f"**/customers/{account.pk}/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Delta Drones")
    expect(page.locator('[data-field="mrr"]')).to_contain_text("750.00 USD")

    # Both charts are drawn by plotly.js once their sections arrive.
    expect(page.locator("#revenue .js-plotly-plot")).to_have_count(1)
    expect(page.locator("#usage .js-plotly-plot")).to_have_count(1)
    expect(page.locator("#revenue .plotly .main-svg").first).to_be_visible()
    expect(page.locator("#contacts")).to_contain_text("No contacts yet.")
    expect(page.locator("#timeline")).to_contain_text("Subscription changed: MRR 750.00 USD")
    mark_page(page)

    page.get_by_label("Add a note").fill("Called the CFO <b>about</b> renewal")
    page.get_by_role("button", name="Add note").click()
    expect(page.locator("#timeline li.tl-note").first).to_contain_text(
        "Called the CFO <b>about</b> renewal"
    )
    expect(page.get_by_label("Add a note")).to_have_value("")
    assert Note.objects.get().body == "Called the CFO <b>about</b> renewal"

    page.get_by_label("Lifecycle stage").select_option("renewal")
    page.get_by_role("button", name="Change stage").click()
    expect(page.locator('[data-field="stage"]')).to_have_text("Renewal")
    expect(page.locator("#timeline li.tl-stage_change").first).to_contain_text(
        "Stage: Onboarding → Renewal"
    )
    assert not_reloaded(page), "notes and stage changes should not reload the page"
    change = StageChange.objects.get()
    assert (change.to_stage, change.changed_by) == ("renewal", book)


def test_an_empty_note_is_refused_in_place(page, login, book, account):
    login(book)
    page.goto(f"/customers/{account.pk}/")
    page.get_by_role("button", name="Add note").click()  # the browser's own check stops this
    page.get_by_label("Add a note").fill("   ")
    page.get_by_role("button", name="Add note").click()
    expect(page.locator("#note-form .errorlist")).to_contain_text("This field is required.")
    assert Note.objects.count() == 0


IMG = "<img src=x onerror=alert(2)>"


def test_script_payloads_never_run_in_the_browser(page, login, book):
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    account = make_account(
        name=f"{SCRIPT}{IMG}", domain=IMG, plan=IMG, owner=book, traits={SCRIPT: IMG}
    )
    today = timezone.localdate()
    add_usage(account, today, **{SCRIPT: 3, IMG: 2})
    revenue_change_record(
        account=account, mrr=Decimal("10"), effective_at=timezone.now(), plan=f"{SCRIPT}{IMG}"
    )
    login(book)
    page.goto("/customers/")
    expect(rows(page).first).to_contain_text(f"{SCRIPT}{IMG}")
    page.get_by_role("link", name=f"{SCRIPT}{IMG}").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"{SCRIPT}{IMG}")
    expect(page.locator("#usage .js-plotly-plot")).to_have_count(1)
    expect(page.locator("#revenue .js-plotly-plot")).to_have_count(1)
    expect(page.locator("#usage .legend")).to_contain_text("alert")
    page.get_by_label("Add a note").fill(f"{SCRIPT}{IMG}")
    page.get_by_role("button", name="Add note").click()
    expect(page.locator("#timeline li.tl-note").first).to_contain_text(f"{SCRIPT}{IMG}")
    page.locator("#usage .js-plotly-plot .nsewdrag").first.hover()
    page.wait_for_timeout(300)
    assert page.locator("img[src='x']").count() == 0
    assert dialogs == []
