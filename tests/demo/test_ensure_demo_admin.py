"""The demo admin that `make run` creates and whose login it prints."""

from io import StringIO

import pytest
from django.core.management import call_command

from accounts.models import User

pytestmark = pytest.mark.django_db


def test_ensure_demo_admin_is_safe_to_run_twice(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    first, second = StringIO(), StringIO()
    call_command("ensure_demo_admin", stdout=first)
    call_command("ensure_demo_admin", stdout=second)
    password = (tmp_path / "demo-admin-password.txt").read_text().strip()
    assert f"password: {password}" in first.getvalue()
    assert f"password: {password}" in second.getvalue()
    admin = User.objects.get(email="admin@example.com")
    assert admin.check_password(password)
    assert admin.is_superuser and admin.is_staff
    assert User.objects.filter(email="admin@example.com").count() == 1
