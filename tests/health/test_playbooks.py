"""Playbooks: a trigger starts its tasks and emails once per cause; emails go in the
contact's language, honour the unsubscribe link and the 24-hour floor, and land on the
timeline."""

from __future__ import annotations

import datetime as dt

import pytest
from django.conf import settings
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from customers.models import StageChange
from customers.timeline import timeline_for
from health.models import (
    Alert,
    EmailOptOut,
    Playbook,
    PlaybookEmail,
    PlaybookRun,
    StepKind,
    Task,
)
from health.playbooks import (
    playbook_emails_send_due,
    playbooks_on_alerts,
    playbooks_sweep,
    unsubscribe_token,
)
from health.services import alerts_wake, health_recompute
from tests.concurrency import POSTGRES_ONLY, run_together
from tests.customers.factories import add_usage, make_contact
from tests.health.test_alerts import old_account, only_rules, today
from tests.surveys.factories import make_invitation, make_survey

pytestmark = pytest.mark.django_db

LANGUAGES = {code for code, _ in settings.LANGUAGES}


def only_playbooks(*names: str) -> None:
    Playbook.objects.update(enabled=False)
    Playbook.objects.filter(name__in=names).update(enabled=True)


@pytest.fixture
def idle(csm_user):
    """A CSM's account, quiet for 40 days, with an English and a Norwegian contact."""
    only_rules("inactive")
    only_playbooks("We miss you", "Welcome back")
    account = old_account(owner=csm_user, name="Idle Co")
    add_usage(account, today() - dt.timedelta(days=40), login=3)
    make_contact(account, name="Ann", email="ann@idle.example", locale="en")
    make_contact(account, name="Kari", email="kari@idle.example", locale="nb")
    make_contact(account, name="No Mail", email="")
    return account


def test_tenure_ships_the_seven_plays_with_every_email_in_every_language():
    names = set(Playbook.objects.values_list("name", flat=True))
    assert names == {
        "We miss you",
        "Welcome back",
        "Card expiry reminder",
        "Failed-payment dunning",
        "Detractor follow-up",
        "Win-back offer",
        "Onboarding check-in",
    }
    for playbook in Playbook.objects.prefetch_related("steps__texts"):
        for step in playbook.steps.all():
            if step.kind == StepKind.EMAIL:
                assert {t.language for t in step.texts.all()} == LANGUAGES, step


def test_an_inactive_alert_starts_we_miss_you_a_task_for_the_owner_and_an_email_per_contact(
    idle, csm_user
):
    health_recompute()

    task = Task.objects.get(account=idle)
    assert task.title == "Call Idle Co: no login for a while"
    assert task.owner == csm_user
    assert task.due_on == (timezone.now() + dt.timedelta(days=2)).date()
    emails = PlaybookEmail.objects.filter(account=idle)
    assert sorted(e.contact.email for e in emails) == ["ann@idle.example", "kari@idle.example"]


def test_a_trigger_that_fires_twice_makes_one_task_and_one_email_per_contact(idle):
    health_recompute()
    alert = Alert.objects.get(account=idle)

    playbooks_on_alerts(opened=[alert], cleared=[], now=timezone.now())
    health_recompute()

    assert PlaybookRun.objects.filter(account=idle).count() == 1
    assert Task.objects.filter(account=idle).count() == 1
    assert PlaybookEmail.objects.filter(account=idle).count() == 2


def test_emails_go_in_the_contacts_language_with_a_working_unsubscribe_link(idle):
    health_recompute()

    assert playbook_emails_send_due() == 2

    by_to = {m.to[0]: m for m in mail.outbox}
    assert by_to["ann@idle.example"].subject == "We miss you at Idle Co"
    norwegian = by_to["kari@idle.example"]
    assert norwegian.subject == "Vi savner dere i Idle Co"
    assert norwegian.body.startswith("Hei Kari,")
    assert "Meld deg av:" in norwegian.body
    assert norwegian.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert norwegian.extra_headers["Content-Language"] == "nb"
    titles = [item.title for item in timeline_for(idle)]
    assert titles.count("Email sent: Vi savner dere i Idle Co") == 1
    assert "Task: Call Idle Co: no login for a while" in titles


def test_a_second_send_run_sends_nothing_again(idle):
    health_recompute()
    playbook_emails_send_due()
    playbook_emails_send_due()
    assert len(mail.outbox) == 2


def test_an_unsubscribed_contact_gets_no_playbook_email(idle, client: Client):
    kari = idle.contacts.get(name="Kari")
    url = reverse("playbook-unsubscribe", args=[unsubscribe_token(kari.pk)])

    asked = client.get(url)
    assert asked.status_code == 200 and "kari@idle.example" in asked.text
    assert "Meld deg av e-postene våre" in asked.text  # in her language
    assert not EmailOptOut.objects.exists(), "a GET never unsubscribes"
    done = client.post(url)
    assert "Vi sender deg ikke flere slike e-poster." in done.text
    assert EmailOptOut.objects.filter(contact=kari).exists()

    health_recompute()
    playbook_emails_send_due()

    assert [m.to[0] for m in mail.outbox] == ["ann@idle.example"]
    skipped = PlaybookEmail.objects.get(contact=kari)
    assert (skipped.status, skipped.skip_reason) == ("skipped", "The contact unsubscribed.")


def test_the_one_click_unsubscribe_works_without_a_session_or_csrf_token(idle):
    kari = idle.contacts.get(name="Kari")
    client = Client(enforce_csrf_checks=True)
    url = reverse("playbook-unsubscribe-one-click", args=[unsubscribe_token(kari.pk)])
    assert client.post(url).status_code == 200
    assert EmailOptOut.objects.filter(contact=kari).exists()


def test_a_forged_unsubscribe_token_is_refused(idle, client: Client):
    kari = idle.contacts.get(name="Kari")
    forged = unsubscribe_token(kari.pk)[:-2] + "xx"
    assert client.post(reverse("playbook-unsubscribe", args=[forged])).status_code == 404
    assert client.post(reverse("playbook-unsubscribe-one-click", args=["nope"])).status_code == 404
    assert not EmailOptOut.objects.exists()


def test_a_contact_emailed_a_survey_within_24_hours_gets_the_playbook_email_after_the_floor(idle):
    ann = idle.contacts.get(name="Ann")
    invitation = make_invitation(make_survey(), ann, days_ago=0.25)  # six hours ago
    health_recompute()

    playbook_emails_send_due()

    assert [m.to[0] for m in mail.outbox] == ["kari@idle.example"]
    waiting = PlaybookEmail.objects.get(contact=ann)
    assert waiting.status == "pending"
    assert waiting.send_at == invitation.sent_at + dt.timedelta(hours=24)


def test_a_second_playbook_email_within_24_hours_waits_for_the_floor(idle):
    health_recompute()
    playbook_emails_send_due()
    only_rules("inactive", "card_expiring")
    only_playbooks("We miss you", "Card expiry reminder")
    soon = timezone.now() + dt.timedelta(days=5)
    idle.card_exp_month, idle.card_exp_year = soon.month, soon.year
    idle.save()

    health_recompute()
    playbook_emails_send_due()

    assert len(mail.outbox) == 2
    assert PlaybookEmail.objects.filter(status="pending").count() == 2


def test_an_inactive_account_that_returns_gets_welcome_back(idle):
    health_recompute()
    playbook_emails_send_due()  # we miss you
    add_usage(idle, today(), login=1)

    health_recompute()
    playbook_emails_send_due(now=timezone.now() + dt.timedelta(days=2))

    subjects = {m.subject for m in mail.outbox}
    assert "Welcome back, Idle Co" in subjects
    assert Task.objects.filter(
        account=idle, title="Check in with Idle Co after their return"
    ).exists()


def test_a_churned_account_gets_the_win_back_offer_a_week_later_once(csm_user):
    only_playbooks("Win-back offer")
    churned_at = timezone.now() - dt.timedelta(days=1)
    account = old_account(name="Gone Co", owner=csm_user, churned_at=churned_at)
    make_contact(account, email="boss@gone.example", locale="sv")

    playbooks_sweep()
    playbooks_sweep()

    email = PlaybookEmail.objects.get(account=account)
    assert email.send_at == churned_at + dt.timedelta(days=7)
    assert Task.objects.get(account=account).due_on == (churned_at + dt.timedelta(days=14)).date()
    assert playbook_emails_send_due() == 0  # not yet
    assert playbook_emails_send_due(now=churned_at + dt.timedelta(days=7)) == 1
    assert mail.outbox[0].subject == "Vi vill gärna ha tillbaka Gone Co"


def test_moving_to_onboarding_starts_the_check_in(csm_user):
    only_playbooks("Onboarding check-in")
    account = old_account(name="New Co", owner=csm_user)
    StageChange.objects.create(account=account, from_stage="purchase", to_stage="onboarding")

    playbooks_sweep()

    assert Task.objects.get(account=account).title == "Onboarding check-in call with New Co"


def test_a_contact_without_a_known_language_gets_english(idle):
    only_playbooks("We miss you")
    contact = make_contact(idle, name="Zed", email="zed@idle.example", locale="")
    health_recompute()
    playbook_emails_send_due()
    assert {m.subject for m in mail.outbox if m.to == [contact.email]} == {"We miss you at Idle Co"}


def test_snoozing_does_not_restart_the_play_when_the_alert_wakes(idle, csm_user):
    from health.services import alert_snooze

    health_recompute()
    alert = Alert.objects.get(account=idle)
    alert_snooze(alert_id=alert.pk, until=timezone.now() + dt.timedelta(days=1), user=csm_user)
    Alert.objects.filter(pk=alert.pk).update(snoozed_until=timezone.now())
    alerts_wake()
    health_recompute()
    assert PlaybookRun.objects.filter(account=idle).count() == 1


class TestConcurrentPlays:
    pytestmark = POSTGRES_ONLY

    def test_the_same_alert_starting_its_play_in_four_workers_makes_one_task_and_one_email_each(
        self, csm_user
    ):
        only_rules("inactive")
        only_playbooks("We miss you")
        account = old_account(owner=csm_user)
        make_contact(account, email="one@example.com")
        alert = Alert.objects.create(account=account, kind="inactive", severity="high", reason="x")
        now = timezone.now()

        run_together(
            *[
                lambda i=i: playbooks_on_alerts(
                    opened=[alert], cleared=[], now=now + dt.timedelta(microseconds=i)
                )
                for i in range(4)
            ]
        )

        assert Task.objects.filter(account=account).count() == 1
        assert PlaybookEmail.objects.filter(account=account).count() == 1

    def test_two_senders_at_once_send_each_email_once(self, csm_user):
        only_rules("inactive")
        only_playbooks("We miss you")
        account = old_account(owner=csm_user)
        for n in range(5):
            make_contact(account, email=f"p{n}@example.com")
        alert = Alert.objects.create(account=account, kind="inactive", severity="high", reason="x")
        playbooks_on_alerts(opened=[alert], cleared=[], now=timezone.now())

        sent = run_together(playbook_emails_send_due, playbook_emails_send_due)

        assert sum(sent) == 5
        assert len(mail.outbox) == 5
        assert PlaybookEmail.objects.filter(status="sent").count() == 5


def test_an_account_entering_a_saved_segment_starts_its_play_once(
    csm_user, django_capture_on_commit_callbacks
):
    from customers.models import Segment
    from customers.services import segment_memberships_refresh
    from health.models import PlaybookStep

    Playbook.objects.update(enabled=False)
    segment = Segment.objects.create(
        name="Enterprise", rules=[{"field": "plan", "operator": "equals", "value": "Enterprise"}]
    )
    play = Playbook.objects.create(
        name="Enterprise welcome", trigger="segment_entry", segment=segment
    )
    PlaybookStep.objects.create(
        playbook=play, kind="task", days_after=3, title="Plan QBR with {account}"
    )
    old_account(name="Already Big", plan="Enterprise", owner=csm_user)
    with django_capture_on_commit_callbacks(execute=True):
        segment_memberships_refresh(segment_id=segment.pk)  # the first refresh: recorded only
    grown = old_account(name="Grown Co", plan="Enterprise", owner=csm_user)

    for _ in range(2):
        with django_capture_on_commit_callbacks(execute=True):
            segment_memberships_refresh(segment_id=segment.pk)

    assert list(Task.objects.values_list("account__name", "title")) == [
        ("Grown Co", "Plan QBR with Grown Co")
    ]
    assert Task.objects.get().due_on == (timezone.now() + dt.timedelta(days=3)).date()
    assert PlaybookRun.objects.get().account == grown


def test_a_segment_a_playbook_is_keyed_to_cannot_be_deleted(csm_client):
    from customers.models import Segment

    segment = Segment.objects.create(
        name="Keyed", rules=[{"field": "plan", "operator": "equals", "value": "Pro"}]
    )
    Playbook.objects.create(name="Keyed play", trigger="segment_entry", segment=segment)

    response = csm_client.post(reverse("customers:segment_delete", args=[segment.pk]))

    assert response.status_code == 409
    assert "Keyed play" in response.text
    assert Segment.objects.filter(pk=segment.pk).exists()


def test_a_send_run_reads_the_email_texts_once_whatever_the_number_of_emails(idle):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for n in range(4):
        make_contact(idle, name=f"Extra {n}", email=f"extra{n}@idle.example", locale="sv")
    health_recompute()

    with CaptureQueriesContext(connection) as captured:
        assert playbook_emails_send_due() == 6

    text_reads = [q for q in captured if 'FROM "health_playbookemailtext"' in q["sql"]]
    assert len(text_reads) == 1
