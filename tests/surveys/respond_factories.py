"""Small builders shared by the respondent and sending tests (plain functions, not fixtures, so
they never collide with fixtures other test modules in this folder define)."""

from __future__ import annotations

import datetime as dt
import itertools

from django.utils import timezone

from customers.models import Account, Contact
from surveys.models import Invitation, Survey, SurveyText
from surveys.tokens import token_new

_ids = itertools.count(1)


def make_account(**fields) -> Account:
    n = next(_ids)
    fields.setdefault("external_id", f"acc-{n}")
    fields.setdefault("name", f"Account {n}")
    return Account.objects.create(**fields)


def make_contact(account: Account | None = None, **fields) -> Contact:
    n = next(_ids)
    fields.setdefault("external_id", f"con-{n}")
    fields.setdefault("email", f"person{n}@example.com")
    fields.setdefault("name", f"Person {n}")
    return Contact.objects.create(account=account or make_account(), **fields)


def make_survey(kind: str = "nps", **fields) -> Survey:
    fields.setdefault("slug", f"{kind}-{next(_ids)}")
    fields.setdefault("name", f"{kind.upper()} survey")
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
