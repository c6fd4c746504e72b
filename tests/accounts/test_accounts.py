"""People, roles, the login wall and the log-in throttle."""

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import reverse

from accounts.roles import Role
from accounts.services import LOGIN_FAILURE_LIMIT, login_is_throttled
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def test_the_three_roles_exist_after_migrating():
    assert set(Group.objects.values_list("name", flat=True)) >= {"Admin", "CSM", "Viewer"}


def test_viewers_may_only_view_customer_data(viewer_user):
    assert viewer_user.has_perm("customers.view_account")
    assert not viewer_user.has_perm("customers.change_account")
    assert not viewer_user.can_work


def test_csms_may_change_customer_data_but_not_users(csm_user):
    assert csm_user.has_perm("customers.change_account")
    assert not csm_user.has_perm("accounts.change_user")
    assert csm_user.can_work


def test_admins_can_do_everything(admin_user):
    assert admin_user.is_staff
    assert admin_user.has_perm("accounts.change_user")


def test_email_login_is_case_insensitive(client, csm_user):
    response = client.post(
        reverse("accounts:login"),
        {"username": "CSM@Example.com", "password": "correct-horse-battery-staple"},
    )
    assert response.status_code == 302
    assert response.url == reverse("home")


def test_a_wrong_password_is_refused_with_a_message(client, csm_user):
    response = client.post(
        reverse("accounts:login"), {"username": csm_user.email, "password": "nope"}
    )
    assert response.status_code == 200
    assert "Please enter a correct email address and password" in response.text


@pytest.mark.parametrize(
    "url", ["/", "/customers/", "/surveys/", "/metrics/", "/loyalty/", "/auth/password/"]
)
def test_every_page_requires_login(client, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response.url.startswith(reverse("accounts:login"))


def test_a_viewer_cannot_reach_the_admin(viewer_client):
    response = viewer_client.get("/admin/")
    assert response.status_code == 302
    assert "/admin/login/" in response.url


def test_an_admin_reaches_the_admin(admin_client_):
    assert admin_client_.get("/admin/").status_code == 200


def test_logout_requires_a_post_with_csrf(csm_user):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(csm_user)
    assert client.post(reverse("accounts:logout")).status_code == 403


def test_user_role_can_be_changed(make_user):
    from accounts.services import user_set_role

    user = make_user(Role.VIEWER)
    user_set_role(user=user, role=Role.CSM)
    user = type(user).objects.get(pk=user.pk)
    assert list(user.groups.values_list("name", flat=True)) == ["CSM"]
    assert user.has_perm("customers.change_account")


def test_after_ten_failed_log_ins_even_the_right_password_waits(client, csm_user):
    url = reverse("accounts:login")
    for _ in range(LOGIN_FAILURE_LIMIT):
        client.post(url, {"username": csm_user.email, "password": "guess"})

    right = client.post(url, {"username": csm_user.email.upper(), "password": PASSWORD})

    assert right.status_code == 200
    assert "Too many failed log-ins for this account. Wait 15 minutes" in right.text
    assert "_auth_user_id" not in client.session
    # Someone else is not held up.
    other = Client()
    assert other.post(url, {"username": "other@example.com", "password": "x"}).status_code == 200
    assert not login_is_throttled(email="other@example.com", address="127.0.0.1")


def test_a_successful_log_in_forgets_earlier_failures(client, csm_user):
    url = reverse("accounts:login")
    for _ in range(LOGIN_FAILURE_LIMIT - 1):
        client.post(url, {"username": csm_user.email, "password": "guess"})
    assert client.post(url, {"username": csm_user.email, "password": PASSWORD}).status_code == 302
    client.logout()
    for _ in range(LOGIN_FAILURE_LIMIT - 1):
        client.post(url, {"username": csm_user.email, "password": "guess"})
    assert client.post(url, {"username": csm_user.email, "password": PASSWORD}).status_code == 302


def test_the_admin_log_in_is_throttled_too(client, admin_user):
    for _ in range(LOGIN_FAILURE_LIMIT):
        client.post("/admin/login/", {"username": admin_user.email, "password": "guess"})
    response = client.post(
        "/admin/login/?next=/admin/", {"username": admin_user.email, "password": PASSWORD}
    )
    assert response.status_code == 200
    assert "Too many failed log-ins" in response.text


def test_a_role_change_is_seen_at_once_by_the_same_user_object(
    make_user, django_assert_num_queries
):
    from accounts.services import user_set_role

    user = make_user(Role.VIEWER)
    with django_assert_num_queries(1):  # the groups are read once, then remembered
        assert (user.can_work, user.is_csm, user.is_admin) == (False, False, False)
    user_set_role(user=user, role=Role.CSM)
    assert (user.can_work, user.is_csm) == (True, True)
