"""The expiry warning: an email to an account's contacts N days (the program's warning days)
before some of its points expire, in each contact's language, with a fresh link to the
customer page and the customer-success unsubscribe link.

Each lot is warned about when its expiry is N days away. Who is to be warned is written
first as ``ExpiryWarning`` rows (unique per contact and expiry day), then the unsent rows are
sent and stamped in one transaction under row locks: a rerun, a second worker or a lost cache
never warns twice, and a send that failed (SMTP down, worker killed) is retried by the next
daily run while the expiry is still ahead. Contacts who unsubscribed from customer-success
emails, and contacts without an address, are skipped.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.core.mail import get_connection
from django.db import transaction
from django.db.models import Min, Q, Sum
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import override

from customers.models import Contact
from health.models import EmailOptOut
from health.playbooks import unsubscribe_token
from loyalty.links import link_create
from loyalty.models import ExpiryWarning, LotState, LoyaltyProgram, Member
from surveys.emails import absolute_url, contact_email
from surveys.texts import LANGUAGES

SEND_BATCH = 500  # warnings sent (and stamped) per transaction


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
    message = contact_email(
        subject=subject,
        body=body + "\n",
        to=contact.email,
        language=language,
        one_click_unsubscribe_url=absolute_url(
            reverse("playbook-unsubscribe-one-click", args=[token])
        ),
    )
    return message


def expiry_warnings_send(*, now: dt.datetime | None = None, mail=None) -> int:
    """Warn the contacts of every member whose points expire in the program's warning days;
    returns the number of emails sent."""
    now = now or timezone.now()
    program = LoyaltyProgram.current()
    if not program.enabled or not program.expiry_warning_days:
        return 0
    today = now.astimezone(dt.UTC).date()
    day = today + dt.timedelta(days=program.expiry_warning_days)
    due = expiring_on(day)
    if due:
        by_account = {item.account_id: item for item in due}
        contacts = (
            Contact.objects.filter(account_id__in=list(by_account))
            .exclude(email="")
            .exclude(pk__in=EmailOptOut.objects.values("contact_id"))
            .values_list("pk", "account_id")
        )
        ExpiryWarning.objects.bulk_create(
            [
                ExpiryWarning(
                    contact_id=contact_id,
                    member_id=by_account[account_id].member_id,
                    expires_on=day,
                    points=by_account[account_id].points,
                    created_at=now,
                )
                for contact_id, account_id in contacts
            ],
            ignore_conflicts=True,  # already recorded by an earlier run: never twice
        )
    sent = 0
    while batch_sent := _send_batch(now=now, today=today, program=program, mail=mail):
        sent += batch_sent
    return sent


def _send_batch(*, now: dt.datetime, today: dt.date, program: LoyaltyProgram, mail) -> int:
    """Send up to SEND_BATCH unsent warnings whose expiry is still ahead and stamp them, in
    one transaction: if the send raises, nothing is stamped and the next run tries again."""
    with transaction.atomic():
        pending = list(
            ExpiryWarning.objects.filter(sent_at__isnull=True, expires_on__gt=today)
            .exclude(contact__in=EmailOptOut.objects.values("contact_id"))
            .select_related("contact__account")
            .select_for_update(skip_locked=True, of=("self",))
            .order_by("pk")[:SEND_BATCH]
        )
        if not pending:
            return 0
        messages = []
        for warning in pending:
            _, token = link_create(contact=warning.contact, now=now)
            page_url = absolute_url(reverse("loyalty:public", args=[token]))
            item = Expiring(
                member_id=warning.member_id,
                account_id=warning.contact.account_id,
                points=warning.points,
                expires_at=dt.datetime.combine(warning.expires_on, dt.time.min, tzinfo=dt.UTC),
            )
            messages.append(
                warning_message(warning.contact, item, program=program, page_url=page_url)
            )
        (mail or get_connection()).send_messages(messages)
        ExpiryWarning.objects.filter(pk__in=[w.pk for w in pending]).update(sent_at=now)
    return len(pending)
