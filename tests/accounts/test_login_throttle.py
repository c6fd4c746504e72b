"""The log-in throttle counts failures per account *and* address, so a stranger cannot lock
the real user out, and only wrong credentials count."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from accounts.roles import Role
from accounts.services import LOGIN_FAILURE_LIMIT, login_is_throttled
from core.http import client_address
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

ATTACKER = "203.0.113.66"  # documentation addresses (RFC 5737): never routed anywhere
OWNER = "198.51.100.7"


def _fail_from(address: str, email: str, *, url: str) -> None:
    for _ in range(LOGIN_FAILURE_LIMIT):
        Client(REMOTE_ADDR=address).post(url, {"username": email, "password": "guess"})


def test_a_stranger_locks_only_their_own_address_out_of_an_account(csm_user):
    url = reverse("accounts:login")
    _fail_from(ATTACKER, csm_user.email, url=url)

    attacker = Client(REMOTE_ADDR=ATTACKER).post(
        url, {"username": csm_user.email, "password": PASSWORD}
    )
    owner = Client(REMOTE_ADDR=OWNER).post(url, {"username": csm_user.email, "password": PASSWORD})

    assert attacker.status_code == 200
    assert "Too many failed log-ins for this account" in attacker.text
    assert owner.status_code == 302
    assert login_is_throttled(email=csm_user.email, address=ATTACKER)
    assert not login_is_throttled(email=csm_user.email, address=OWNER)


def test_the_admin_stays_reachable_for_its_admin_while_someone_hammers_it(admin_user):
    _fail_from(ATTACKER, admin_user.email, url="/admin/login/")

    owner = Client(REMOTE_ADDR=OWNER)
    response = owner.post(
        "/admin/login/?next=/admin/", {"username": admin_user.email, "password": PASSWORD}
    )

    assert response.status_code == 302
    assert login_is_throttled(email=admin_user.email, address=ATTACKER)


def test_the_right_password_of_a_non_staff_user_on_the_admin_log_in_is_no_failure(make_user):
    csm = make_user(Role.CSM, "casey@example.com")
    client = Client(REMOTE_ADDR=OWNER)
    for _ in range(LOGIN_FAILURE_LIMIT + 2):
        refused = client.post("/admin/login/", {"username": csm.email, "password": PASSWORD})
        assert refused.status_code == 200
        assert "Too many failed log-ins" not in refused.text

    assert not login_is_throttled(email=csm.email, address=OWNER)
    site = client.post(reverse("accounts:login"), {"username": csm.email, "password": PASSWORD})
    assert site.status_code == 302


def test_behind_a_trusted_proxy_the_address_is_the_one_the_proxy_saw(rf, settings):
    settings.TENURE_PROXY_HOPS = 1
    request = rf.get(
        "/", REMOTE_ADDR="10.0.0.5", HTTP_X_FORWARDED_FOR=f"{ATTACKER}, {OWNER}"
    )  # the client wrote the first entry itself; the proxy appended what it saw

    assert client_address(request) == OWNER


def test_without_a_trusted_proxy_a_forwarded_header_is_ignored(rf, settings):
    settings.TENURE_PROXY_HOPS = 0
    request = rf.get("/", REMOTE_ADDR=OWNER, HTTP_X_FORWARDED_FOR=ATTACKER)

    assert client_address(request) == OWNER
