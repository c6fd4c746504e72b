"""Sending invitations and reminders by email, holding reminders back, and unsubscribing."""

from __future__ import annotations

import datetime as dt

from django.core.mail import get_connection
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from customers.models import Contact
from surveys.models import (
    Invitation,
    SendSkip,
    Survey,
)
from surveys.services.campaigns import emailed_within_floor, skip_log
from surveys.tokens import token_new

SEND_BATCH_SIZE = 100


def _claim(*, invitation_id: int, filters: Q) -> Invitation | None:
    """Lock one invitation for sending, skipping it if another worker holds it."""
    return (
        Invitation.objects.select_for_update(skip_locked=True, of=("self",))
        .select_related("survey", "contact", "contact__account")
        .filter(filters, pk=invitation_id, revoked_at__isnull=True)
        .first()
    )


def _refuse_at_send(invitation: Invitation, *, now) -> bool:
    """Re-check the rules that can change while an invitation waits in the queue; a refused
    invitation is revoked (never retried) and the reason logged."""
    survey, contact = invitation.survey, invitation.contact
    reason = None
    if not survey.is_active or not survey.is_open(now):
        reason = SendSkip.Reason.SURVEY_INACTIVE
    elif not contact.email:
        reason = SendSkip.Reason.NO_EMAIL
    elif contact.do_not_survey:
        reason = SendSkip.Reason.DO_NOT_SURVEY
    if reason is None:
        return False
    skip_log(
        survey=survey, contact=contact, campaign_id=invitation.campaign_id, reason=reason, now=now
    )
    invitation.revoked_at = now
    invitation.save(update_fields=["revoked_at"])
    return True


def invitation_send(*, invitation_id: int, now=None, connection=None) -> bool:
    """Email one queued invitation with a freshly minted token; True if it was sent.

    Each send is its own short transaction: the row is locked (``skip_locked``, so parallel
    workers share the queue), the token minted, the email handed to the backend, and
    ``sent_at`` committed right after. A worker killed mid-way leaves the row unsent and the
    next run sends it; only a kill between handing over the email and the commit can send a
    second copy.
    """
    from surveys.emails import invitation_email

    now = now or timezone.now()
    with transaction.atomic():
        invitation = _claim(invitation_id=invitation_id, filters=Q(sent_at__isnull=True))
        if invitation is None or _refuse_at_send(invitation, now=now):
            return False
        token, digest = token_new()
        message = invitation_email(invitation=invitation, token=token)
        invitation.token_hash = digest
        invitation.sent_at = now
        invitation.expires_at = now + dt.timedelta(days=invitation.survey.expiry_days)
        invitation.save(update_fields=["token_hash", "sent_at", "expires_at"])
        (connection or get_connection()).send_messages([message])
    return True


def invitations_send_due(*, now=None, limit: int = 5000) -> int:
    """Send queued invitations whose time has come, at most ``limit`` per call."""
    now = now or timezone.now()
    sent, after = 0, 0
    with get_connection() as connection:
        while sent < limit:
            # Walk the queue by id, so rows another worker holds are passed over, not retried
            # in a loop.
            batch = list(
                Invitation.objects.filter(
                    sent_at__isnull=True,
                    revoked_at__isnull=True,
                    scheduled_for__lte=now,
                    pk__gt=after,
                )
                .order_by("pk")
                .values_list("pk", flat=True)[:SEND_BATCH_SIZE]
            )
            for invitation_id in batch:
                if sent >= limit:
                    break
                if invitation_send(invitation_id=invitation_id, now=now, connection=connection):
                    sent += 1
            if len(batch) < SEND_BATCH_SIZE:
                break
            after = batch[-1]
    return sent


def _reminder_pending(now) -> Q:
    """Emailed, unanswered, still valid, and its one reminder neither sent nor withheld.

    A manual link (``manage.py survey_link``, an admin trying a survey) was never emailed, so
    it never gets a reminder email either.
    """
    return Q(
        sent_at__isnull=False,
        reminded_at__isnull=True,
        reminder_withheld_at__isnull=True,
        revoked_at__isnull=True,
        response__isnull=True,
        expires_at__gt=now,
    ) & ~Q(trigger=Invitation.Trigger.MANUAL)


def _remindable(now) -> Q:
    """A pending reminder that may go now: the survey is open, the contact still welcomes
    email, and has had no survey email within the 24-hour floor (then it goes on a later
    run: deferred, not withheld)."""
    return (
        _reminder_pending(now)
        & Q(contact__do_not_survey=False, survey__is_active=True)
        & ~Q(contact__email="")
        & (Q(survey__closes_at__isnull=True) | Q(survey__closes_at__gt=now))
        & ~Q(emailed_within_floor(now))
    )


def invitation_remind(*, invitation_id: int, now=None, connection=None) -> bool:
    """The one reminder to a non-responder. It carries a second token (so the first email's
    link keeps working); ``reminded_at`` makes a second reminder impossible. One that may no
    longer go is left alone here: ``reminders_withhold`` logs it on the next run."""
    from surveys.emails import invitation_email

    now = now or timezone.now()
    with transaction.atomic():
        invitation = _claim(
            invitation_id=invitation_id,
            filters=_remindable(now),
        )
        if invitation is None:
            return False
        token, digest = token_new()
        message = invitation_email(invitation=invitation, token=token, reminder=True)
        invitation.reminder_token_hash = digest
        invitation.reminded_at = now
        invitation.save(update_fields=["reminder_token_hash", "reminded_at"])
        (connection or get_connection()).send_messages([message])
    return True


def invitations_remind_due(*, now=None, limit: int = 5000) -> int:
    """Send the reminders that are due, at most ``limit``; returns how many went.

    Reminders that are due but may not go any more (the survey closed, the contact
    unsubscribed or lost their email since the first email) are logged and set aside first,
    once each, so every run looks only at what is still to do.
    """
    now = now or timezone.now()
    reminded = 0
    surveys = Survey.objects.filter(reminder_after_days__gt=0).order_by("pk")
    with get_connection() as connection:
        for survey in surveys:  # a loop over surveys (a few), never over contacts
            reminders_withhold(survey=survey, now=now)
            if reminded >= limit or not survey.is_active or not survey.is_open(now):
                continue
            due = (
                Invitation.objects.filter(
                    _remindable(now),
                    survey=survey,
                    sent_at__lte=now - dt.timedelta(days=survey.reminder_after_days),
                )
                .order_by("sent_at", "pk")
                .values_list("pk", flat=True)[: limit - reminded]
            )
            for invitation_id in list(due):
                if invitation_remind(invitation_id=invitation_id, now=now, connection=connection):
                    reminded += 1
    return reminded


def reminders_withhold(*, survey: Survey, now=None, batch_size: int = 1000) -> int:
    """Log each due reminder of ``survey`` that may no longer go, and mark it withheld.

    docs/domain/survey-links.md: a skip is logged with its reason, not retried. One ``SendSkip`` per
    reminder; ``reminder_withheld_at`` takes it out of every later run, so a closed survey or
    an unsubscribed contact is logged once, not on every beat. Rows are locked with
    ``skip_locked`` and the mark is set in the same transaction as the log, so two runs at
    once log each reminder once. Returns how many were withheld.
    """
    now = now or timezone.now()
    if survey.reminder_after_days == 0:
        return 0
    pending = Invitation.objects.filter(
        _reminder_pending(now),
        survey=survey,
        sent_at__lte=now - dt.timedelta(days=survey.reminder_after_days),
    )
    closed = not survey.is_active or not survey.is_open(now)
    if not closed:
        pending = pending.filter(Q(contact__do_not_survey=True) | Q(contact__email=""))
    withheld = 0
    while True:
        with transaction.atomic():
            rows = list(
                pending.select_for_update(skip_locked=True, of=("self",))
                .select_related("contact")
                .only("pk", "campaign_id", "sent_at", "contact__do_not_survey")
                .order_by("pk")[:batch_size]
            )
            if not rows:
                break
            SendSkip.objects.bulk_create(
                SendSkip(
                    survey=survey,
                    contact_id=invitation.contact_id,
                    campaign_id=invitation.campaign_id,
                    reason=_withheld_reason(closed=closed, contact=invitation.contact),
                    detail=f"reminder of the {invitation.sent_at:%Y-%m-%d %H:%M} UTC email",
                    at=now,
                )
                for invitation in rows
            )
            Invitation.objects.filter(pk__in=[invitation.pk for invitation in rows]).update(
                reminder_withheld_at=now
            )
        withheld += len(rows)
        if len(rows) < batch_size:
            break
    return withheld


def _withheld_reason(*, closed: bool, contact: Contact) -> str:
    if closed:
        return SendSkip.Reason.SURVEY_INACTIVE
    if contact.do_not_survey:
        return SendSkip.Reason.DO_NOT_SURVEY
    return SendSkip.Reason.NO_EMAIL


def contact_unsubscribe(*, invitation: Invitation, now=None) -> None:
    """Permanent do-not-survey for the invitation's contact (docs/domain/survey-links.md)."""
    now = now or timezone.now()
    Contact.objects.filter(pk=invitation.contact_id).update(do_not_survey=True, updated_at=now)
