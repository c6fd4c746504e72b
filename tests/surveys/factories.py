"""The surveys app's test builders: plain functions (not fixtures), so they never collide with
fixtures a test module defines. Accounts and contacts come from tests.customers.factories."""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import secrets

from django.utils import timezone

from customers.models import Account, Contact
from surveys.models import Invitation, Response, Survey, SurveyText
from surveys.tokens import token_new
from tests.customers.factories import make_contact

_ids = itertools.count(1)


def make_survey(kind: str = "nps", **fields) -> Survey:
    n = next(_ids)
    fields.setdefault("slug", f"{kind}-{n}")
    fields.setdefault("name", f"{kind.upper()} survey {n}")
    return Survey.objects.create(kind=kind, **fields)


def make_text(survey: Survey, language: str = "en", **fields) -> SurveyText:
    """A survey's texts in one language; every required text gets a short stand-in."""
    for name, stand_in in (
        ("question", "Q"),
        ("thank_you", "T"),
        ("email_subject", "S"),
        ("email_intro", "I"),
    ):
        fields.setdefault(name, stand_in)
    return survey.texts.create(language=language, **fields)


def make_link(
    survey: Survey | None = None,
    contact: Contact | None = None,
    *,
    sent_days_ago: float = 0,
    **fields,
) -> tuple[Invitation, str]:
    """An invitation that was emailed ``sent_days_ago`` days ago (by a campaign, unless
    ``trigger`` says otherwise), and its token."""
    survey = survey or make_survey()
    contact = contact or make_contact()
    token, digest = token_new()
    sent_at = timezone.now() - dt.timedelta(days=sent_days_ago)
    fields.setdefault("language", contact.locale)
    invitation = Invitation.objects.create(
        survey=survey,
        contact=contact,
        trigger=fields.pop("trigger", Invitation.Trigger.CAMPAIGN),
        token_hash=digest,
        scheduled_for=sent_at,
        sent_at=sent_at,
        expires_at=sent_at + dt.timedelta(days=survey.expiry_days),
        **fields,
    )
    return invitation, token


def make_invitation(srv: Survey, person: Contact, *, days_ago: float = 0) -> Invitation:
    """An invitation emailed ``days_ago`` days ago, with a random token nobody knows."""
    sent_at = timezone.now() - dt.timedelta(days=days_ago)
    return Invitation.objects.create(
        survey=srv,
        contact=person,
        token_hash=hashlib.sha256(secrets.token_bytes(32)).hexdigest(),
        scheduled_for=sent_at,
        sent_at=sent_at,
        expires_at=sent_at + dt.timedelta(days=60),
        language=person.locale,
    )


def make_answer(
    srv: Survey,
    score: int | None = None,
    *,
    answers: dict | None = None,
    comment: str = "",
    person: Contact | None = None,
    acc: Account | None = None,
    days_ago: float = 0,
) -> Response:
    """One answered invitation, ``days_ago`` days old."""
    person = person or make_contact(acc)
    inv = make_invitation(srv, person, days_ago=days_ago)
    at = inv.sent_at + dt.timedelta(minutes=5)
    return Response.objects.create(
        invitation=inv,
        survey=srv,
        contact=person,
        account_id=person.account_id,
        score=score,
        answers=answers or {},
        comment=comment,
        language=person.locale or "en",  # an answer always has a language; a contact may not
        created_at=at,
        updated_at=at,
        invitation_sent_at=inv.sent_at,  # as surveys.services.responses copies it
    )
