"""The API's browsable docs render in a real browser from Tenure's own static files."""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_docs_page_lists_the_endpoints_without_any_outside_request(
    page, live_server, login, make_user
):
    login(make_user())
    outside: list[str] = []
    page.on(
        "request",
        lambda request: (
            outside.append(request.url) if not request.url.startswith(live_server.url) else None
        ),
    )

    page.goto("/api/v1/docs")

    page.get_by_text("Tenure ingest API").first.wait_for()
    for path in ("/api/v1/events", "/api/v1/accounts", "/api/v1/segment/batch"):
        assert page.get_by_text(path, exact=True).first.is_visible()
    page.get_by_role("button", name="Authorize").click()
    assert page.get_by_text("bearer", exact=False).first.is_visible()
    assert outside == []
