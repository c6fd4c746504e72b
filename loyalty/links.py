"""Per-contact links to the customer-facing loyalty page, on the survey links' rules
(docs/domain/survey-links.md): a ``secrets.token_urlsafe(32)`` token of which only the
SHA-256 is stored; unknown, tampered and revoked tokens all resolve to UNKNOWN (one 404);
an expired one to EXPIRED (a friendly 410). Resolving never writes: mail scanners open links.
"""

from __future__ import annotations

import datetime as dt
import hmac
from dataclasses import dataclass

from django.utils import timezone

from loyalty.models import LoyaltyLink
from surveys.tokens import LinkState, token_hash, token_is_well_formed, token_new

DEFAULT_DAYS = 90

__all__ = ["LinkState", "ResolvedLink", "link_create", "link_resolve", "link_revoke"]


@dataclass(frozen=True)
class ResolvedLink:
    state: LinkState
    link: LoyaltyLink | None = None


def link_create(
    *, contact, user=None, days: int = DEFAULT_DAYS, now: dt.datetime | None = None
) -> tuple[LoyaltyLink, str]:
    """A new link for the contact; returns the row and the token, which exists only here
    (the page shows it once to the CSM who made it)."""
    now = now or timezone.now()
    token, digest = token_new()
    link = LoyaltyLink.objects.create(
        contact=contact,
        token_hash=digest,
        created_by=user,
        created_at=now,
        expires_at=now + dt.timedelta(days=days) if days else None,
    )
    return link, token


def link_revoke(*, link: LoyaltyLink, now: dt.datetime | None = None) -> None:
    if link.revoked_at is None:
        link.revoked_at = now or timezone.now()
        link.save(update_fields=["revoked_at"])


def link_resolve(token: str, *, now: dt.datetime | None = None) -> ResolvedLink:
    """The link a token belongs to, and whether it may be used (a read only)."""
    if not token_is_well_formed(token):
        return ResolvedLink(LinkState.UNKNOWN)
    digest = token_hash(token)
    link = LoyaltyLink.objects.select_related("contact__account").filter(token_hash=digest).first()
    if link is None or not hmac.compare_digest(link.token_hash, digest):
        return ResolvedLink(LinkState.UNKNOWN)
    if link.revoked_at is not None:
        return ResolvedLink(LinkState.UNKNOWN)
    now = now or timezone.now()
    if link.expires_at is not None and now >= link.expires_at:
        return ResolvedLink(LinkState.EXPIRED, link)
    return ResolvedLink(LinkState.VALID, link)
