"""Real-browser checks of the foundation: logging in, and the admin wall."""

import pytest

from accounts.roles import Role

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
