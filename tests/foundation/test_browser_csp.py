"""Every page runs under the Content-Security-Policy without a violation, in a real browser.

The ``page`` fixture (tests/conftest.py) fails any browser test whose pages trip the policy;
this module walks every page once, with charts and htmx swaps, and proves the check bites.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from customers.services import revenue_change_record
from tests.customers.factories import add_usage, make_account
from tests.surveys.factories import make_answer, make_link, make_survey, make_text

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def site(admin_user):
    survey = make_survey("nps", name="Quarterly NPS")
    account = make_account(name="Acme", owner=admin_user, currency="USD")
    now = timezone.now()
    revenue_change_record(account=account, mrr=Decimal("500"), effective_at=now - dt.timedelta(60))
    revenue_change_record(account=account, mrr=Decimal("750"), effective_at=now - dt.timedelta(9))
    for days_ago in range(0, 30, 3):
        add_usage(account, timezone.localdate() - dt.timedelta(days=days_ago), login=3)
    for score, days_ago in [(10, 40), (9, 5), (3, 2)]:
        make_answer(survey, score, comment="Thanks", acc=account, days_ago=days_ago)
    make_text(survey)
    _invitation, token = make_link(survey)
    return {"survey": survey, "account": account, "token": token}


def test_every_staff_page_loads_without_a_violation(page, login, admin_user, site):
    login(admin_user)
    account, survey = site["account"], site["survey"]

    page.goto(f"/customers/{account.pk}/")
    # Both charts arrive by htmx and are drawn by the static charts script from JSON.
    expect(page.locator("#revenue .js-plotly-plot .main-svg").first).to_be_visible()
    expect(page.locator("#usage .js-plotly-plot .main-svg").first).to_be_visible()
    page.get_by_label("Note").fill("Checked under the policy")
    page.get_by_role("button", name="Add note").click()
    expect(page.get_by_text("Checked under the policy")).to_be_visible()

    page.goto(f"/surveys/{survey.slug}/")
    expect(page.locator("[data-chart=trend-chart] .main-svg").first).to_be_visible()
    page.get_by_label("Category").select_option("detractor")  # an htmx swap redraws charts
    expect(page.locator("[data-chart=trend-chart] .main-svg").first).to_be_visible()

    page.goto("/customers/?sort=-mrr")
    page.get_by_label("Search").fill("Acme")
    expect(page.get_by_role("link", name="Acme")).to_be_visible()
    for path in [
        "/",
        "/customers/imports/",
        "/customers/segments/",
        "/customers/segments/new/",
        "/surveys/",
        "/surveys/follow-ups/",
        "/metrics/",
        "/loyalty/",
        "/auth/password/",
        "/admin/",
        "/admin/customers/account/",
        f"/admin/customers/account/{account.pk}/change/",
        "/admin/customers/segment/add/",
        "/api/v1/docs",
    ]:
        page.goto(path)
        page.wait_for_load_state("networkidle")
    expect(page.locator(".swagger-ui")).to_be_visible()  # the API docs drew themselves


def test_the_public_pages_load_without_a_violation(page, site):
    page.goto("/auth/login/")
    page.get_by_role("link", name="Forgot your password?").click()
    expect(page.get_by_role("heading", name="Reset your password")).to_be_visible()

    page.goto(f"/s/{site['token']}/?score=9")
    page.get_by_role("button", name="Send").click()
    page.wait_for_load_state("networkidle")


@pytest.mark.csp_violations_expected
def test_inline_code_is_blocked_and_reported(page, admin_user, login, csp_violations):
    login(admin_user)

    page.evaluate(
        """() => {
            const script = document.createElement("script");
            script.textContent = "window.__ran = true";
            document.body.append(script);
        }"""
    )
    page.wait_for_function("() => true")

    assert page.evaluate("() => window.__ran === undefined")
    page.wait_for_timeout(200)  # the report crosses to this process asynchronously
    assert any(v.startswith("script-src-elem blocked inline") for v in csp_violations)
