"""Writes for people and roles."""

from __future__ import annotations

from django.contrib.auth.models import Group
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
    return user
