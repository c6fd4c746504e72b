"""Who is asked: invitations under the fatigue rules, campaigns and their runs, surveys
after closed tickets. The reasons an invitation was not made are written to ``SendSkip`` so
admins can see them (docs/domain/survey-links.md)."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging

from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from customers.models import Account, Contact, Ticket
from customers.segments import SegmentRulesError, rules_q
from surveys.models import (
    TICKET_SURVEY_KINDS,
    Campaign,
    CampaignRun,
    Invitation,
    SendSkip,
    Survey,
)
from surveys.texts import LANGUAGES
from surveys.tokens import token_new

logger = logging.getLogger(__name__)

DEFAULT_FATIGUE_DAYS = 90
# No contact gets two survey emails within a day, whatever the surveys' own settings.
FATIGUE_FLOOR = dt.timedelta(hours=24)


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


def emailed_within_floor(now: dt.datetime) -> Exists:
    """The invitation's contact got a survey email (an invitation or a reminder) within the
    24-hour floor: its reminder waits for the next run after the floor, rather than landing
    beside another survey's email."""
    return Exists(
        Invitation.objects.filter(contact_id=OuterRef("contact_id")).filter(
            Q(sent_at__gt=now - FATIGUE_FLOOR) | Q(reminded_at__gt=now - FATIGUE_FLOOR)
        )
    )


def skip_log(
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
        skip_log(
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
        skip_log(survey=survey, contact=contact, campaign=campaign, reason=reason, now=now)
        return None, None, reason
    return invitation, token, None


def _language_of(locale: str) -> str:
    """The contact's language, or "" when we do not know it: then the respondent's page
    follows their browser (docs/domain/survey-links.md) rather than a language we guessed."""
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
            skip_log(
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
            .select_related("survey", "segment")
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
        elif campaign.audience == Campaign.Audience.SEGMENT:
            audience = audience.filter(account__in=_segment_accounts(campaign, now=now))
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


def _segment_accounts(campaign: Campaign, *, now: dt.datetime):
    """The ids of the accounts the campaign's segment matches at this run, as a subquery, so
    the audience is still one query. A segment whose rules no longer read (or none at all, which
    the constraint forbids) matches nobody rather than everyone; the run's skip count is then 0
    and its invited count 0, which an admin sees on the campaign."""
    segment = campaign.segment
    if segment is None:
        return Account.objects.none().values("pk")
    try:
        rules = rules_q(segment.rules, match=segment.match, now=now)
    except SegmentRulesError:
        logger.warning(
            "campaign %s: segment %s has rules that no longer read", campaign.pk, segment.pk
        )
        return Account.objects.none().values("pk")
    return Account.objects.filter(rules).values("pk")


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
