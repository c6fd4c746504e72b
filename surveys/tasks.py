"""Background jobs for surveys. Each takes ids (or nothing), returns early when its row is gone,
and is safe to run twice or to kill mid-way: the rows say what is done (sent_at, reminded_at,
campaign runs), so the next run picks up exactly what is left.

Only named transient errors are retried, with exponential backoff and jitter.
"""

from __future__ import annotations

import smtplib

from celery import shared_task
from django.db import OperationalError
from django.utils import timezone

from surveys import services

TRANSIENT_ERRORS = (smtplib.SMTPServerDisconnected, ConnectionError, OperationalError)
RETRY = {
    "acks_late": True,
    "autoretry_for": TRANSIENT_ERRORS,
    "retry_backoff": True,
    "retry_backoff_max": 600,
    "retry_jitter": True,
    "max_retries": 5,
}


@shared_task(**RETRY)
def send_due_invitations() -> int:
    """Beat, every minute: email queued invitations whose time has come."""
    return services.invitations_send_due(now=timezone.now())


@shared_task(**RETRY)
def send_invitation(invitation_id: int) -> bool:
    return services.invitation_send(invitation_id=invitation_id, now=timezone.now())


@shared_task(**RETRY)
def run_due_campaigns() -> int:
    """Beat: start every campaign run that is due, one task each so workers share them."""
    due = services.campaigns_due(now=timezone.now())
    for campaign_id in due:
        run_campaign.delay(campaign_id)
    return len(due)


@shared_task(**RETRY)
def run_campaign(campaign_id: int) -> int:
    run = services.campaign_run(campaign_id=campaign_id, now=timezone.now())
    return run.invited if run is not None else 0


@shared_task(**RETRY)
def send_reminders() -> int:
    """Beat: the one reminder to non-responders."""
    return services.invitations_remind_due(now=timezone.now())


@shared_task(**RETRY)
def send_ticket_surveys(ticket_id: int) -> int:
    """After a ticket closes: invite (once per survey and ticket) and send right away."""
    invitation_ids = services.invitations_create_for_ticket(ticket_id=ticket_id, now=timezone.now())
    for invitation_id in invitation_ids:
        send_invitation.delay_on_commit(invitation_id)
    return len(invitation_ids)


@shared_task(**RETRY)
def announce_responses() -> int:
    """Beat, every few seconds: run the ``response_saved`` receivers (follow-ups, keyword tags)
    for answers saved since, off the respondents' requests."""
    return services.responses_announce()


@shared_task(**RETRY)
def create_missing_follow_ups() -> int:
    """Beat, daily: the safety net behind the ``response_saved`` receivers. An unhappy answer
    whose follow-up was not made (a receiver that kept failing, answers imported in bulk) gets
    one, so no detractor waits unseen; it is set-based and makes nothing twice."""
    return services.follow_ups_create_missing()
