"""Writes for surveys: invitations (with the fatigue rules), sending, and answers.

Keyword-only ``<noun>_<verb>`` functions. The rules they enforce are in DESIGN.md §3; the
reasons a send did not happen are written to ``SendSkip`` so admins can see them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import logging
import re
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import get_connection
from django.db import IntegrityError, connection, transaction
from django.db.models import Exists, OuterRef, Q
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from core import db
from core.parsing import ascii_int
from customers.models import Contact, Ticket
from surveys import metrics
from surveys.models import (
    SCALES,
    TICKET_SURVEY_KINDS,
    Campaign,
    CampaignRun,
    FollowUp,
    Invitation,
    Response,
    ResponseEdit,
    SendSkip,
    Survey,
    SurveyKind,
    Tag,
)
from surveys.signals import response_saved
from surveys.texts import LANGUAGES, item_keys
from surveys.tokens import token_hash, token_is_well_formed, token_new

logger = logging.getLogger(__name__)

DEFAULT_FATIGUE_DAYS = 90
# No contact gets two survey emails within a day, whatever the surveys' own settings.
FATIGUE_FLOOR = dt.timedelta(hours=24)
COMMENT_MAX_LENGTH = 5000
SEND_BATCH_SIZE = 100

# --- invitations ------------------------------------------------------------------------


def fatigue_days(survey: Survey) -> int:
    return DEFAULT_FATIGUE_DAYS if survey.fatigue_days is None else survey.fatigue_days


def _recent_invitations(*, survey: Survey, now: dt.datetime):
    """Invitations that make a contact "recently surveyed" as of ``now``: of this survey within
    its fatigue window, or of any survey within the 24-hour floor. Queued ones count from when
    they are scheduled, so two queued campaigns cannot land on the same day either."""
    return (
        Invitation.objects.filter(revoked_at__isnull=True)
        .annotate(effective_at=Coalesce("sent_at", "scheduled_for"))
        .filter(
            Q(survey=survey, effective_at__gt=now - dt.timedelta(days=fatigue_days(survey)))
            | Q(effective_at__gt=now - FATIGUE_FLOOR)
            | Q(reminded_at__gt=now - FATIGUE_FLOOR)  # a reminder is a survey email too
        )
    )


def _emailed_within_floor(now: dt.datetime) -> Exists:
    """The invitation's contact got a survey email (an invitation or a reminder) within the
    24-hour floor: its reminder waits for the next run after the floor, rather than landing
    beside another survey's email."""
    return Exists(
        Invitation.objects.filter(contact_id=OuterRef("contact_id")).filter(
            Q(sent_at__gt=now - FATIGUE_FLOOR) | Q(reminded_at__gt=now - FATIGUE_FLOOR)
        )
    )


def _skip_log(
    *,
    survey: Survey,
    contact: Contact | None,
    reason: str,
    now,
    campaign: Campaign | None = None,
    campaign_id: int | None = None,
    detail: str = "",
) -> SendSkip:
    return SendSkip.objects.create(
        survey=survey,
        contact=contact,
        campaign_id=campaign.pk if campaign is not None else campaign_id,
        reason=reason,
        detail=_skip_detail(detail),
        at=now,
    )


def _skip_detail(detail: str) -> str:
    """Details quote outside ids (ticket ids up to 255 characters): PostgreSQL refuses a value
    longer than the column, and a log line must never fail the send it explains."""
    limit = SendSkip._meta.get_field("detail").max_length
    return detail if len(detail) <= limit else detail[: limit - 1] + "…"


def _skip_reason(
    *, survey: Survey, contact: Contact, ticket: Ticket | None, force: bool, now
) -> tuple[str | None, str]:
    if not survey.is_active or not survey.is_open(now):
        return SendSkip.Reason.SURVEY_INACTIVE, ""
    if not contact.email:
        return SendSkip.Reason.NO_EMAIL, ""
    if contact.do_not_survey:
        return SendSkip.Reason.DO_NOT_SURVEY, ""
    if ticket is not None and Invitation.objects.filter(survey=survey, ticket=ticket).exists():
        return SendSkip.Reason.DUPLICATE, f"ticket {ticket.external_id}"
    if force:
        return None, ""
    recent = (
        _recent_invitations(survey=survey, now=now)
        .filter(contact=contact)
        .select_related("survey")
        .order_by("-effective_at")
        .first()
    )
    if recent is not None:
        return (
            SendSkip.Reason.FATIGUE,
            f"{recent.survey.slug} invitation of {recent.effective_at:%Y-%m-%d %H:%M} UTC",
        )
    return None, ""


def invitation_create(
    *,
    survey: Survey,
    contact: Contact,
    trigger: str,
    campaign: Campaign | None = None,
    ticket: Ticket | None = None,
    force: bool = False,
    now: dt.datetime | None = None,
) -> tuple[Invitation | None, str | None, str | None]:
    """Invite one contact, unless a rule says not to; then log why and return the reason.

    Returns ``(invitation, token, None)`` or ``(None, None, skip_reason)``. ``force`` (the
    admin's test link) ignores the fatigue rules, never an unsubscribe. A manual link counts as
    sent the moment it is handed out; other invitations are queued and get their emailed token
    when ``invitation_send`` sends them.
    """
    now = now or timezone.now()
    reason, detail = _skip_reason(
        survey=survey, contact=contact, ticket=ticket, force=force, now=now
    )
    if reason is not None:
        _skip_log(
            survey=survey, contact=contact, campaign=campaign, reason=reason, detail=detail, now=now
        )
        return None, None, reason
    token, digest = token_new()
    handed_out = trigger == Invitation.Trigger.MANUAL
    try:
        with transaction.atomic():
            invitation = Invitation.objects.create(
                survey=survey,
                contact=contact,
                campaign=campaign,
                ticket=ticket,
                trigger=trigger,
                token_hash=digest,
                language=_language_of(contact.locale),
                scheduled_for=now,
                sent_at=now if handed_out else None,
                expires_at=now + dt.timedelta(days=survey.expiry_days) if handed_out else None,
                created_at=now,
            )
    except IntegrityError:
        # A concurrent replay of the same ticket close won the race.
        reason = SendSkip.Reason.DUPLICATE
        _skip_log(survey=survey, contact=contact, campaign=campaign, reason=reason, now=now)
        return None, None, reason
    return invitation, token, None


def _language_of(locale: str) -> str:
    """The contact's language, or "" when we do not know it: then the respondent's page
    follows their browser (DESIGN.md §3) rather than a language we guessed for them."""
    return locale if locale in LANGUAGES else ""


def invitations_create_for_ticket(*, ticket_id: int, now: dt.datetime | None = None) -> list[int]:
    """Queue the transactional surveys that follow a closed ticket; returns invitation ids.

    The (survey, ticket) constraint makes a replayed close a logged duplicate, not a second
    email. A ticket with nobody to ask (no contact, and none with an email on its account) is
    logged as a skip per survey, so an admin can see why it got no survey.
    """
    now = now or timezone.now()
    ticket = Ticket.objects.select_related("contact").filter(pk=ticket_id).first()
    if ticket is None or ticket.closed_at is None:
        return []
    contact = ticket.contact
    if contact is None or not contact.email:
        fallback = (
            Contact.objects.filter(account_id=ticket.account_id)
            .exclude(email="")
            .order_by("id")
            .first()
        )
        contact = fallback or contact
    created = []
    surveys = Survey.objects.filter(
        is_active=True,
        send_after_ticket_close=True,
        kind__in=TICKET_SURVEY_KINDS,  # Survey.clean refuses others; older rows may not
    ).order_by("id")
    for survey in surveys:
        if contact is None:
            _skip_log(
                survey=survey,
                contact=None,
                reason=SendSkip.Reason.NO_CONTACT,
                detail=f"ticket {ticket.external_id}: its account has no contact with an email",
                now=now,
            )
            continue
        invitation, _token, _reason = invitation_create(
            survey=survey,
            contact=contact,
            trigger=Invitation.Trigger.TICKET,
            ticket=ticket,
            now=now,
        )
        if invitation is not None:
            created.append(invitation.pk)
    return created


def _in_sample(
    *, campaign_id: int, run_at: dt.datetime, contact_id: int, percent: int
) -> tuple[bool, int]:
    """Deterministic sampling keyed on the run: each run of a recurring campaign draws its own
    sample (so a sampled campaign does not ask the same people every time and never the
    others), while a retried run — same campaign, same scheduled time — picks the same
    contacts. The run's scheduled time is its key rather than its row id, which a rolled-back
    attempt would not keep."""
    run_key = run_at.astimezone(dt.UTC).isoformat()
    digest = hashlib.sha256(f"{campaign_id}:{run_key}:{contact_id}".encode()).digest()
    value = int.from_bytes(digest[:8], "big")
    return value % 10_000 < percent * 100, value


def add_months(moment: dt.datetime, months: int) -> dt.datetime:
    month_index = moment.month - 1 + months
    year, month = moment.year + month_index // 12, month_index % 12 + 1
    for day in (moment.day, 30, 29, 28):
        try:
            return moment.replace(year=year, month=month, day=day)
        except ValueError:
            continue
    raise AssertionError("unreachable: every month has 28 days")


def campaigns_due(*, now: dt.datetime) -> list[int]:
    return list(
        Campaign.objects.filter(status=Campaign.Status.SCHEDULED, survey__is_active=True)
        .annotate(due_at=Coalesce("next_run_at", "starts_at"))
        .filter(due_at__lte=now)
        .order_by("due_at")
        .values_list("pk", flat=True)
    )


def campaign_run(*, campaign_id: int, now: dt.datetime | None = None) -> CampaignRun | None:
    """Invite a campaign's audience for its current scheduled run, set-based.

    A handful of queries whatever the audience size: one for the audience, one for who was
    surveyed recently, bulk inserts for invitations and skips. The run's (campaign, run_at)
    key and the campaign row lock make a replay invite nobody twice. Returns None when nothing
    was due (or the run had already happened).
    """
    now = now or timezone.now()
    with transaction.atomic():
        campaign = (
            Campaign.objects.select_for_update(of=("self",))
            .select_related("survey")
            .filter(pk=campaign_id)
            .first()
        )
        if campaign is None or campaign.status != Campaign.Status.SCHEDULED:
            return None
        run_at = campaign.next_run_at or campaign.starts_at
        survey = campaign.survey
        if run_at > now or not survey.is_active:
            return None
        if not survey.is_open(now):
            campaign.status = Campaign.Status.FINISHED
            campaign.save(update_fields=["status"])
            return None
        try:
            with transaction.atomic():
                run = CampaignRun.objects.create(campaign=campaign, run_at=run_at, started_at=now)
        except IntegrityError:
            return None

        audience = Contact.objects.filter(account__churned_at__isnull=True)
        if campaign.audience == Campaign.Audience.ACCOUNTS:
            audience = audience.filter(account__in=campaign.accounts.values("pk"))
        recently_surveyed = set(
            _recent_invitations(survey=survey, now=now)
            .filter(contact__in=audience.values("pk"))
            .order_by()  # the model's ordering would make DISTINCT per (contact, created_at)
            .values_list("contact_id", flat=True)
            .distinct()
        )
        invited: list[tuple[int, int, str]] = []
        skips: list[SendSkip] = []

        def skip(contact_id: int, reason: str) -> None:
            skips.append(
                SendSkip(
                    survey=survey, contact_id=contact_id, campaign=campaign, reason=reason, at=now
                )
            )

        for contact_id, email, do_not_survey, locale in audience.order_by("pk").values_list(
            "pk", "email", "do_not_survey", "locale"
        ):
            if not email:
                skip(contact_id, SendSkip.Reason.NO_EMAIL)
                continue
            if do_not_survey:
                skip(contact_id, SendSkip.Reason.DO_NOT_SURVEY)
                continue
            sampled, order = _in_sample(
                campaign_id=campaign.pk,
                run_at=run_at,
                contact_id=contact_id,
                percent=campaign.sample_percent,
            )
            if not sampled:
                skip(contact_id, SendSkip.Reason.NOT_SAMPLED)
                continue
            if contact_id in recently_surveyed:
                skip(contact_id, SendSkip.Reason.FATIGUE)
                continue
            invited.append((order, contact_id, _language_of(locale)))

        # Spread evenly over the window, in the sample's pseudo-random order, so the first
        # day's sends are not all from the accounts created first.
        invited.sort()
        window = dt.timedelta(days=campaign.spread_days)
        count = len(invited)
        Invitation.objects.bulk_create(
            [
                Invitation(
                    survey=survey,
                    contact_id=contact_id,
                    campaign=campaign,
                    campaign_run=run,
                    trigger=Invitation.Trigger.CAMPAIGN,
                    token_hash=token_new()[1],
                    language=language,
                    scheduled_for=now + window * index / count,
                    created_at=now,
                )
                for index, (_order, contact_id, language) in enumerate(invited)
            ],
            batch_size=1000,
        )
        SendSkip.objects.bulk_create(skips, batch_size=1000)

        run.invited, run.skipped = count, len(skips)
        run.save(update_fields=["invited", "skipped"])
        if campaign.repeat_every_months:
            next_run = add_months(run_at, campaign.repeat_every_months)
            while next_run <= now:  # a long outage skips missed runs rather than bunching them
                next_run = add_months(next_run, campaign.repeat_every_months)
            campaign.next_run_at = next_run
        else:
            campaign.status = Campaign.Status.FINISHED
        campaign.save(update_fields=["next_run_at", "status"])
        return run


def invitations_revoke(*, invitations, now=None) -> int:
    """Kill links: a revoked token gets the same 404 as one that never existed."""
    now = now or timezone.now()
    return invitations.filter(revoked_at__isnull=True).update(revoked_at=now)


def survey_texts_fill_defaults(*, survey: Survey) -> int:
    """Give a survey an editable ``SurveyText`` row per language, starting from the built-in
    texts; rows that exist are left alone. Returns how many were created."""
    from surveys.defaults import default_texts_for
    from surveys.models import SurveyText

    existing = set(survey.texts.values_list("language", flat=True))
    rows = [
        SurveyText(survey=survey, language=language, **default_texts_for(survey.kind, language))
        for language in LANGUAGES
        if language not in existing
    ]
    SurveyText.objects.bulk_create(rows, ignore_conflicts=True)
    return len(rows)


# --- sending ------------------------------------------------------------------------------


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
    _skip_log(
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
        & ~Q(_emailed_within_floor(now))
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

    DESIGN.md §3: a skipped send is logged with its reason, not retried. One ``SendSkip`` per
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
    """Permanent do-not-survey for the invitation's contact (DESIGN.md §3)."""
    now = now or timezone.now()
    Contact.objects.filter(pk=invitation.contact_id).update(do_not_survey=True, updated_at=now)


# --- responses ----------------------------------------------------------------------------


class LinkGone(Exception):
    """The link stopped being valid between showing the page and saving (revoked/expired)."""

    def __init__(self, expired: bool):
        super().__init__("expired" if expired else "unknown")
        self.expired = expired


class SurveyClosed(Exception):
    """The survey no longer takes answers or edits."""


@dataclass(frozen=True)
class Answer:
    """A parsed submission. ``None`` means "not part of this form": the two-step page sends the
    score first and the comment later."""

    score: int | None = None
    answers: dict | None = None
    comment: str | None = None


def _parse_int(raw, low: int, high: int) -> int | None:
    value = ascii_int(raw)  # ASCII digits only: int() takes "١" and "1_0", isdigit() "²"
    return value if value is not None and low <= value <= high else None


def answer_parse(*, survey: Survey, data, with_score: bool, with_comment: bool) -> Answer:
    """Validate a respondent's form. Raises ``ValidationError`` with a message per field, in
    the active language."""
    low, high = SCALES[survey.kind]
    errors: dict[str, str] = {}
    score = answers = comment = None
    if with_score:
        if survey.kind in (SurveyKind.NPS, SurveyKind.CSAT, SurveyKind.CES):
            score = _parse_int(data.get("score"), low, high)
            if score is None:
                errors["score"] = _("Please choose a score from %(low)s to %(high)s.") % {
                    "low": low,
                    "high": high,
                }
            answers = {}
        elif survey.kind == SurveyKind.CLI:
            answers = {}
            for key in item_keys(survey):
                value = _parse_int(data.get(f"item-{key}"), low, high)
                if value is None:
                    errors[f"item-{key}"] = _(
                        "Please answer this question with a score from %(low)s to %(high)s."
                    ) % {"low": low, "high": high}
                answers[key] = value
        else:
            answers = {}
            for key in item_keys(survey):
                pair = {}
                for part in ("importance", "satisfaction"):
                    value = _parse_int(data.get(f"{part}-{key}"), low, high)
                    if value is None:
                        errors[f"{part}-{key}"] = _("Please rate from %(low)s to %(high)s.") % {
                            "low": low,
                            "high": high,
                        }
                    pair[part] = value
                answers[key] = pair
    if with_comment:
        comment = str(data.get("comment", "")).replace("\x00", "").strip()
        if len(comment) > COMMENT_MAX_LENGTH:
            errors["comment"] = _("Your comment is too long: at most %(max)s characters.") % {
                "max": COMMENT_MAX_LENGTH
            }
    if errors:
        raise ValidationError(errors)
    return Answer(score=score, answers=answers, comment=comment)


@dataclass(frozen=True)
class Submitted:
    response_id: int
    created: bool
    ask_follow_up: bool
    language: str


class NoAnswerYet(Exception):
    """A comment arrived for a link that has no answer to attach it to."""


class _SubmitRace(Exception):
    """Another submit through the same link committed while we waited for its lock."""


@dataclass(frozen=True)
class _Link:
    invitation_id: int
    token_hash: str
    reminder_token_hash: str | None
    revoked: bool
    expired: bool
    language: str
    contact_id: int
    account_id: int
    survey_id: int
    kind: str
    is_active: bool
    closed: bool
    ask_follow_up: bool
    csi_criteria: list
    response_id: int | None


def _link_for_submit(*, digest: str, now: dt.datetime) -> _Link | None:
    """Find and lock a link with everything the submit needs, in one statement.

    Hand-written (table and column names still come from the models) because this is the one
    statement every respondent's submit runs: the ORM spent longer building it than PostgreSQL
    spent running it. Times are compared in SQL, so no driver-specific values come back.
    """
    quote = connection.ops.quote_name
    inv, con, srv, res = (
        quote(model._meta.db_table) for model in (Invitation, Contact, Survey, Response)
    )
    lock = " FOR UPDATE OF i" if connection.features.has_select_for_update_of else ""
    # Only quoted table names from the models are interpolated; values go as parameters.
    sql = (
        "SELECT i.id, i.token_hash, i.reminder_token_hash, i.revoked_at IS NOT NULL, "  # noqa: S608
        "(i.expires_at IS NOT NULL AND i.expires_at <= %s), i.language, i.contact_id, "
        "c.account_id, i.survey_id, s.kind, s.is_active, "
        "(s.closes_at IS NOT NULL AND s.closes_at <= %s), s.ask_follow_up, s.csi_criteria, "
        f"(SELECT r.id FROM {res} r WHERE r.invitation_id = i.id) "
        f"FROM {inv} i INNER JOIN {con} c ON c.id = i.contact_id "
        f"INNER JOIN {srv} s ON s.id = i.survey_id "
        f"WHERE i.token_hash = %s OR i.reminder_token_hash = %s LIMIT 1{lock}"
    )
    at = connection.ops.adapt_datetimefield_value(now)
    with connection.cursor() as cursor:
        cursor.execute(sql, [at, at, digest, digest])
        row = cursor.fetchone()
    if row is None:
        return None
    criteria = row[13]
    if isinstance(criteria, str):
        criteria = json.loads(criteria)
    return _Link(*row[:13], criteria or [], row[14])


def response_submit(
    *,
    token: str,
    data,
    with_score: bool,
    with_comment: bool,
    language: str | None = None,
    now: dt.datetime | None = None,
) -> Submitted:
    """A respondent's submit through their link, in one short transaction.

    This is the hot path of a survey send-out, so it does the least it can: one statement finds
    and locks the invitation by its token hash and tells whether it has an answer already, one
    writes. Raises ``LinkGone``, ``SurveyClosed``, ``ValidationError`` (with a message per
    field, in the active language) or ``NoAnswerYet``.
    """
    now = now or timezone.now()
    if not token_is_well_formed(token):
        raise LinkGone(expired=False)
    digest = token_hash(token)
    if with_score and not with_comment and db.is_postgres():
        done = _first_score_in_one_statement(digest=digest, data=data, language=language, now=now)
        if done is not None:
            return done
    try:
        return _response_submit(
            digest=digest,
            data=data,
            with_score=with_score,
            with_comment=with_comment,
            language=language,
            now=now,
        )
    except _SubmitRace:
        # The statement that took the lock saw the link as unanswered, but the submit it waited
        # for had just answered it: start again, and this time edit that answer.
        return _response_submit(
            digest=digest,
            data=data,
            with_score=with_score,
            with_comment=with_comment,
            language=language,
            now=now,
        )


def _first_score_in_one_statement(*, digest: str, data, language, now) -> Submitted | None:
    """The common case — a first answer with one score, through a valid link — as a single
    INSERT … SELECT (PostgreSQL, autocommit), like the cheapest write Django can do.

    Anything else inserts nothing and returns None, and the caller's full path takes over and
    says why (unknown, expired, closed, out of range, an edit). Two first submits at once: the
    one-response constraint makes the second insert nothing (ON CONFLICT), and it goes on to
    edit the first one's answer on the full path.
    """
    score = _parse_int(data.get("score"), 0, 10)
    if score is None or any(
        key.startswith(("item-", "importance-", "satisfaction-")) for key in data
    ):
        return None
    kinds = [
        kind
        for kind in (SurveyKind.NPS, SurveyKind.CSAT, SurveyKind.CES)
        if SCALES[kind][0] <= score <= SCALES[kind][1]
    ]
    quote = connection.ops.quote_name
    inv, con, srv, res = (
        quote(model._meta.db_table) for model in (Invitation, Contact, Survey, Response)
    )
    # Only quoted table names from the models are interpolated; values go as parameters.
    sql = (
        "WITH link AS (SELECT i.id, i.survey_id, i.contact_id, c.account_id, i.language, "  # noqa: S608
        "s.ask_follow_up "
        f"FROM {inv} i INNER JOIN {con} c ON c.id = i.contact_id "
        f"INNER JOIN {srv} s ON s.id = i.survey_id "
        "WHERE (i.token_hash = %s OR i.reminder_token_hash = %s) AND i.revoked_at IS NULL "
        "AND (i.expires_at IS NULL OR i.expires_at > %s) AND s.is_active "
        "AND (s.closes_at IS NULL OR s.closes_at > %s) AND s.kind = ANY(%s) "
        f"AND NOT EXISTS (SELECT 1 FROM {res} r WHERE r.invitation_id = i.id) LIMIT 1) "
        f"INSERT INTO {res} (invitation_id, survey_id, contact_id, account_id, score, answers, "
        "comment, language, created_at, updated_at, to_announce) "
        "SELECT id, survey_id, contact_id, account_id, %s, '{}', '', "
        "COALESCE(%s, NULLIF(language, ''), %s), "
        "%s, %s, %s FROM link ON CONFLICT (invitation_id) DO NOTHING "
        "RETURNING id, language, (SELECT ask_follow_up FROM link)"
    )
    chosen = language if language in LANGUAGES else None
    with connection.cursor() as cursor:
        cursor.execute(
            sql,
            [
                digest,
                digest,
                now,
                now,
                kinds,
                score,
                chosen,
                settings.LANGUAGE_CODE,
                now,
                now,
                Response.Announce.CREATED,
            ],
        )
        row = cursor.fetchone()
    if row is None:
        return None
    response_id, saved_language, ask_follow_up = row
    _announce(response_id=response_id, created=True)
    return Submitted(
        response_id=response_id, created=True, ask_follow_up=ask_follow_up, language=saved_language
    )


def _response_submit(*, digest, data, with_score, with_comment, language, now) -> Submitted:
    with transaction.atomic():
        link = _link_for_submit(digest=digest, now=now)
        if link is None or link.revoked:
            raise LinkGone(expired=False)
        if not (
            hmac.compare_digest(link.token_hash, digest)
            or hmac.compare_digest(link.reminder_token_hash or "", digest)
        ):
            raise LinkGone(expired=False)
        if link.expired:
            raise LinkGone(expired=True)
        if not link.is_active or link.closed:
            raise SurveyClosed
        survey = Survey(pk=link.survey_id, kind=link.kind, csi_criteria=link.csi_criteria)
        answer = answer_parse(
            survey=survey, data=data, with_score=with_score, with_comment=with_comment
        )
        language = _answer_language(language, link.language)
        if link.response_id is None:
            if answer.answers is None:
                raise NoAnswerYet
            try:
                response = Response.objects.create(
                    invitation_id=link.invitation_id,
                    survey_id=link.survey_id,
                    contact_id=link.contact_id,
                    account_id=link.account_id,
                    score=answer.score,
                    answers=answer.answers,
                    comment=answer.comment or "",
                    language=language,
                    created_at=now,
                    updated_at=now,
                    to_announce=Response.Announce.CREATED,
                )
            except IntegrityError as exc:
                raise _SubmitRace from exc
            created = True
            _announce(response_id=response.pk, created=True)
        else:
            _response, created = _response_store(
                invitation_id=link.invitation_id,
                survey_id=link.survey_id,
                contact_id=link.contact_id,
                account_id=link.account_id,
                answer=answer,
                language=language,
                now=now,
            )
            response = _response
    return Submitted(
        response_id=response.pk,
        created=created,
        ask_follow_up=link.ask_follow_up,
        language=language,
    )


def _answer_language(chosen: str | None, invited: str) -> str:
    """The language the answer was given in: the page's (the form posts it), else the
    contact's, else English — an answer always records a language, even when the invitation
    did not know one."""
    if chosen in LANGUAGES:
        return chosen
    return invited or settings.LANGUAGE_CODE


def _announce(*, response_id: int, created: bool) -> None:
    """The row is marked ``to_announce``; a worker (``surveys.tasks.announce_responses``, on the
    beat) sends ``response_saved`` for it. In the embedded mode, where no beat runs and tasks
    are inline, it is announced right after the commit instead."""
    from celery import current_app

    if current_app.conf.task_always_eager:
        transaction.on_commit(lambda: responses_announce(response_ids=[response_id]), robust=True)


def responses_announce(*, response_ids: list[int] | None = None, limit: int = 2000) -> int:
    """Send ``response_saved`` for answers marked ``to_announce`` and clear the mark.

    At least once: the mark is cleared after the receivers ran, and only if the answer was not
    edited meanwhile (then it is announced again, as edited). Receivers run in their own
    transactions and must be idempotent (the results receivers are); one that raises leaves
    the answer marked for the next run. Returns how many were announced.
    """
    if response_ids is None:
        # The beat's sweep: one at a time (a long backlog outlasts the 10 s beat, and a second
        # sweep would only repeat the same receivers). The answers' own after-commit runs
        # (``response_ids``) handle just their ids and need no lock.
        with db.single_run("surveys.responses_announce") as alone:
            return _responses_announce(response_ids=None, limit=limit) if alone else 0
    return _responses_announce(response_ids=response_ids, limit=limit)


def _responses_announce(*, response_ids: list[int] | None, limit: int) -> int:
    announced, after = 0, 0
    pending = Response.objects.exclude(to_announce=Response.Announce.NOTHING)
    if response_ids is not None:
        pending = pending.filter(pk__in=response_ids)
    while announced < limit:
        batch = list(
            pending.filter(pk__gt=after)
            .order_by("pk")
            .values_list("pk", "to_announce", "updated_at")[:200]
        )
        for response_id, state, stamp in batch:
            try:
                response_saved.send(
                    sender=Response,
                    response_id=response_id,
                    created=state == Response.Announce.CREATED,
                )
            except Exception:
                logger.exception("Announcing response %s failed; it stays queued", response_id)
                continue
            Response.objects.filter(pk=response_id, to_announce=state, updated_at=stamp).update(
                to_announce=Response.Announce.NOTHING
            )
            announced += 1
        if len(batch) < 200:
            break
        after = batch[-1][0]
    return announced


def response_save(
    *, invitation_id: int, answer: Answer, language: str, now: dt.datetime | None = None
) -> tuple[Response, bool]:
    """Save an already parsed answer for an invitation (imports, tests, admin tools): the same
    rules and locking as a respondent's submit. Returns ``(response, created)``."""
    now = now or timezone.now()
    with transaction.atomic():
        invitation = (
            Invitation.objects.select_for_update(of=("self",))
            .select_related("survey", "contact")
            .get(pk=invitation_id)
        )
        if invitation.revoked_at is not None:
            raise LinkGone(expired=False)
        if invitation.expires_at is not None and now >= invitation.expires_at:
            raise LinkGone(expired=True)
        survey = invitation.survey
        if not survey.is_active or not survey.is_open(now):
            raise SurveyClosed
        return _response_store(
            invitation_id=invitation.pk,
            survey_id=survey.pk,
            contact_id=invitation.contact_id,
            account_id=invitation.contact.account_id,
            answer=answer,
            language=language,
            now=now,
        )


def _response_store(
    *, invitation_id, survey_id, contact_id, account_id, answer: Answer, language: str, now
) -> tuple[Response, bool]:
    """Create or edit the one response of a locked invitation; announce it after commit.

    The caller holds the invitation's row lock, so two simultaneous submits through one link
    make one response and one edit, never two responses (the one-to-one constraint is the
    backstop). The earlier answer is read after the lock, in its own statement: a response
    committed by the submit we waited for is only visible to a statement that starts now.
    """
    response = Response.objects.filter(invitation_id=invitation_id).first()
    if response is None:
        if answer.answers is None:
            raise NoAnswerYet
        response = Response.objects.create(
            invitation_id=invitation_id,
            survey_id=survey_id,
            contact_id=contact_id,
            account_id=account_id,
            score=answer.score,
            answers=answer.answers,
            comment=answer.comment or "",
            language=language,
            created_at=now,
            updated_at=now,
            to_announce=Response.Announce.CREATED,
        )
        created = True
    else:
        created = False
        if not _response_apply(response=response, answer=answer, language=language, now=now):
            return response, False
    _announce(response_id=response.pk, created=created)
    return response, created


def _response_apply(*, response: Response, answer: Answer, language: str, now) -> bool:
    """Change a saved response; record an edit when a given answer changes. Adding the first
    comment (the second step of the page) completes the answer rather than editing it."""
    new_score = answer.score if answer.answers is not None else response.score
    new_answers = answer.answers if answer.answers is not None else response.answers
    new_comment = answer.comment if answer.comment is not None else response.comment
    answer_changed = new_score != response.score or new_answers != response.answers
    comment_changed = new_comment != response.comment
    if not answer_changed and not comment_changed:
        return False
    if answer_changed or response.comment:
        ResponseEdit.objects.create(
            response=response,
            previous_score=response.score,
            previous_answers=response.answers,
            previous_comment=response.comment,
            edited_at=now,
        )
    response.score, response.answers, response.comment = new_score, new_answers, new_comment
    response.language = language
    response.updated_at = now
    if response.to_announce != Response.Announce.CREATED:  # not yet announced: still "new"
        response.to_announce = Response.Announce.EDITED
    response.save(
        update_fields=["score", "answers", "comment", "language", "updated_at", "to_announce"]
    )
    return True


# --- results and follow-up ---------------------------------------------------------------

FOLLOW_UP_NOTE_MAX_LENGTH = 5000
TAG_NAME_MAX_LENGTH = 60
# Scripts written without spaces between words: a keyword there matches inside a sentence.
_UNSPACED_SCRIPT = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]")


def follow_up_reason(*, kind: str, score: int) -> str:
    label = {"nps": "NPS", "csat": "CSAT", "ces": "CES"}.get(kind, kind.upper())
    what = {"nps": "detractor", "csat": "dissatisfied", "ces": "found it hard"}.get(kind, "unhappy")
    return f"{label} {score}: {what}"


def follow_up_create_for_response(*, response_id: int) -> FollowUp | None:
    """Close the loop: an unhappy answer (NPS ≤ 6, CSAT ≤ 2, CES ≤ 3) becomes a follow-up for
    the account's owner. One per response whatever the replays and edits: the first unhappy
    save creates it; an edit to a happier score leaves it open for the CSM to judge (the
    follow-up page shows the current answer next to the reason)."""
    response = Response.objects.select_related("survey", "account").filter(pk=response_id).first()
    if response is None or not metrics.is_unhappy(response.survey.kind, response.score):
        return None
    follow_up, _created = FollowUp.objects.get_or_create(
        response=response,
        defaults={
            "account": response.account,
            "owner_id": response.account.owner_id,
            "reason": follow_up_reason(kind=response.survey.kind, score=response.score),
            "created_at": response.updated_at,
        },
    )
    return follow_up


def follow_ups_create_missing(*, since: dt.datetime | None = None, batch_size: int = 1000) -> int:
    """The set-based safety net: follow-ups for unhappy answers that have none (a receiver
    that failed, answers imported in bulk). Safe to run any time; returns how many it made."""
    unhappy = Q()
    for kind, at_most in metrics.UNHAPPY_AT_MOST.items():
        unhappy |= Q(survey__kind=kind, score__lte=at_most)
    rows = Response.objects.filter(unhappy, follow_up__isnull=True)
    if since is not None:
        rows = rows.filter(created_at__gte=since)
    created = 0
    batch: list[FollowUp] = []
    for pk, account_id, owner_id, kind, score, at in (
        rows.order_by("pk")
        .values_list("pk", "account_id", "account__owner_id", "survey__kind", "score", "updated_at")
        .iterator(chunk_size=batch_size)
    ):
        batch.append(
            FollowUp(
                response_id=pk,
                account_id=account_id,
                owner_id=owner_id,
                reason=follow_up_reason(kind=kind, score=score),
                created_at=at,
            )
        )
        if len(batch) >= batch_size:
            created += len(FollowUp.objects.bulk_create(batch, ignore_conflicts=True))
            batch = []
    if batch:
        created += len(FollowUp.objects.bulk_create(batch, ignore_conflicts=True))
    return created


def follow_up_handle(*, follow_up: FollowUp, user, note: str, now=None) -> FollowUp:
    """Mark a follow-up handled. The note is required (a database constraint backs this up):
    "handled" without a word on what was done is how loops stay open."""
    note = (note or "").replace("\x00", "").strip()
    if not note:
        raise ValidationError({"note": "Write a note on what you did: it is required."})
    if len(note) > FOLLOW_UP_NOTE_MAX_LENGTH:
        raise ValidationError(
            {"note": f"The note is too long: at most {FOLLOW_UP_NOTE_MAX_LENGTH} characters."}
        )
    now = now or timezone.now()
    with transaction.atomic():
        locked = FollowUp.objects.select_for_update().get(pk=follow_up.pk)
        if locked.status == FollowUp.Status.HANDLED:
            raise ValidationError(
                {
                    "status": f"This follow-up was already handled by "
                    f"{locked.handled_by or 'a former user'} on "
                    f"{locked.handled_at:%Y-%m-%d %H:%M} UTC."
                }
            )
        locked.status = FollowUp.Status.HANDLED
        locked.handled_by = user
        locked.handled_note = note
        locked.handled_at = now
        locked.save(update_fields=["status", "handled_by", "handled_note", "handled_at"])
    return locked


def response_tag_add(*, response: Response, name: str) -> Tag:
    """Tag a response by hand. An existing tag is found whatever its case; a new name makes a
    new tag (without keywords: those are set in the admin)."""
    name = " ".join(str(name or "").split())
    if not name:
        raise ValidationError({"name": "Give the tag a name."})
    if len(name) > TAG_NAME_MAX_LENGTH:
        raise ValidationError(
            {"name": f"Tag names are at most {TAG_NAME_MAX_LENGTH} characters long."}
        )
    tag = Tag.objects.filter(name__iexact=name).first()
    if tag is None:
        try:
            with transaction.atomic():
                tag = Tag.objects.create(name=name)
        except IntegrityError:  # created a moment ago by someone else
            tag = Tag.objects.get(name__iexact=name)
    response.tags.add(tag)
    return tag


def response_tag_remove(*, response: Response, tag: Tag) -> None:
    response.tags.remove(tag)


def tag_keywords(keywords: str) -> list[str]:
    """``"Price, pricing ,"`` → ``["price", "pricing"]``."""
    return [k.strip().casefold() for k in (keywords or "").split(",") if k.strip()]


def keyword_pattern(keywords: str) -> re.Pattern | None:
    """A case-insensitive whole-word pattern for a tag's keywords ("price" matches "Price!"
    but not "priceless"); keywords in scripts written without spaces (Chinese, Japanese)
    match anywhere."""
    parts = []
    for keyword in tag_keywords(keywords):
        escaped = re.escape(keyword)
        parts.append(escaped if _UNSPACED_SCRIPT.search(keyword) else rf"(?<!\w){escaped}(?!\w)")
    return re.compile("|".join(parts), re.IGNORECASE) if parts else None


def tags_matching(*, comment: str, tags) -> list[Tag]:
    matching = []
    for tag in tags:
        pattern = keyword_pattern(tag.keywords)
        if pattern is not None and pattern.search(comment or ""):
            matching.append(tag)
    return matching


def response_auto_tag(*, response_id: int) -> list[Tag]:
    """Apply the admin's keyword tags to a response's comment. Only ever adds: manual tags,
    and auto tags a CSM kept, stay when the comment is edited."""
    response = Response.objects.filter(pk=response_id).only("pk", "comment").first()
    if response is None or not response.comment:
        return []
    matching = tags_matching(comment=response.comment, tags=Tag.objects.exclude(keywords=""))
    if matching:
        response.tags.add(*matching)
    return matching
