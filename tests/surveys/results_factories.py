"""Builders for the results and follow-up tests: answers written straight to the database
(the respondent's path has its own tests), so a test can set up hundreds cheaply."""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import secrets

from django.utils import timezone

from customers.models import Account, Contact
from surveys.models import Invitation, Response, Survey

_ids = itertools.count(1)


def account(**fields) -> Account:
    n = next(_ids)
    fields.setdefault("external_id", f"res-acc-{n}")
    fields.setdefault("name", f"Account {n}")
    return Account.objects.create(**fields)


def contact(acc: Account | None = None, **fields) -> Contact:
    n = next(_ids)
    fields.setdefault("external_id", f"res-con-{n}")
    fields.setdefault("email", f"person{n}@example.com")
    fields.setdefault("name", f"Person {n}")
    return Contact.objects.create(account=acc or account(), **fields)


def survey(kind: str = "nps", **fields) -> Survey:
    fields.setdefault("slug", f"{kind}-{next(_ids)}")
    fields.setdefault("name", f"{kind.upper()} survey {next(_ids)}")
    return Survey.objects.create(kind=kind, **fields)


def invitation(srv: Survey, person: Contact, *, days_ago: float = 0) -> Invitation:
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


def answer(
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
    person = person or contact(acc)
    inv = invitation(srv, person, days_ago=days_ago)
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
    )
