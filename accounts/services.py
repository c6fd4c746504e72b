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
# Password guessing is slowed to LOGIN_FAILURE_LIMIT tries per account *and* client address in
# a window: a stranger hammering someone's account from one address locks only that pair, so
# the real user on their own address still gets in. The counts live in the cache (Redis in
# production), so every web process sees the same ones. Behind the TLS proxy, the address is
# the one the proxy saw (core.http.client_address, TENURE_PROXY_HOPS).

LOGIN_FAILURE_LIMIT = 10
LOGIN_FAILURE_WINDOW = dt.timedelta(minutes=15)
# Password-reset emails: a few per address asked for, a few more per client, per hour; past
# that the request is answered the same way and nothing is sent.
PASSWORD_RESET_PER_EMAIL = 3
PASSWORD_RESET_PER_ADDRESS = 10
PASSWORD_RESET_WINDOW = dt.timedelta(hours=1)


def _key(kind: str, *parts: str) -> str:
    digest = hashlib.sha256("\x1f".join(parts).encode()).hexdigest()
    return f"{kind}:{digest}"


def _login_failures_key(email: str, address: str) -> str:
    return _key("login-failures", email.strip().lower(), address)


def _count(key: str, window: dt.timedelta) -> int:
    """Add one to a counter whose window starts at its first count; returns the new count."""
    timeout = int(window.total_seconds())
    cache.add(key, 0, timeout=timeout)
    try:
        return cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=timeout)
        return 1


def login_is_throttled(*, email: str, address: str) -> bool:
    return cache.get(_login_failures_key(email, address), 0) >= LOGIN_FAILURE_LIMIT


def login_failure_record(*, email: str, address: str) -> int:
    """Count a failed log-in for this account from this address. Returns the count."""
    return _count(_login_failures_key(email, address), LOGIN_FAILURE_WINDOW)


def login_failures_clear(*, email: str, address: str) -> None:
    cache.delete(_login_failures_key(email, address))


def password_reset_request_allowed(*, email: str, address: str) -> bool:
    """Count a password-reset request; false once this address or this client asked too
    often in the window. Counted whether or not the address has an account, so the answer
    never tells which addresses exist."""
    by_email = _count(_key("reset-email", email.strip().lower()), PASSWORD_RESET_WINDOW)
    by_client = _count(_key("reset-client", address), PASSWORD_RESET_WINDOW)
    return by_email <= PASSWORD_RESET_PER_EMAIL and by_client <= PASSWORD_RESET_PER_ADDRESS
