"""The expiry warning: an email to an account's contacts N days (the program's warning days)
before some of its points expire, in each contact's language, with a fresh link to the
customer page and the customer-success unsubscribe link.

Each lot is warned about on exactly one day, the day its expiry is N days away, so a daily
run warns once; a second run on the same day is held back by a marker in the cache (a rerun
after the cache was lost could warn twice that day: a durable "warned" mark on the lot would
close that, see the report). Contacts who unsubscribed from customer-success emails, and
contacts without an address, are skipped.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db.models import Min, Q, Sum
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import override

from customers.models import Contact
from health.models import EmailOptOut
from health.playbooks import unsubscribe_token
from loyalty.links import link_create
from loyalty.models import LotState, LoyaltyProgram, Member
from surveys.emails import absolute_url
from surveys.texts import LANGUAGES

SENT_MARK_SECONDS = 2 * 24 * 3600


@dataclass(frozen=True)
class Expiring:
    member_id: int
    account_id: int
    points: int
    expires_at: dt.datetime


def expiring_on(day: dt.date) -> list[Expiring]:
    """Members with active points whose lots expire on ``day`` (UTC): one grouped query."""
    start = dt.datetime.combine(day, dt.time.min, tzinfo=dt.UTC)
    end = start + dt.timedelta(days=1)
    soon = Q(
        lots__state=LotState.ACTIVE,
        lots__remaining__gt=0,
        lots__expires_at__gte=start,
        lots__expires_at__lt=end,
    )
    rows = (
        Member.objects.annotate(
            points=Sum("lots__remaining", filter=soon), first=Min("lots__expires_at", filter=soon)
        )
        .filter(points__gt=0)
        .order_by("pk")
        .values_list("pk", "account_id", "points", "first")
    )
    return [Expiring(*row) for row in rows]


def warning_message(contact: Contact, item: Expiring, *, program: LoyaltyProgram, page_url: str):
    """The email for one contact, in their language (English when we do not have theirs)."""
    language = contact.locale if contact.locale in LANGUAGES else settings.LANGUAGE_CODE
    token = unsubscribe_token(contact.pk)
    with override(language):
        subject = _("Points expiring on %(date)s: %(count)s") % {
            "count": item.points,
            "date": item.expires_at.date().isoformat(),
        }
        body = "\n\n".join(
            [
                _("Hello %(name)s,") % {"name": contact.name or contact.email},
                _(
                    "%(account)s has points in %(program)s that expire on %(date)s. "
                    "Use them before then: see your balance and the rewards you can request "
                    "here:"
                )
                % {
                    "account": contact.account.name,
                    "program": program.name,
                    "date": item.expires_at.date().isoformat(),
                },
                page_url,
                "--\n"
                + _("Don't want these emails? Unsubscribe: %(url)s")
                % {"url": absolute_url(reverse("playbook-unsubscribe", args=[token]))},
            ]
        )
    message = EmailMultiAlternatives(
        subject=subject,
        body=body + "\n",
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[contact.email],
        headers={
            "List-Unsubscribe": "<{}>".format(
                absolute_url(reverse("playbook-unsubscribe-one-click", args=[token]))
            ),
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            "Auto-Submitted": "auto-generated",
            "Content-Language": language,
        },
    )
    return message


def expiry_warnings_send(*, now: dt.datetime | None = None, mail=None) -> int:
    """Warn the contacts of every member whose points expire in the program's warning days;
    returns the number of emails sent."""
    now = now or timezone.now()
    program = LoyaltyProgram.current()
    if not program.enabled or not program.expiry_warning_days:
        return 0
    day = now.astimezone(dt.UTC).date() + dt.timedelta(days=program.expiry_warning_days)
    due = expiring_on(day)
    if not due:
        return 0
    by_account = {item.account_id: item for item in due}
    opted_out = set(EmailOptOut.objects.values_list("contact_id", flat=True))
    contacts = (
        Contact.objects.filter(account_id__in=list(by_account))
        .exclude(email="")
        .select_related("account")
        .order_by("account_id", "pk")
    )
    messages = []
    for contact in contacts:
        if contact.pk in opted_out:
            continue
        if not cache.add(f"loyalty:expiry-warned:{contact.pk}:{day}", 1, SENT_MARK_SECONDS):
            continue
        _, token = link_create(contact=contact, now=now)
        page_url = absolute_url(reverse("loyalty:public", args=[token]))
        messages.append(
            warning_message(
                contact, by_account[contact.account_id], program=program, page_url=page_url
            )
        )
    if messages:
        (mail or get_connection()).send_messages(messages)
    return len(messages)
