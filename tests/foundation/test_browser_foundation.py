"""Real-browser checks of the foundation: logging in and out, the admin wall, changing a
password, and the pages the navigation leads to."""

import re

import pytest
from playwright.sync_api import expect

from accounts.roles import Role
from tests.conftest import PASSWORD

# Django's label is "New password:"; the confirmation field's label starts the same way.
NEW_PASSWORD_LABEL = re.compile(r"^New password:?$")

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_csm_logs_in_and_sees_the_home_page(page, login, make_user):
    csm = make_user(Role.CSM, "casey@example.com", "Casey Success")
    login(csm)
    assert page.get_by_role("heading", name="Good to see you, Casey").is_visible()
    nav = page.get_by_role("navigation", name="Main")
    for label in ["Home", "Portfolio", "Surveys", "Metrics", "Loyalty"]:
        assert nav.get_by_role("link", name=label).is_visible()
    assert nav.get_by_role("link", name="Admin").count() == 0


def test_a_viewer_cannot_reach_an_admin_page(page, login, make_user):
    viewer = make_user(Role.VIEWER, "vic@example.com")
    login(viewer)
    page.goto("/admin/customers/account/")
    assert "/admin/login/" in page.url
    assert page.get_by_text("You are authenticated as vic@example.com").is_visible()


def test_logging_out_returns_to_the_login_page(page, login, make_user):
    login(make_user(Role.CSM))
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url("**/auth/login/")
    page.goto("/")
    assert "/auth/login/" in page.url


def test_a_csm_changes_their_password_and_logs_in_with_the_new_one(page, login, make_user):
    csm = make_user(Role.CSM, "casey@example.com", "Casey Success")
    login(csm)
    page.get_by_role("link", name="Casey").click()
    page.wait_for_url("**/auth/password/")

    page.get_by_label("Old password").fill("wrong password")
    page.get_by_label(NEW_PASSWORD_LABEL).fill("a-Much-longer-secret-42")
    page.get_by_label("New password confirmation").fill("a-Much-longer-secret-42")
    page.get_by_role("button", name="Change password").click()
    expect(page.get_by_text("Your old password was entered incorrectly")).to_be_visible()

    page.get_by_label("Old password").fill(PASSWORD)
    page.get_by_label(NEW_PASSWORD_LABEL).fill("a-Much-longer-secret-42")
    page.get_by_label("New password confirmation").fill("a-Much-longer-secret-42")
    page.get_by_role("button", name="Change password").click()
    page.wait_for_url("**/auth/password/done/")
    assert page.get_by_role("heading", name="Password changed").is_visible()

    page.get_by_role("button", name="Log out").click()
    page.wait_for_url("**/auth/login/")
    login(csm, password="a-Much-longer-secret-42")
    assert page.get_by_role("heading", name="Good to see you, Casey").is_visible()


def test_the_metrics_and_loyalty_pages_open_from_the_navigation(page, login, make_user):
    login(make_user(Role.VIEWER, "vic@example.com"))
    nav = page.get_by_role("navigation", name="Main")
    nav.get_by_role("link", name="Metrics").click()
    page.wait_for_url("**/metrics/")
    assert page.get_by_role("heading", name="Metrics", exact=True).is_visible()
    nav.get_by_role("link", name="Loyalty").click()
    page.wait_for_url("**/loyalty/")
    # The program dashboard's heading names the program: "Loyalty: Tenure Rewards".
    assert page.get_by_role("heading", name=re.compile(r"^Loyalty\b")).is_visible()


def test_the_login_page_loads_without_a_single_failed_request(page, live_server):
    """The browser asks for an icon on its own; without one declared it asked for
    /favicon.ico and logged a 404 on every first visit."""
    failed: list[str] = []
    page.on("response", lambda r: failed.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    page.goto(f"{live_server.url}/auth/login/")
    page.wait_for_load_state("networkidle")
    assert page.locator("link[rel=icon]").get_attribute("href").endswith("favicon.svg")
    assert failed == []
