"""Writes for people and roles."""

from __future__ import annotations

import datetime as dt
import hashlib

from django.contrib.auth.models import Group
from django.core.cache import cache
from django.db import transaction

from accounts.models import User
from accounts.roles import Role


@transaction.atomic
def user_create(*, email: str, password: str | None, role: Role, full_name: str = "") -> User:
    """Create a user in exactly one role; admins also get the Django admin."""
    user = User.objects.create_user(
        email=email,
        password=password,
        full_name=full_name,
        is_staff=role == Role.ADMIN,
        is_superuser=role == Role.ADMIN,
    )
    user.groups.add(Group.objects.get(name=role))
    return user


@transaction.atomic
def user_set_role(*, user: User, role: Role) -> User:
    user.groups.remove(*Group.objects.filter(name__in=list(Role)))
    user.groups.add(Group.objects.get(name=role))
    user.is_staff = user.is_superuser = role == Role.ADMIN
    user.save(update_fields=["is_staff", "is_superuser"])
    user.__dict__.pop("role_names", None)  # read again on next use
    return user


# --- log-in throttle ------------------------------------------------------------------------
# Password guessing against one account is slowed to LOGIN_FAILURE_LIMIT tries per window. The
# count lives in the cache (Redis in production), so every web process sees the same one. It
# is kept per account, not per address: behind a proxy every user shares one address.

LOGIN_FAILURE_LIMIT = 10
LOGIN_FAILURE_WINDOW = dt.timedelta(minutes=15)


def _login_failures_key(email: str) -> str:
    digest = hashlib.sha256(email.strip().lower().encode()).hexdigest()
    return f"login-failures:{digest}"


def login_is_throttled(*, email: str) -> bool:
    return cache.get(_login_failures_key(email), 0) >= LOGIN_FAILURE_LIMIT


def login_failure_record(*, email: str) -> int:
    """Count a failed log-in; the window starts at the first failure. Returns the count."""
    key = _login_failures_key(email)
    cache.add(key, 0, timeout=int(LOGIN_FAILURE_WINDOW.total_seconds()))
    try:
        return cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=int(LOGIN_FAILURE_WINDOW.total_seconds()))
        return 1


def login_failures_clear(*, email: str) -> None:
    cache.delete(_login_failures_key(email))
