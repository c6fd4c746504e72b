"""Roles are Django groups so admins manage them with the tools they already know.

The groups themselves are created by a data migration; their permissions are synced after every
migrate, because permissions of apps added later only exist once those apps have migrated.
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    ADMIN = "Admin"
    CSM = "CSM"
    VIEWER = "Viewer"


# The apps whose data CSMs work on; Viewers may only look at them.
WORK_APPS = ("customers", "surveys", "metrics", "loyalty")


def sync_role_permissions(sender=None, **kwargs) -> None:
    from django.contrib.auth.models import Group, Permission

    using = kwargs.get("using", "default")
    # The data migration creates the groups; a flushed test database keeps its schema but
    # loses rows, so recreate whatever is missing here too.
    groups = {role: Group.objects.using(using).get_or_create(name=role)[0] for role in Role}
    work = Permission.objects.using(using).filter(content_type__app_label__in=WORK_APPS)
    groups[Role.ADMIN].permissions.set(Permission.objects.using(using).all())
    groups[Role.CSM].permissions.set(work)
    groups[Role.VIEWER].permissions.set(work.filter(codename__startswith="view_"))
