"""People, roles and the login wall."""

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from accounts.roles import Role

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
