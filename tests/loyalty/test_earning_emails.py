"""The expiry warning: sent N days before points expire, once, in the contact's language,
never to a contact who unsubscribed."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core import mail

from health.models import EmailOptOut
from loyalty.earning_emails import expiry_warnings_send
from loyalty.models import ExpiryWarning, Lot, LoyaltyLink, LoyaltyProgram
from loyalty.services import award
from tests.customers.factories import make_account, make_contact

pytestmark = pytest.mark.django_db

EARNED = dt.datetime(2026, 1, 10, 12, tzinfo=dt.UTC)


@pytest.fixture
def expiring():
    """An account with 120 points earned on EARNED; they expire 12 months later."""
    account = make_account(name="Acme")
    award(account, 120, reason="x", idempotency_key="e-1", now=EARNED)
    return account, Lot.objects.get().expires_at


def test_contacts_are_warned_the_warning_days_before_in_their_language(expiring):
    account, expires_at = expiring
    make_contact(account, locale="nb", name="Kari", email="kari@example.com")
    make_contact(account, locale="", name="Sam", email="sam@example.com")
    days = LoyaltyProgram.current().expiry_warning_days

    sent = expiry_warnings_send(now=expires_at - dt.timedelta(days=days, hours=3))

    assert sent == 2
    by_address = {m.to[0]: m for m in mail.outbox}
    norwegian, english = by_address["kari@example.com"], by_address["sam@example.com"]
    assert english.subject == f"Points expiring on {expires_at.date().isoformat()}: 120"
    assert norwegian.extra_headers["Content-Language"] == "nb"
    assert norwegian.subject.startswith("Poeng som utløper")
    assert "/loyalty/l/" in english.body
    assert LoyaltyLink.objects.filter(contact__account=account).count() == 2


def test_no_warning_on_other_days_and_none_twice_on_the_day(expiring):
    account, expires_at = expiring
    make_contact(account, email="sam@example.com")
    days = LoyaltyProgram.current().expiry_warning_days
    day = expires_at - dt.timedelta(days=days)

    assert expiry_warnings_send(now=day - dt.timedelta(days=1)) == 0
    assert expiry_warnings_send(now=day) == 1
    assert expiry_warnings_send(now=day) == 0
    assert expiry_warnings_send(now=day + dt.timedelta(days=1)) == 0
    assert len(mail.outbox) == 1


def test_a_contact_who_unsubscribed_is_not_warned(expiring):
    account, expires_at = expiring
    gone = make_contact(account, email="gone@example.com")
    EmailOptOut.objects.create(contact=gone)
    days = LoyaltyProgram.current().expiry_warning_days

    assert expiry_warnings_send(now=expires_at - dt.timedelta(days=days)) == 0
    assert mail.outbox == []


class _BrokenMail:
    def send_messages(self, messages):
        raise ConnectionRefusedError("SMTP server down")


def test_a_warning_whose_send_failed_is_sent_by_the_next_run_and_only_once(expiring):
    account, expires_at = expiring
    make_contact(account, email="sam@example.com")
    days = LoyaltyProgram.current().expiry_warning_days
    day = expires_at - dt.timedelta(days=days)

    with pytest.raises(ConnectionRefusedError):
        expiry_warnings_send(now=day, mail=_BrokenMail())
    warning = ExpiryWarning.objects.get()
    assert warning.sent_at is None and warning.points == 120

    # The next day's run still owes it (the expiry is ahead), and sends it once.
    assert expiry_warnings_send(now=day + dt.timedelta(days=1)) == 1
    assert expiry_warnings_send(now=day + dt.timedelta(days=1)) == 0
    assert len(mail.outbox) == 1
    assert ExpiryWarning.objects.get().sent_at == day + dt.timedelta(days=1)


def test_the_warned_mark_is_in_the_database_so_a_cleared_cache_never_warns_twice(expiring):
    from django.core.cache import cache

    account, expires_at = expiring
    make_contact(account, email="sam@example.com")
    day = expires_at - dt.timedelta(days=LoyaltyProgram.current().expiry_warning_days)

    assert expiry_warnings_send(now=day) == 1
    cache.clear()
    assert expiry_warnings_send(now=day) == 0
    assert len(mail.outbox) == 1
