"""Several workers on one queue, replayed campaign runs and ticket closes (PostgreSQL, threads)."""

from __future__ import annotations

import datetime as dt

from django.core import mail
from django.utils import timezone

from customers.models import Ticket
from surveys.models import Campaign, CampaignRun, Invitation, SendSkip
from surveys.services import campaign_run, invitations_create_for_ticket, invitations_send_due
from tests.concurrency import POSTGRES_ONLY, run_together
from tests.customers.factories import make_account, make_contact
from tests.surveys.factories import make_survey

pytestmark = POSTGRES_ONLY


def test_three_workers_send_each_due_invitation_exactly_once():
    account = make_account()
    for _ in range(60):
        make_contact(account)
    campaign = Campaign.objects.create(
        survey=make_survey(), name="All", starts_at=timezone.now() - dt.timedelta(minutes=1)
    )
    campaign_run(campaign_id=campaign.pk)
    now = timezone.now()
    sent = run_together(*[lambda: invitations_send_due(now=now)] * 3)
    assert sum(sent) == 60
    assert len(mail.outbox) == 60
    assert len({message.to[0] for message in mail.outbox}) == 60
    assert not Invitation.objects.filter(sent_at__isnull=True).exists()


def test_a_campaign_run_by_two_workers_at_once_invites_everyone_once():
    account = make_account()
    for _ in range(30):
        make_contact(account)
    campaign = Campaign.objects.create(
        survey=make_survey(), name="All", starts_at=timezone.now() - dt.timedelta(minutes=1)
    )
    runs = run_together(*[lambda: campaign_run(campaign_id=campaign.pk)] * 2)
    assert sum(run is not None for run in runs) == 1
    assert CampaignRun.objects.count() == 1
    assert Invitation.objects.count() == 30


def test_a_ticket_close_replayed_concurrently_invites_once():
    make_survey("csat", send_after_ticket_close=True)
    contact = make_contact()
    now = timezone.now()
    ticket = Ticket.objects.create(
        account=contact.account,
        contact=contact,
        external_id="T-1",
        subject="Login broken",
        status="closed",
        opened_at=now - dt.timedelta(hours=1),
        closed_at=now,
    )
    created = run_together(*[lambda: invitations_create_for_ticket(ticket_id=ticket.pk)] * 4)
    assert sum(len(ids) for ids in created) == 1
    assert Invitation.objects.count() == 1
    # A replay that looked before the winner committed is refused by the unique constraint;
    # one that looked after sees the invitation (as a duplicate, or within the 24-hour floor).
    reasons = list(SendSkip.objects.values_list("reason", flat=True))
    assert len(reasons) == 3 and set(reasons) <= {"duplicate", "fatigue"}
