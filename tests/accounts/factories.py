"""The accounts app's test builders: plain functions, not fixtures (conftest's ``make_user``
fixture and the role fixtures call this one)."""

from __future__ import annotations

import itertools

from accounts.roles import Role
from accounts.services import user_create

PASSWORD = "correct-horse-battery-staple"
_ids = itertools.count(1)


def make_user(role: Role = Role.CSM, email: str | None = None, full_name: str = ""):
    """A user in one role, with the shared test password."""
    email = email or f"{role.lower()}{next(_ids)}@example.com"
    return user_create(email=email, password=PASSWORD, role=role, full_name=full_name)
