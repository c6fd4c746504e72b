"""Sending surveys: fatigue rules, skip log, campaigns, the send queue, reminders, post-ticket
surveys and the emails themselves (docs/domain/survey-links.md)."""

from __future__ import annotations

import datetime as dt
import re
from email.utils import parseaddr
from io import StringIO
from unittest import mock

import pytest
from django.core import mail
from django.core.management import call_command
from django.utils import timezone

from customers.models import Contact, Ticket
from customers.signals import ticket_closed
from surveys import services, tasks
from surveys.models import Campaign, CampaignRun, Invitation, SendSkip
from surveys.services import campaign_run, invitation_create, invitations_send_due
from surveys.tokens import LinkState, link_resolve
from tests.customers.factories import make_account, make_contact
from tests.surveys.factories import make_link, make_survey

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


def invite(survey, contact, at, **kwargs):
    kwargs.setdefault("trigger", Invitation.Trigger.MANUAL)
    return invitation_create(survey=survey, contact=contact, now=at, **kwargs)


def token_in(text: str) -> str:
    return re.search(r"/s/([A-Za-z0-9_-]{43})/", text).group(1)


# --- fatigue ----------------------------------------------------------------------------------


def test_a_contact_is_not_surveyed_again_within_90_days():
    survey, contact = make_survey(), make_contact()
    first, token, reason = invite(survey, contact, T0)
    assert first is not None and token and reason is None
    again, token, reason = invite(survey, contact, T0 + dt.timedelta(days=89))
    assert (again, token, reason) == (None, None, SendSkip.Reason.FATIGUE)
    skip = SendSkip.objects.get()
    assert (skip.survey, skip.contact, skip.reason) == (survey, contact, "fatigue")
    assert skip.at == T0 + dt.timedelta(days=89)
    assert survey.slug in skip.detail and "2026-03-02" in skip.detail
    assert invite(survey, contact, T0 + dt.timedelta(days=90, seconds=1))[0] is not None


def test_a_survey_can_shorten_its_fatigue_window():
    survey, contact = make_survey(fatigue_days=7), make_contact()
    invite(survey, contact, T0)
    assert invite(survey, contact, T0 + dt.timedelta(days=6))[2] == "fatigue"
    assert invite(survey, contact, T0 + dt.timedelta(days=8))[0] is not None


def test_the_24_hour_floor_holds_across_all_surveys_even_with_no_window():
    nps, csat = make_survey("nps"), make_survey("csat", fatigue_days=0)
    contact = make_contact()
    invite(nps, contact, T0)
    assert invite(csat, contact, T0 + dt.timedelta(hours=23))[2] == "fatigue"
    assert invite(csat, contact, T0 + dt.timedelta(hours=25))[0] is not None
    assert invite(csat, contact, T0 + dt.timedelta(hours=50))[0] is not None  # window 0


def test_a_queued_invitation_counts_for_fatigue_and_a_revoked_one_does_not():
    survey, contact = make_survey(), make_contact()
    queued, _token, _ = invite(survey, contact, T0, trigger=Invitation.Trigger.CAMPAIGN)
    assert queued.sent_at is None
    assert invite(make_survey(), contact, T0 + dt.timedelta(hours=2))[2] == "fatigue"
    Invitation.objects.filter(pk=queued.pk).update(revoked_at=T0)
    assert invite(make_survey(), contact, T0 + dt.timedelta(hours=3))[0] is not None


def test_force_ignores_fatigue_but_never_an_unsubscribe_or_a_missing_email():
    survey, contact = make_survey(), make_contact()
    invite(survey, contact, T0)
    assert invite(survey, contact, T0 + dt.timedelta(minutes=5), force=True)[0] is not None
    contact.do_not_survey = True
    contact.save()
    assert invite(survey, contact, T0, force=True)[2] == "do_not_survey"
    assert invite(survey, make_contact(email=""), T0, force=True)[2] == "no_email"


@pytest.mark.parametrize(
    ("survey_fields", "contact_fields", "reason"),
    [
        ({}, {"email": ""}, "no_email"),
        ({}, {"do_not_survey": True}, "do_not_survey"),
        ({"is_active": False}, {}, "survey_inactive"),
        ({"closes_at": T0 - dt.timedelta(days=1)}, {}, "survey_inactive"),
    ],
)
def test_every_skipped_send_is_logged_with_its_reason(survey_fields, contact_fields, reason):
    survey, contact = make_survey(**survey_fields), make_contact(**contact_fields)
    assert invite(survey, contact, T0)[2] == reason
    assert list(SendSkip.objects.values_list("reason", "contact", "survey")) == [
        (reason, contact.pk, survey.pk)
    ]
    assert Invitation.objects.count() == 0


def test_a_manual_link_is_sent_when_handed_out_and_expires_after_the_survey_expiry():
    survey = make_survey(expiry_days=14)
    invitation, token, _ = invite(survey, make_contact(locale="ru"), T0)
    assert invitation.sent_at == T0
    assert invitation.expires_at == T0 + dt.timedelta(days=14)
    assert invitation.language == "ru"
    assert link_resolve(token, now=T0).invitation == invitation


# --- campaigns --------------------------------------------------------------------------------


def make_campaign(survey=None, **fields) -> Campaign:
    fields.setdefault("starts_at", T0)
    return Campaign.objects.create(survey=survey or make_survey(), name="Spring NPS", **fields)


def audience(count: int, account=None, **fields):
    account = account or make_account()
    return [make_contact(account, **fields) for _ in range(count)]


def test_a_campaign_invites_active_contacts_of_accounts_that_have_not_churned():
    keep = audience(3)
    churned = make_account(churned_at=T0 - dt.timedelta(days=3))
    audience(2, churned)
    no_email = make_contact(email="")
    unsubscribed = make_contact(do_not_survey=True)
    campaign = make_campaign()
    run = campaign_run(campaign_id=campaign.pk, now=T0)
    assert run.invited == 3 and run.skipped == 2
    assert set(Invitation.objects.values_list("contact", flat=True)) == {c.pk for c in keep}
    assert set(SendSkip.objects.values_list("contact", "reason")) == {
        (no_email.pk, "no_email"),
        (unsubscribed.pk, "do_not_survey"),
    }
    invitation = Invitation.objects.first()
    assert (invitation.campaign, invitation.campaign_run, invitation.trigger) == (
        campaign,
        run,
        "campaign",
    )
    assert invitation.sent_at is None  # queued: the send task mails it
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.FINISHED


def test_a_campaign_can_target_chosen_accounts():
    chosen, other = make_account(), make_account()
    picked = audience(2, chosen)
    audience(2, other)
    campaign = make_campaign(audience=Campaign.Audience.ACCOUNTS)
    campaign.accounts.add(chosen)
    campaign_run(campaign_id=campaign.pk, now=T0)
    assert set(Invitation.objects.values_list("contact", flat=True)) == {c.pk for c in picked}


def test_sampling_is_close_to_the_share_and_each_campaign_draws_its_own():
    contacts = audience(400)
    survey = make_survey(fatigue_days=0)
    campaign = make_campaign(survey=survey, sample_percent=25)
    first = campaign_run(campaign_id=campaign.pk, now=T0)
    sampled = set(Invitation.objects.filter(campaign_run=first).values_list("contact", flat=True))
    assert 70 <= len(sampled) <= 130
    assert SendSkip.objects.filter(reason="not_sampled").count() == 400 - len(sampled)
    other = make_campaign(survey=survey, sample_percent=25)
    campaign_run(campaign_id=other.pk, now=T0 + dt.timedelta(days=2))
    other_sample = set(other.invitations.values_list("contact", flat=True))
    assert other_sample != sampled  # a different campaign draws its own sample
    assert len(contacts) == 400


def test_each_run_of_a_sampled_recurring_campaign_asks_a_fresh_half_and_a_retry_the_same():
    audience(200)
    campaign = make_campaign(
        survey=make_survey(fatigue_days=0), sample_percent=50, repeat_every_months=1
    )
    runs, samples, now = [], [], T0
    for _month in range(4):
        run = campaign_run(campaign_id=campaign.pk, now=now)
        runs.append(run)
        samples.append(frozenset(run.invitations.values_list("contact", flat=True)))
        campaign.refresh_from_db()
        now = campaign.next_run_at
    assert [run.run_at.month for run in runs] == [3, 4, 5, 6]
    assert all(60 <= len(sample) <= 140 for sample in samples)
    assert len(set(samples)) == 4  # every run asked a different subset
    assert len(frozenset().union(*samples)) > max(len(sample) for sample in samples)

    # The last run failed and is tried again an hour later (its rows rolled back with it):
    # the retry asks exactly the contacts that run had picked.
    last = runs[-1]
    Invitation.objects.filter(campaign_run=last).delete()
    last.delete()
    Campaign.objects.filter(pk=campaign.pk).update(next_run_at=last.run_at, status="scheduled")
    retry = campaign_run(campaign_id=campaign.pk, now=last.run_at + dt.timedelta(hours=1))
    assert retry.run_at == last.run_at and retry.pk != last.pk
    assert frozenset(retry.invitations.values_list("contact", flat=True)) == samples[-1]


def test_sends_are_spread_evenly_over_the_window():
    audience(100)
    campaign = make_campaign(spread_days=4)
    campaign_run(campaign_id=campaign.pk, now=T0)
    times = sorted(Invitation.objects.values_list("scheduled_for", flat=True))
    assert times[0] == T0
    assert times[-1] < T0 + dt.timedelta(days=4)
    per_day = [
        sum(T0 + dt.timedelta(days=d) <= t < T0 + dt.timedelta(days=d + 1) for t in times)
        for d in range(4)
    ]
    assert per_day == [25, 25, 25, 25]


def test_the_campaign_respects_fatigue_with_one_query_whatever_the_audience_size(
    django_assert_max_num_queries,
):
    survey = make_survey()
    contacts = audience(60)
    for contact in contacts[:10]:
        invite(make_survey(), contact, T0 - dt.timedelta(hours=2))  # another survey, < 24 h
    for contact in contacts[10:15]:
        invite(survey, contact, T0 - dt.timedelta(days=30))  # this survey, < 90 days
    campaign = make_campaign(survey=survey)
    with django_assert_max_num_queries(12):
        run = campaign_run(campaign_id=campaign.pk, now=T0)
    assert run.invited == 45
    assert SendSkip.objects.filter(reason="fatigue").count() == 15


def test_running_a_campaign_twice_invites_nobody_twice():
    audience(5)
    campaign = make_campaign()
    assert campaign_run(campaign_id=campaign.pk, now=T0) is not None
    assert campaign_run(campaign_id=campaign.pk, now=T0) is None
    # A replay that still saw the campaign as due (e.g. a worker that read it before the first
    # run committed) hits the run's unique key.
    Campaign.objects.filter(pk=campaign.pk).update(status="scheduled", next_run_at=None)
    assert campaign_run(campaign_id=campaign.pk, now=T0 + dt.timedelta(minutes=1)) is None
    assert Invitation.objects.count() == 5
    assert CampaignRun.objects.count() == 1


def test_a_campaign_is_not_run_before_its_start_nor_after_cancelling():
    audience(2)
    campaign = make_campaign()
    assert campaign_run(campaign_id=campaign.pk, now=T0 - dt.timedelta(seconds=1)) is None
    assert services.campaigns_due(now=T0 - dt.timedelta(seconds=1)) == []
    assert services.campaigns_due(now=T0) == [campaign.pk]
    Campaign.objects.filter(pk=campaign.pk).update(status="cancelled")
    assert campaign_run(campaign_id=campaign.pk, now=T0) is None
    assert Invitation.objects.count() == 0


def test_a_recurring_campaign_schedules_its_next_run_months_later():
    audience(1)
    start = dt.datetime(2026, 1, 31, 8, tzinfo=dt.UTC)
    campaign = make_campaign(starts_at=start, repeat_every_months=3)
    run = campaign_run(campaign_id=campaign.pk, now=start)
    assert run.run_at == start
    campaign.refresh_from_db()
    assert campaign.status == "scheduled"
    assert campaign.next_run_at == dt.datetime(2026, 4, 30, 8, tzinfo=dt.UTC)
    # After a long outage, missed runs are skipped rather than sent in a burst.
    campaign_run(campaign_id=campaign.pk, now=dt.datetime(2026, 12, 1, tzinfo=dt.UTC))
    campaign.refresh_from_db()
    assert campaign.next_run_at == dt.datetime(2027, 1, 30, 8, tzinfo=dt.UTC)


def test_the_due_campaigns_task_runs_every_due_campaign():
    audience(3)
    due = make_campaign(starts_at=timezone.now() - dt.timedelta(minutes=5))
    make_campaign(starts_at=timezone.now() + dt.timedelta(days=1))
    assert tasks.run_due_campaigns() == 1
    assert set(Invitation.objects.values_list("campaign", flat=True)) == {due.pk}


# --- the send queue and the email -------------------------------------------------------------


def test_due_invitations_are_sent_once_with_a_fresh_token():
    contacts = audience(3)
    survey = make_survey(expiry_days=30)
    campaign = make_campaign(survey=survey, spread_days=3)
    campaign_run(campaign_id=campaign.pk, now=T0)
    hashes = dict(Invitation.objects.values_list("pk", "token_hash"))
    now = T0 + dt.timedelta(days=1, hours=1)
    assert invitations_send_due(now=now) == 2  # the third is scheduled for day 2
    assert invitations_send_due(now=now) == 0
    assert len(mail.outbox) == 2
    for invitation in Invitation.objects.exclude(sent_at=None):
        assert invitation.sent_at == now
        assert invitation.expires_at == now + dt.timedelta(days=30)
        assert invitation.token_hash != hashes[invitation.pk]
    for message in mail.outbox:
        link = link_resolve(token_in(message.body), now=now)
        assert link.state is LinkState.VALID
        assert parseaddr(message.to[0])[1] == link.invitation.contact.email
    assert invitations_send_due(now=T0 + dt.timedelta(days=5)) == 1
    assert {m.to[0] for m in mail.outbox} == {c.email for c in contacts}


def test_the_email_is_multipart_localized_with_one_tap_score_links(settings):
    settings.SITE_URL = "https://tenure.example.com"
    contact = make_contact(locale="nb", name="Kari Nordmann")
    invitation, _token, _ = invite(
        make_survey("nps"), contact, timezone.now(), trigger=Invitation.Trigger.CAMPAIGN
    )
    assert services.invitation_send(invitation_id=invitation.pk) is True
    message = mail.outbox[0]
    assert message.subject == "Ett raskt spørsmål: vil du anbefale oss?"
    assert "Hei Kari Nordmann," in message.body
    html, mimetype = message.alternatives[0]
    assert mimetype == "text/html"
    token = token_in(message.body)
    links = re.findall(r'href="([^"]+\?score=\d+)"', html)
    assert links == [f"https://tenure.example.com/s/{token}/?score={n}" for n in range(11)]
    assert 'role="presentation"' in html and "<script" not in html
    assert "Svært lite sannsynlig" in html and "Meld deg av undersøkelser" in html
    assert f"https://tenure.example.com/s/{token}/unsubscribe/" in html
    assert message.extra_headers["List-Unsubscribe"] == (
        f"<https://tenure.example.com/s/{token}/unsubscribe/one-click/>"
    )
    assert message.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_a_contact_without_a_language_is_emailed_in_english_and_the_page_follows_the_browser(
    client,
):
    now = timezone.now()
    unknown, norwegian = make_contact(), make_contact(locale="nb")
    assert unknown.locale == ""
    campaign_run(campaign_id=make_campaign(starts_at=now).pk, now=now)
    assert dict(Invitation.objects.values_list("contact", "language")) == {
        unknown.pk: "",
        norwegian.pk: "nb",
    }
    assert invitations_send_due(now=now) == 2
    by_recipient = {message.to[0]: message for message in mail.outbox}
    english = by_recipient[unknown.email]
    assert english.subject == "One quick question: would you recommend us?"
    assert english.extra_headers["Content-Language"] == "en"
    assert "How likely are you to recommend us" in english.alternatives[0][0]
    assert by_recipient[norwegian.email].subject == "Ett raskt spørsmål: vil du anbefale oss?"
    token = token_in(english.body)
    page = client.get(f"/s/{token}/", HTTP_ACCEPT_LANGUAGE="sv").content.decode()
    assert '<html lang="sv">' in page
    assert "Hur troligt är det att du skulle rekommendera oss" in page
    # A manual link knows no more than the contact does.
    link, _token, _ = invite(make_survey("csat"), make_contact(), now - dt.timedelta(days=2))
    assert link.language == ""


def test_a_cli_or_csi_email_has_one_answer_button():
    invitation, _token, _ = invite(
        make_survey("csi"), make_contact(), timezone.now(), trigger=Invitation.Trigger.CAMPAIGN
    )
    services.invitation_send(invitation_id=invitation.pk)
    html = mail.outbox[0].alternatives[0][0]
    assert "?score=" not in html
    assert "Answer the survey" in html


def test_a_contact_who_unsubscribed_while_queued_is_skipped_and_not_retried():
    contact = make_contact()
    invitation, _token, _ = invite(make_survey(), contact, T0, trigger=Invitation.Trigger.CAMPAIGN)
    contact.do_not_survey = True
    contact.save()
    assert invitations_send_due(now=T0) == 0
    invitation.refresh_from_db()
    assert invitation.revoked_at == T0 and invitation.sent_at is None
    assert list(SendSkip.objects.values_list("reason", flat=True)) == ["do_not_survey"]
    invitations_send_due(now=T0 + dt.timedelta(hours=1))
    assert SendSkip.objects.count() == 1
    assert mail.outbox == []


def test_a_failed_send_leaves_the_invitation_queued_for_the_next_run():
    invitation, _token, _ = invite(
        make_survey(), make_contact(), T0, trigger=Invitation.Trigger.CAMPAIGN
    )
    before = Invitation.objects.values("token_hash", "sent_at").get(pk=invitation.pk)
    with (
        mock.patch(
            "django.core.mail.backends.locmem.EmailBackend.send_messages",
            side_effect=ConnectionError("smtp down"),
        ),
        pytest.raises(ConnectionError),
    ):
        invitations_send_due(now=T0)
    assert Invitation.objects.values("token_hash", "sent_at").get(pk=invitation.pk) == before
    assert invitations_send_due(now=T0 + dt.timedelta(minutes=1)) == 1


def test_tasks_retry_only_named_transient_errors():
    import smtplib

    from django.db import OperationalError

    for task in (tasks.send_due_invitations, tasks.send_reminders, tasks.send_ticket_surveys):
        assert set(task.autoretry_for) == {
            smtplib.SMTPServerDisconnected,
            ConnectionError,
            OperationalError,
        }
        assert task.acks_late and task.retry_jitter and task.retry_backoff


def test_the_beat_schedule_runs_the_survey_tasks_with_an_expiry():
    from config.celery import app

    by_task = {entry["task"]: entry for entry in app.conf.beat_schedule.values()}
    for name in (
        "surveys.tasks.send_due_invitations",
        "surveys.tasks.run_due_campaigns",
        "surveys.tasks.send_reminders",
    ):
        assert 0 < by_task[name]["options"]["expires"] <= by_task[name]["schedule"]


# --- reminders --------------------------------------------------------------------------------


def test_one_reminder_goes_to_non_responders_and_both_links_work(client):
    survey = make_survey(reminder_after_days=5)
    waiting, first_token = make_link(survey, sent_days_ago=6)
    _answered, answered_token = make_link(survey, sent_days_ago=6)
    client.post(f"/s/{answered_token}/", {"step": "score", "score": "8"})
    make_link(survey, sent_days_ago=4)  # too early
    assert services.invitations_remind_due() == 1
    assert services.invitations_remind_due() == 0
    assert tasks.send_reminders() == 0
    (message,) = mail.outbox
    assert message.subject.startswith("Reminder: ")
    assert message.to == [waiting.contact.email]
    assert "A few days ago we asked for your opinion" in message.body
    second_token = token_in(message.body)
    assert second_token != first_token
    assert link_resolve(first_token).invitation == waiting
    assert link_resolve(second_token).invitation == waiting
    waiting.refresh_from_db()
    assert waiting.reminded_at is not None


def test_a_reminder_waits_out_the_24_hour_floor_after_another_surveys_email():
    nps, csat = make_survey("nps", reminder_after_days=5), make_survey("csat", fatigue_days=0)
    waiting, _token = make_link(nps, sent_days_ago=5.1)
    make_link(csat, waiting.contact, sent_days_ago=0.5)  # a ticket's CSAT went out 12 h ago

    assert services.invitations_remind_due() == 0
    assert mail.outbox == []
    waiting.refresh_from_db()
    assert (waiting.reminded_at, waiting.reminder_withheld_at) == (None, None)  # deferred
    assert SendSkip.objects.count() == 0

    thirteen_hours_later = timezone.now() + dt.timedelta(hours=13)
    assert services.invitations_remind_due(now=thirteen_hours_later) == 1
    assert [message.to for message in mail.outbox] == [[waiting.contact.email]]


def test_two_reminders_to_one_contact_go_a_day_apart():
    nps, ces = make_survey("nps", reminder_after_days=5), make_survey("ces", reminder_after_days=5)
    contact = make_contact()
    make_link(nps, contact, sent_days_ago=7)
    make_link(ces, contact, sent_days_ago=6)

    assert services.invitations_remind_due() == 1
    assert services.invitations_remind_due(now=timezone.now() + dt.timedelta(hours=23)) == 0
    assert services.invitations_remind_due(now=timezone.now() + dt.timedelta(hours=25)) == 1
    assert len(mail.outbox) == 2


def test_a_reminder_counts_toward_the_floor_for_a_new_invitation():
    nps, csat = make_survey("nps", reminder_after_days=5), make_survey("csat", fatigue_days=0)
    invitation, _token = make_link(nps, sent_days_ago=6)
    assert services.invitations_remind_due() == 1

    _, _, reason = invite(csat, invitation.contact, timezone.now() + dt.timedelta(hours=2))
    assert reason == SendSkip.Reason.FATIGUE
    assert invite(csat, invitation.contact, timezone.now() + dt.timedelta(hours=25))[0]


@pytest.mark.parametrize(
    "case", ["reminders off", "expired", "unsubscribed", "survey closed", "revoked"]
)
def test_no_reminder_when_it_should_not_go(case):
    survey = make_survey(reminder_after_days=0 if case == "reminders off" else 5)
    invitation, _token = make_link(survey, sent_days_ago=61 if case == "expired" else 6)
    if case == "unsubscribed":
        invitation.contact.do_not_survey = True
        invitation.contact.save()
    if case == "survey closed":
        survey.closes_at = timezone.now() - dt.timedelta(hours=1)
        survey.save()
    if case == "revoked":
        Invitation.objects.filter(pk=invitation.pk).update(revoked_at=timezone.now())
    assert services.invitations_remind_due() == 0
    assert mail.outbox == []


def test_a_test_link_made_by_survey_link_never_gets_a_reminder():
    survey = make_survey(slug="nps", reminder_after_days=5)
    make_contact(email="kari@example.com")
    call_command(
        "survey_link", "--survey", "nps", "--contact", "kari@example.com", stdout=StringIO()
    )
    test_link = Invitation.objects.get()
    assert test_link.trigger == Invitation.Trigger.MANUAL
    emailed, _token = make_link(survey, trigger=Invitation.Trigger.CAMPAIGN)
    six_days_later = timezone.now() + dt.timedelta(days=6)
    assert services.invitations_remind_due(now=six_days_later) == 1
    assert [message.to for message in mail.outbox] == [[emailed.contact.email]]
    test_link.refresh_from_db()
    assert test_link.reminded_at is None
    assert SendSkip.objects.count() == 0  # by design, not a withheld reminder


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("contact unsubscribed", "do_not_survey"),
        ("contact lost their email", "no_email"),
        ("survey closed", "survey_inactive"),
        ("survey paused", "survey_inactive"),
    ],
)
def test_a_withheld_reminder_is_logged_once_with_its_reason_and_never_sent_later(case, reason):
    survey = make_survey(reminder_after_days=5)
    campaign = make_campaign(survey=survey)
    invitation, _token = make_link(survey, sent_days_ago=6, campaign=campaign)
    contact = invitation.contact
    if case == "contact unsubscribed":
        contact.do_not_survey = True
        contact.save()
    if case == "contact lost their email":
        contact.email = ""
        contact.save()
    if case == "survey closed":
        survey.closes_at = timezone.now() - dt.timedelta(hours=1)
        survey.save()
    if case == "survey paused":
        survey.is_active = False
        survey.save()
    assert services.invitations_remind_due() == 0
    skip = SendSkip.objects.get()
    assert (skip.reason, skip.survey, skip.contact, skip.campaign) == (
        reason,
        survey,
        contact,
        campaign,
    )
    assert skip.detail == f"reminder of the {invitation.sent_at:%Y-%m-%d %H:%M} UTC email"
    invitation.refresh_from_db()
    assert invitation.reminder_withheld_at == skip.at and invitation.reminded_at is None
    # Later runs do not consider it again: no second log row, and no reminder once the
    # reason has gone away either (a skipped send is not retried).
    assert services.invitations_remind_due() == 0
    Contact.objects.filter(pk=contact.pk).update(do_not_survey=False, email="back@example.com")
    survey.closes_at, survey.is_active = None, True
    survey.save()
    assert services.invitations_remind_due() == 0
    assert SendSkip.objects.count() == 1
    assert mail.outbox == []


def test_a_reminder_is_withheld_only_once_it_is_due():
    survey = make_survey(reminder_after_days=5)
    invitation, _token = make_link(survey, sent_days_ago=4)
    Contact.objects.filter(pk=invitation.contact_id).update(do_not_survey=True)
    assert services.invitations_remind_due() == 0
    assert SendSkip.objects.count() == 0
    assert services.invitations_remind_due(now=timezone.now() + dt.timedelta(days=2)) == 0
    assert SendSkip.objects.get().reason == "do_not_survey"


def test_withholding_reminders_takes_the_same_queries_for_1_or_30(django_assert_num_queries):
    def withhold_for(count: int) -> None:
        survey = make_survey(reminder_after_days=5, closes_at=timezone.now())
        for _ in range(count):
            make_link(survey, sent_days_ago=6)
        with django_assert_num_queries(5):  # select, savepoint, log, mark, release
            assert services.reminders_withhold(survey=survey) == count

    withhold_for(1)
    withhold_for(30)
    assert SendSkip.objects.count() == 31


# --- after a ticket closes --------------------------------------------------------------------


def close_ticket(account, contact=None) -> Ticket:
    now = timezone.now()
    return Ticket.objects.create(
        account=account,
        contact=contact,
        external_id=f"T-{account.pk}-{contact.pk if contact else 0}",
        subject="Export fails",
        status="closed",
        opened_at=now - dt.timedelta(hours=3),
        closed_at=now,
    )


def test_a_closed_ticket_sends_the_transactional_survey_once_even_when_replayed(
    django_capture_on_commit_callbacks,
):
    csat = make_survey("csat", send_after_ticket_close=True, fatigue_days=0)
    make_survey("nps")  # not transactional
    contact = make_contact(locale="sv")
    ticket = close_ticket(contact.account, contact)
    with django_capture_on_commit_callbacks(execute=True):
        ticket_closed.send(sender=Ticket, ticket_id=ticket.pk)
    invitation = Invitation.objects.get()
    assert (invitation.survey, invitation.ticket, invitation.trigger) == (csat, ticket, "ticket")
    assert invitation.sent_at is not None
    assert len(mail.outbox) == 1 and mail.outbox[0].subject == "Hur gick det?"
    with django_capture_on_commit_callbacks(execute=True):
        ticket_closed.send(sender=Ticket, ticket_id=ticket.pk)
    assert Invitation.objects.count() == 1 and len(mail.outbox) == 1
    assert list(SendSkip.objects.values_list("reason", flat=True)) == ["duplicate"]


def test_only_csat_and_csi_surveys_follow_a_closed_ticket_even_if_an_old_row_says_otherwise(
    django_capture_on_commit_callbacks,
):
    make_survey("nps", send_after_ticket_close=True)  # written before the admin refused it
    csi = make_survey("csi", send_after_ticket_close=True, fatigue_days=0)
    contact = make_contact()
    with django_capture_on_commit_callbacks(execute=True):
        ticket_closed.send(sender=Ticket, ticket_id=close_ticket(contact.account, contact).pk)
    assert list(Invitation.objects.values_list("survey", flat=True)) == [csi.pk]


def test_a_ticket_without_a_contact_surveys_the_accounts_first_contact_with_an_email(
    django_capture_on_commit_callbacks,
):
    make_survey("csat", send_after_ticket_close=True)
    account = make_account()
    make_contact(account, email="")
    first_with_email = make_contact(account)
    make_contact(account)
    with django_capture_on_commit_callbacks(execute=True):
        ticket_closed.send(sender=Ticket, ticket_id=close_ticket(account).pk)
    assert Invitation.objects.get().contact == first_with_email


def test_a_closed_ticket_with_nobody_to_ask_is_logged_as_a_skip(
    django_capture_on_commit_callbacks,
):
    csat = make_survey("csat", send_after_ticket_close=True)
    account = make_account()
    make_contact(account, email="")
    ticket = close_ticket(account)
    with django_capture_on_commit_callbacks(execute=True):
        ticket_closed.send(sender=Ticket, ticket_id=ticket.pk)
    skip = SendSkip.objects.get()
    assert (skip.survey, skip.contact, skip.reason) == (csat, None, "no_contact")
    assert skip.detail == f"ticket {ticket.external_id}: its account has no contact with an email"
    assert Invitation.objects.count() == 0 and mail.outbox == []


def test_a_ticket_that_is_gone_is_ignored():
    make_survey("csat", send_after_ticket_close=True)
    assert tasks.send_ticket_surveys(ticket_id=987654) == 0
    assert Invitation.objects.count() == 0
