"""A CSM sees an account's health in a real browser: on the portfolio, and on its page."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from customers.models import Account
from health.models import HealthSnapshot
from health.services import health_recompute
from tests.customers.factories import make_account, make_ticket

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_csm_finds_the_red_accounts_and_reads_why_one_fell(page, login, csm_user):
    now = timezone.now()
    falling = make_account(
        name="Falling Co",
        owner=csm_user,
        last_activity_at=now,
        created_at=now - dt.timedelta(days=400),
    )
    make_account(
        name="Steady Co",
        owner=csm_user,
        last_activity_at=now,
        created_at=now - dt.timedelta(days=400),
    )
    health_recompute(day=timezone.localdate() - dt.timedelta(days=7))
    # A week later Falling Co went quiet and opened tickets.
    Account.objects.filter(pk=falling.pk).update(last_activity_at=now - dt.timedelta(days=29))
    for _ in range(6):
        make_ticket(falling, status="open", opened_at=now - dt.timedelta(days=20))
    health_recompute()
    todays = HealthSnapshot.objects.get(account=falling, day=timezone.localdate())
    assert todays.band == "red"

    login(csm_user)
    page.goto("/customers/")
    page.get_by_label("Health").select_option("red")
    page.wait_for_url("**health=red**")
    rows = page.locator("#portfolio-results tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Falling Co")

    rows.first.get_by_role("link", name="Falling Co").click()
    section = page.locator("#health")
    expect(section.locator(".badge.health-red")).to_have_text(f"{todays.score} red")
    expect(section.locator("[data-trend='7']")).to_contain_text("↓")
    expect(section.locator("[data-why]")).to_contain_text("Open tickets")
    expect(section.locator(".js-plotly-plot .main-svg").first).to_be_visible()


def test_a_csm_overrides_an_accounts_score_from_its_page(page, login, csm_user):
    account = make_account(name="Override Co", owner=csm_user)
    login(csm_user)

    page.goto(f"/customers/{account.pk}/")
    section = page.locator("#health")
    section.get_by_text("Override the score").click()
    section.get_by_label("Score").fill("20")
    section.get_by_label("Why").fill("Their champion left last week")
    section.get_by_role("button", name="Override").click()

    expect(section.locator(".badge.health-red")).to_have_text("20 red")
    expect(section.locator("[data-override]")).to_contain_text("Their champion left last week")


def test_a_csm_runs_the_backtest_and_changes_how_far_ahead_it_looks(page, login, csm_user):
    today = timezone.localdate()
    churn = today - dt.timedelta(days=40)
    leaving = make_account(name="Leaving Co", created_at=timezone.now() - dt.timedelta(days=500))
    staying = make_account(name="Staying Co", created_at=timezone.now() - dt.timedelta(days=500))
    Account.objects.filter(pk=leaving.pk).update(
        first_paid_at=timezone.now() - dt.timedelta(days=400),
        churned_at=timezone.now() - dt.timedelta(days=40),
    )
    Account.objects.filter(pk=staying.pk).update(
        first_paid_at=timezone.now() - dt.timedelta(days=400)
    )
    for days, leaving_score, staying_score in ((90, 35, 85), (30, 80, 40)):
        for account, score in ((leaving, leaving_score), (staying, staying_score)):
            day = (churn if account == leaving else today) - dt.timedelta(days=days)
            HealthSnapshot.objects.create(
                account=account, day=day, score=score, band="red" if score <= 50 else "green"
            )

    login(csm_user)
    page.goto("/metrics/")
    page.get_by_role("link", name="Health score backtest").click()
    results = page.locator("#backtest-results")
    expect(results.locator("[data-auc]")).to_contain_text("ROC AUC 1.00")
    expect(results.locator("tr[data-band='red']")).to_contain_text("100 %")
    expect(results.locator(".js-plotly-plot .main-svg").first).to_be_visible()

    page.get_by_label("Days before the outcome").fill("30")
    page.get_by_role("button", name="Run the backtest").click()
    page.wait_for_url("**days=30**")
    expect(results.locator("[data-auc]")).to_contain_text("ROC AUC 0.00")
    expect(page.locator("#backtest-results .js-plotly-plot .main-svg").first).to_be_visible()

    page.get_by_label("Period to").fill(f"{today - dt.timedelta(days=400):%Y-%m-%d}")
    page.get_by_role("button", name="Run the backtest").click()
    expect(page.get_by_role("alert")).to_contain_text("must start on or before its last day")
