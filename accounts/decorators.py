"""View decorators for the roles (accounts/roles.py)."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse


def worker_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Only CSMs and admins may run this view (it changes data); viewers get a 403. Every
    signed-in role reads, so the read views need nothing beyond the login wall."""

    @wraps(view)
    def guarded(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not request.user.can_work:
            raise PermissionDenied("Viewers can read but not change anything.")
        return view(request, *args, **kwargs)

    return guarded
