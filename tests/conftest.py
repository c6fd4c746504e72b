"""Shared fixtures: users in each role, logged-in clients and a real browser.

Browser tests use Debian's chromium through Playwright (never a downloaded browser). Outside CI
they skip when chromium is absent; in CI (``CI=true``) a missing browser fails the run, because
a green build that skipped its browser tests proves nothing.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from accounts.roles import Role
from tests.accounts.factories import PASSWORD

CHROMIUM = os.environ.get("TENURE_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parent.parent / "var" / "test-artifacts"


@pytest.fixture(autouse=True)
def _eager_celery():
    """Run tasks inline in tests, in both modes; tests/foundation/test_celery_worker.py proves
    the real broker path separately."""
    from config.celery import app

    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = previous


@pytest.fixture(autouse=True)
def _empty_cache():
    """Each test starts with an empty cache (locmem, or the test Redis database): counters
    such as the log-in throttle's must not carry over from another test or an earlier run."""
    from django.core.cache import cache

    cache.clear()


@pytest.fixture
def make_user(db):
    """tests.accounts.factories.make_user, with the database the fixture brings."""
    from tests.accounts.factories import make_user

    return make_user


@pytest.fixture
def admin_user(make_user):
    return make_user(Role.ADMIN, "admin@example.com", "Ada Admin")


@pytest.fixture
def csm_user(make_user):
    return make_user(Role.CSM, "csm@example.com", "Casey Success")


@pytest.fixture
def viewer_user(make_user):
    return make_user(Role.VIEWER, "viewer@example.com", "Vic Viewer")


@pytest.fixture
def csm_client(client, csm_user):
    client.force_login(csm_user)
    return client


@pytest.fixture
def viewer_client(client, viewer_user):
    client.force_login(viewer_user)
    return client


@pytest.fixture
def admin_client_(client, admin_user):
    client.force_login(admin_user)
    return client


# --- real browser -------------------------------------------------------------------------


def _chromium_available() -> bool:
    return Path(CHROMIUM).exists() or shutil.which(CHROMIUM) is not None


@pytest.fixture(scope="session")
def _playwright():
    if not _chromium_available():
        if os.environ.get("CI"):
            pytest.fail(f"chromium not found at {CHROMIUM}; CI must run the browser tests")
        pytest.skip(f"chromium not found at {CHROMIUM}")
    # Playwright's sync API runs an event loop in this thread; Django's ORM refuses to run
    # inside one unless told that this test process knows what it is doing.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="session")
def browser(_playwright):
    browser = _playwright.chromium.launch(
        executable_path=CHROMIUM,
        headless=True,
        args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
    )
    yield browser
    browser.close()


# Every page a browser test opens reports what the Content-Security-Policy blocked: the
# browser fires ``securitypolicyviolation`` and this hands it to the test process, across
# navigations. A test that saw one fails, so a new page with inline code fails its own test.
_REPORT_CSP_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (event) => {
  window.__tenureCspViolation(
    `${event.effectiveDirective} blocked ${event.blockedURI || "inline"} on ${location.pathname}`
  );
});
"""


@pytest.fixture
def csp_violations() -> list[str]:
    """What the Content-Security-Policy blocked in this test's browser (see ``page``)."""
    return []


def browser_page(request, browser, live_server, csp_violations: list[str], **options):
    """Yield a page in a fresh browser context on the live server (``options`` go to
    ``new_context``); screenshot it when the test failed, then fail the test if the
    Content-Security-Policy blocked anything, unless it is marked csp_violations_expected."""
    options.setdefault("viewport", {"width": 1280, "height": 900})
    context = browser.new_context(base_url=live_server.url, **options)
    context.set_default_timeout(10_000)
    context.expose_function("__tenureCspViolation", lambda text: csp_violations.append(text))
    context.add_init_script(_REPORT_CSP_VIOLATIONS)
    page = context.new_page()
    yield page
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)
    context.close()
    if not request.node.get_closest_marker("csp_violations_expected"):
        assert csp_violations == [], f"Content-Security-Policy violations: {csp_violations}"


@pytest.fixture
def page(request, browser, live_server, csp_violations):
    yield from browser_page(request, browser, live_server, csp_violations)


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


@pytest.fixture
def login(page):
    """Log in through the real form, as a person would."""

    def do_login(user, password: str = PASSWORD):
        page.goto("/auth/login/")
        page.get_by_label("Email").fill(user.email)
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url(lambda url: "/auth/login" not in url)
        return page

    return do_login
