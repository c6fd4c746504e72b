"""What a request says about where it came from."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest
from django.utils.http import url_has_allowed_host_and_scheme


def client_address(request: HttpRequest) -> str:
    """The client's IP address. Behind ``TENURE_PROXY_HOPS`` trusted proxies (the TLS proxy in
    production is one) it is the address the nearest of them saw, read from the right of
    X-Forwarded-For: entries further left are whatever the client chose to send."""
    hops = getattr(settings, "TENURE_PROXY_HOPS", 0)
    if hops:
        forwarded = [
            part.strip()
            for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
            if part.strip()
        ]
        if len(forwarded) >= hops:
            return forwarded[-hops]
    return request.META.get("REMOTE_ADDR", "") or "unknown"


def safe_next(request: HttpRequest, fallback: str) -> str:
    """Where a plain form post goes back to: its ``next`` field when that is a path on this
    site (never another host: an open redirect), else ``fallback``."""
    target = request.POST.get("next") or ""
    if url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return fallback
