"""Survey link tokens: 256 bits, hashed at rest, one 404 for anything unknown, 410 when expired."""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest
from django.utils import timezone

from surveys.models import Invitation
from surveys.tokens import LinkState, link_resolve, token_hash, token_new
from tests.surveys.factories import make_link

pytestmark = pytest.mark.django_db


def _tamper(token: str) -> str:
    """Change one character, keeping the token well-formed."""
    last = token[-1]
    return token[:-1] + ("A" if last != "A" else "B")


def test_a_token_carries_256_bits_and_only_its_sha256_is_stored():
    token, digest = token_new()
    assert len(token) == 43  # 32 bytes in URL-safe base64
    assert digest == hashlib.sha256(token.encode()).hexdigest()
    invitation, token = make_link()
    stored = Invitation.objects.filter(pk=invitation.pk).values_list("token_hash", flat=True).get()
    assert stored == token_hash(token)
    assert token not in str(Invitation.objects.filter(pk=invitation.pk).values().get())


def test_two_tokens_are_never_the_same():
    assert len({token_new()[0] for _ in range(1000)}) == 1000


def test_it_resolves_a_valid_link():
    invitation, token = make_link()
    link = link_resolve(token)
    assert link.state is LinkState.VALID
    assert link.invitation == invitation


@pytest.mark.parametrize(
    "make_bad",
    [
        pytest.param(lambda token: _tamper(token), id="one-character-changed"),
        pytest.param(lambda token: token_new()[0], id="never-issued"),
        pytest.param(lambda token: token[:-1], id="truncated"),
        pytest.param(lambda token: token + "x", id="too-long"),
        pytest.param(lambda token: "' OR 1=1 --" + token[11:], id="injection"),
    ],
)
def test_it_knows_nothing_of_a_tampered_or_unknown_token(make_bad):
    _invitation, token = make_link()
    assert link_resolve(make_bad(token)).state is LinkState.UNKNOWN


def test_a_revoked_link_is_unknown():
    invitation, token = make_link()
    Invitation.objects.filter(pk=invitation.pk).update(revoked_at=timezone.now())
    link = link_resolve(token)
    assert link.state is LinkState.UNKNOWN
    assert link.invitation is None  # nothing about the invitation leaks out


def test_a_link_expires_60_days_after_sending_by_default():
    invitation, token = make_link(sent_days_ago=0)
    assert invitation.expires_at == invitation.sent_at + dt.timedelta(days=60)
    assert link_resolve(token, now=invitation.sent_at + dt.timedelta(days=59)).state is (
        LinkState.VALID
    )
    assert link_resolve(token, now=invitation.expires_at).state is LinkState.EXPIRED


def test_the_reminder_token_and_the_first_token_both_work():
    invitation, first = make_link()
    second, digest = token_new()
    Invitation.objects.filter(pk=invitation.pk).update(reminder_token_hash=digest)
    assert link_resolve(first).invitation == invitation
    assert link_resolve(second).invitation == invitation
