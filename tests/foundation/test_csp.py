"""Every response carries the Content-Security-Policy: scripts only from our own files."""

from __future__ import annotations

import pytest

from tests.customers.factories import make_account
from tests.surveys.factories import make_answer, make_link, make_survey, make_text

pytestmark = pytest.mark.django_db


def directives(response) -> dict[str, list[str]]:
    header = response.headers["Content-Security-Policy"]
    parsed = {}
    for part in header.split(";"):
        name, *values = part.split()
        parsed[name] = values
    return parsed


def assert_strict(response) -> None:
    policy = directives(response)
    assert policy["script-src"] == ["'self'"]
    assert "'unsafe-inline'" not in policy["script-src"]
    assert "'unsafe-eval'" not in policy["script-src"]
    assert policy["object-src"] == ["'none'"]
    assert policy["base-uri"] == ["'self'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["default-src"] == ["'self'"]


@pytest.fixture
def site(admin_user):
    survey = make_survey("nps", name="Quarterly NPS")
    account = make_account(name="Acme", owner=admin_user)
    make_answer(survey, 9, comment="Great", acc=account, days_ago=3)
    make_text(survey)
    _invitation, token = make_link(survey)
    return {"survey": survey, "account": account, "token": token}


STAFF_PAGES = [
    "/",
    "/customers/",
    "/customers/{account}/",
    "/customers/{account}/timeline/",
    "/customers/imports/",
    "/surveys/",
    "/surveys/{survey}/",
    "/surveys/follow-ups/",
    "/metrics/",
    "/loyalty/",
    "/auth/password/",
    "/admin/",
    "/admin/customers/account/",
    "/api/v1/docs",
    "/api/v1/openapi.json",
]


@pytest.mark.parametrize("path", STAFF_PAGES)
def test_every_staff_page_carries_a_strict_policy(admin_client_, site, path):
    url = path.format(account=site["account"].pk, survey=site["survey"].slug)

    response = admin_client_.get(url)

    assert response.status_code == 200, url
    assert_strict(response)


@pytest.mark.parametrize(
    "path",
    ["/auth/login/", "/auth/password/reset/", "/healthz", "/no-such-page/", "/api/v1/nothing"],
)
def test_public_pages_and_errors_carry_it_too(client, path):
    response = client.get(path)

    assert_strict(response)


def test_the_respondent_page_carries_it(client, site):
    response = client.get(f"/s/{site['token']}/")

    assert response.status_code == 200
    assert_strict(response)


def test_the_api_answers_carry_it(client):
    response = client.post("/api/v1/events", data="{}", content_type="application/json")

    assert response.status_code == 401
    assert_strict(response)
