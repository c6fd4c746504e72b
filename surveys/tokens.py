"""Per-recipient survey link tokens (docs/domain/survey-links.md).

A token is ``secrets.token_urlsafe(32)`` (256 bits). Only its SHA-256 is stored, so a copy of
the database cannot answer anybody's survey. Looking a token up by its hash is safe against
timing attacks: the index lookup compares hashes the attacker cannot steer byte by byte, and the
final comparison is constant-time anyway.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

from django.db.models import Q
from django.utils import timezone

from surveys.models import Invitation

TOKEN_BYTES = 32
# token_urlsafe(32) is 43 characters of the URL-safe base64 alphabet.
_TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{43}$")


def token_new() -> tuple[str, str]:
    """A fresh token and the hash to store for it."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    return token, token_hash(token)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("ascii", "replace")).hexdigest()


def token_is_well_formed(token: str) -> bool:
    return bool(_TOKEN_RE.match(token or ""))


class LinkState(enum.Enum):
    VALID = "valid"
    UNKNOWN = "unknown"  # never issued, tampered with or revoked: the same 404 for all
    EXPIRED = "expired"


@dataclass(frozen=True)
class ResolvedLink:
    state: LinkState
    invitation: Invitation | None = None


def link_resolve(token: str, *, now=None, for_update: bool = False) -> ResolvedLink:
    """Find the invitation a token belongs to and say whether it may be used.

    ``for_update`` locks the invitation row (PostgreSQL) so two concurrent answers through the
    same link are serialised; the survey and contact come in the same query.
    """
    if not token_is_well_formed(token):
        return ResolvedLink(LinkState.UNKNOWN)
    digest = token_hash(token)
    queryset = Invitation.objects.select_related("survey", "contact")
    if for_update:
        queryset = queryset.select_for_update(of=("self",))
    invitation = queryset.filter(Q(token_hash=digest) | Q(reminder_token_hash=digest)).first()
    if invitation is None:
        return ResolvedLink(LinkState.UNKNOWN)
    stored = (
        invitation.token_hash
        if hmac.compare_digest(invitation.token_hash, digest)
        else invitation.reminder_token_hash or ""
    )
    if not hmac.compare_digest(stored, digest) or invitation.revoked_at is not None:
        return ResolvedLink(LinkState.UNKNOWN)
    now = now or timezone.now()
    if invitation.expires_at is not None and now >= invitation.expires_at:
        return ResolvedLink(LinkState.EXPIRED, invitation)
    return ResolvedLink(LinkState.VALID, invitation)
