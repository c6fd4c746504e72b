"""Make sure the demo admin exists and print how to log in.

The password is generated once, kept in ``var/`` (never committed) and printed on every run so
``make run`` can always tell a newcomer how to get in.
"""

from __future__ import annotations

import secrets

from django.conf import settings
from django.core.management.base import BaseCommand

from accounts.models import User
from accounts.roles import Role
from accounts.services import user_create, user_set_role

DEMO_EMAIL = "admin@example.com"


class Command(BaseCommand):
    help = "Create the demo admin (admin@example.com) if missing and print its password."

    def handle(self, *args, **options) -> None:
        password_file = settings.VAR_DIR / "demo-admin-password.txt"
        user = User.objects.filter(email__iexact=DEMO_EMAIL).first()
        if password_file.exists():
            password = password_file.read_text().strip()
        else:
            password = secrets.token_urlsafe(12)
            password_file.write_text(password + "\n")
            password_file.chmod(0o600)
        if user is None:
            user = user_create(
                email=DEMO_EMAIL, password=password, role=Role.ADMIN, full_name="Demo Admin"
            )
        elif not user.check_password(password):
            user.set_password(password)
            user.save(update_fields=["password"])
        if not user.is_admin:
            user_set_role(user=user, role=Role.ADMIN)
        self.stdout.write(
            self.style.SUCCESS(f"Demo admin: {DEMO_EMAIL}  password: {password}")
            + f"  (kept in {password_file})"
        )
