"""Redeeming in a real browser: a CSM on the account page, a customer on a phone through the
link; and the program dashboard drawing its charts."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from loyalty.links import link_create
from loyalty.models import Redemption, RedemptionState, Reward, RewardKind
from loyalty.services import award, balance
from tests.conftest import browser_page
from tests.customers.factories import make_account, make_contact

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 360, "height": 740}


def gift(name: str, cost: int) -> Reward:
    return Reward.objects.create(
        name=name, kind=RewardKind.FREE_MONTH, value=Decimal("1"), cost_points=cost
    )


@pytest.fixture
def phone(request, browser, live_server, csp_violations):
    yield from browser_page(
        request,
        browser,
        live_server,
        csp_violations,
        viewport=PHONE,
        is_mobile=True,
        has_touch=True,
        locale="sv-SE",
    )


def test_a_csm_redeems_a_reward_for_an_account_from_its_page(page, login, csm_user):
    account = make_account(name="Redeem Co", owner=csm_user)
    award(account, 900, reason="Case study", idempotency_key="b-1")
    gift("A free month", 800)
    login(csm_user)

    page.goto(f"/customers/{account.pk}/")
    section = page.locator("#loyalty")
    expect(section.locator("[data-balance]")).to_have_attribute("data-balance", "900")
    section.get_by_label("Redeem for the account").select_option(label="A free month — 800")
    section.get_by_role("button", name="Redeem").click()

    expect(section.locator("[data-done]")).to_have_text("A free month requested for Redeem Co.")
    expect(section.locator("[data-balance]")).to_have_attribute("data-balance", "100")
    expect(section.locator("[data-redemptions]")).to_contain_text("Requested")
    assert Redemption.objects.get().state == RedemptionState.REQUESTED

    page.goto("/loyalty/redemptions/")
    row = page.locator("[data-redemption]")
    row.get_by_role("button", name="Approve").click()
    expect(page.locator("[data-redemption]")).to_have_attribute("data-state", "approved")
    page.locator("[data-redemption]").get_by_role("button", name="Fulfil").click()
    expect(page.get_by_text("Nothing here.")).to_be_visible()
    assert Redemption.objects.get().state == RedemptionState.FULFILLED


def test_a_customer_requests_a_reward_on_a_phone_in_their_language(phone):
    contact = make_contact(make_account(name="Acme AB"), locale="sv")
    award(contact.account, 2500, reason="x", idempotency_key="b-1")
    gift("Hoodie", 1500)
    gift("Resa", 9000)
    _, token = link_create(contact=contact)

    phone.goto(f"/loyalty/l/{token}/")
    assert phone.locator("html").get_attribute("lang") == "sv"
    expect(phone.get_by_text(re.compile(r"Poäng att använda: 2\s500"))).to_be_visible()
    expect(phone.get_by_text("Inte tillräckligt med poäng ännu")).to_be_visible()
    assert phone.evaluate("document.scrollingElement.scrollWidth") <= PHONE["width"]

    phone.get_by_role("button", name="Begär Hoodie").tap()

    phone.wait_for_url(re.compile(r"requested=1"))
    expect(phone.get_by_role("status")).to_contain_text("Tack!")
    expect(phone.locator("[data-balance]")).to_have_attribute("data-balance", "1000")
    assert balance(contact.account) == 1000
    assert Redemption.objects.get().requested_by_contact == contact


def test_the_program_dashboard_draws_its_charts(page, login, csm_user):
    award(make_account(), 500, reason="x", idempotency_key="b-1")
    login(csm_user)

    page.goto("/loyalty/")

    expect(page.locator("[data-kpi=issued]")).to_have_text("500")
    expect(page.locator(".js-plotly-plot .main-svg").first).to_be_visible()
