"""Writes for playbooks: start plays for their causes, and send their emails when due.

A play starts once per cause: ``PlaybookRun`` is unique per (playbook, account, cause), where
the cause names what fired it (``alert:41``, ``stage:907``, ``churn:2026-11-30``…). Its tasks
are unique per (run, step) and its emails per (run, step, contact), so a trigger that fires
twice — a replayed batch, two workers, a rerun after a crash — makes one task and one email.
Everything is written set-based for the batch of causes at hand.

Emails go out from an outbox (``PlaybookEmail`` rows): each is claimed with a row lock, so two
senders never send one twice; opt-outs are honoured and the 24-hour floor per contact (any
survey or playbook email) defers an email rather than dropping it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.conf import settings
from django.core import signing
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import connection, transaction
from django.db.models import Max, Prefetch, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import override

from core.iterables import batched
from customers.models import Account, Contact, StageChange
from health.models import (
    Alert,
    EmailOptOut,
    EmailStatus,
    Playbook,
    PlaybookEmail,
    PlaybookEmailText,
    PlaybookRun,
    PlaybookStep,
    StepKind,
    Task,
    Trigger,
)
from surveys.emails import absolute_url, contact_email
from surveys.models import Invitation
from surveys.services.campaigns import FATIGUE_FLOOR

# The 24-hour floor per contact is the surveys' own: one rule for every email we send.
FLOOR = FATIGUE_FLOOR
UNSUBSCRIBE_SALT = "health.playbook-unsubscribe"


@dataclass(frozen=True)
class Cause:
    """Why a play starts for an account, and when (due dates count from ``at``)."""

    account_id: int
    key: str
    at: dt.datetime


def _playbooks(**filters) -> list[Playbook]:
    return list(
        Playbook.objects.filter(enabled=True, **filters).prefetch_related(
            Prefetch("steps", queryset=PlaybookStep.objects.order_by("order", "pk"))
        )
    )


def playbooks_start(
    *, playbooks: Sequence[Playbook], causes: Sequence[Cause], now: dt.datetime | None = None
) -> list[PlaybookRun]:
    """Start every playbook for every cause; returns the runs this call started (a cause
    already started is skipped, whoever started it)."""
    now = now or timezone.now()
    if not playbooks or not causes:
        return []
    by_key = {(c.account_id, c.key): c for c in causes}
    PlaybookRun.objects.bulk_create(
        [
            PlaybookRun(playbook=p, account_id=c.account_id, cause=c.key, started_at=now)
            for p in playbooks
            for c in causes
        ],
        ignore_conflicts=True,
        batch_size=1000,
    )
    # The rows this call inserted carry its ``now``; a concurrent start's carry another.
    runs = list(
        PlaybookRun.objects.filter(
            playbook__in=playbooks,
            account_id__in={c.account_id for c in causes},
            cause__in={c.key for c in causes},
            started_at=now,
        )
    )
    if not runs:
        return []
    steps = {p.pk: list(p.steps.all()) for p in playbooks}
    accounts = {
        pk: (owner_id, name)
        for pk, owner_id, name in Account.objects.filter(
            pk__in={r.account_id for r in runs}
        ).values_list("pk", "owner_id", "name")
    }
    tasks, emails = [], []
    email_steps = any(s.kind == StepKind.EMAIL for ss in steps.values() for s in ss)
    contacts: dict[int, list[Contact]] = {}
    if email_steps:
        for contact in Contact.objects.filter(account_id__in={r.account_id for r in runs}).exclude(
            email=""
        ):
            contacts.setdefault(contact.account_id, []).append(contact)
    for run in runs:
        cause = by_key[(run.account_id, run.cause)]
        for step in steps[run.playbook_id]:
            when = cause.at + dt.timedelta(days=step.days_after)
            if step.kind == StepKind.TASK:
                owner_id, name = accounts[run.account_id]
                tasks.append(
                    Task(
                        account_id=run.account_id,
                        owner_id=owner_id,
                        title=_render(step.title, {"account": name})[:200],
                        body=_render(step.body, {"account": name}),
                        due_on=when.astimezone(dt.UTC).date(),
                        run=run,
                        step=step,
                        created_at=now,
                    )
                )
                continue
            roles = {str(r).lower() for r in step.contact_roles or []}
            for contact in contacts.get(run.account_id, []):
                if roles and contact.role.lower() not in roles:
                    continue
                emails.append(
                    PlaybookEmail(
                        run=run,
                        step=step,
                        account_id=run.account_id,
                        contact=contact,
                        send_at=max(when, now),
                    )
                )
    Task.objects.bulk_create(tasks, ignore_conflicts=True, batch_size=1000)
    PlaybookEmail.objects.bulk_create(emails, ignore_conflicts=True, batch_size=1000)
    return runs


def playbooks_on_alerts(
    *, opened: Iterable[Alert], cleared: Iterable[Alert], now: dt.datetime
) -> int:
    """Alert triggers: called by the recompute inside the transaction that opened or closed
    the alerts, so a play starts exactly when its alert does."""
    opened, cleared = list(opened), list(cleared)
    started = 0
    if opened:
        kinds = {a.kind for a in opened}
        for playbook in _playbooks(trigger=Trigger.ALERT_OPENED, alert_kind__in=kinds):
            causes = [
                Cause(a.account_id, f"alert:{a.pk}", now)
                for a in opened
                if a.kind == playbook.alert_kind
            ]
            started += len(playbooks_start(playbooks=[playbook], causes=causes, now=now))
    if cleared:
        kinds = {a.kind for a in cleared}
        for playbook in _playbooks(trigger=Trigger.ALERT_CLEARED, alert_kind__in=kinds):
            pause = dt.timedelta(days=playbook.min_alert_days)
            causes = [
                Cause(a.account_id, f"alert-cleared:{a.pk}", now)
                for a in cleared
                if a.kind == playbook.alert_kind and now - a.opened_at >= pause
            ]
            started += len(playbooks_start(playbooks=[playbook], causes=causes, now=now))
    return started


def playbooks_on_segment_entry(
    *, segment_id: int, account_ids: Iterable[int], now: dt.datetime | None = None
) -> int:
    now = now or timezone.now()
    day = now.astimezone(dt.UTC).date().isoformat()
    causes = [Cause(pk, f"segment:{segment_id}:{day}", now) for pk in account_ids]
    playbooks = _playbooks(trigger=Trigger.SEGMENT_ENTRY, segment_id=segment_id)
    return len(playbooks_start(playbooks=playbooks, causes=causes, now=now))


STAGE_LOOKBACK = dt.timedelta(days=2)


def playbooks_sweep(*, now: dt.datetime | None = None) -> int:
    """The triggers found by looking (run every few minutes by beat): stage changes of the
    last two days, accounts churned within each play's window, and schedules. Idempotent:
    each cause starts its play once however often the sweep runs."""
    now = now or timezone.now()
    started = 0
    for playbook in _playbooks(trigger=Trigger.STAGE_CHANGE):
        causes = [
            Cause(account_id, f"stage:{pk}", at)
            for pk, account_id, at in StageChange.objects.filter(
                to_stage=playbook.stage, changed_at__gte=now - STAGE_LOOKBACK, changed_at__lte=now
            ).values_list("pk", "account_id", "changed_at")
        ]
        started += len(playbooks_start(playbooks=[playbook], causes=causes, now=now))
    for playbook in _playbooks(trigger=Trigger.CHURNED):
        since = now - dt.timedelta(days=playbook.churned_within_days)
        causes = [
            Cause(account_id, f"churn:{churned_at.astimezone(dt.UTC).date()}", churned_at)
            for account_id, churned_at in Account.objects.filter(
                churned_at__gte=since, churned_at__lte=now
            ).values_list("pk", "churned_at")
        ]
        started += len(playbooks_start(playbooks=[playbook], causes=causes, now=now))
    for playbook in _playbooks(trigger=Trigger.SCHEDULE, every_days__gt=0):
        period = now.astimezone(dt.UTC).date().toordinal() // playbook.every_days
        live = Account.objects.filter(churned_at__isnull=True).values_list("pk", flat=True)
        for chunk in batched(live.order_by("pk").iterator(), 2000):
            causes = [Cause(pk, f"schedule:{period}", now) for pk in chunk]
            started += len(playbooks_start(playbooks=[playbook], causes=causes, now=now))
    return started


# --- tasks ---------------------------------------------------------------------------------


def task_complete(*, task_id: int, user=None) -> Task:
    from django.core.exceptions import ValidationError

    with transaction.atomic():
        task = Task.objects.select_for_update().filter(pk=task_id).first()
        if task is None or task.status == "done":
            raise ValidationError("This task is done already.")
        task.status, task.done_at, task.done_by = "done", timezone.now(), user
        task.save(update_fields=["status", "done_at", "done_by"])
    return task


# --- emails --------------------------------------------------------------------------------


def unsubscribe_token(contact_id: int) -> str:
    """A contact's unsubscribe token: signed, so it cannot be forged, and without expiry,
    since people unsubscribe from old emails."""
    return signing.dumps(contact_id, salt=UNSUBSCRIBE_SALT, compress=True)


def unsubscribe_contact_id(token: str) -> int | None:
    try:
        value = signing.loads(token, salt=UNSUBSCRIBE_SALT)
    except signing.BadSignature:
        return None
    return value if isinstance(value, int) else None


def contact_opt_out(*, contact_id: int) -> bool:
    """Record the opt-out (once); pending playbook emails to the contact are not sent."""
    _, created = EmailOptOut.objects.get_or_create(contact_id=contact_id)
    return created


class _Fields(dict):
    def __missing__(self, key: str) -> str:  # an unknown placeholder stays as written
        return "{" + key + "}"


def _render(text: str, fields: dict[str, str]) -> str:
    try:
        return text.format_map(_Fields(fields))
    except (ValueError, IndexError):  # a stray brace in an admin's text: send it as written
        return text


Texts = dict[tuple[int, str], PlaybookEmailText]


def _texts(step_ids: Iterable[int]) -> Texts:
    """The texts of the given email steps by (step, language): read once per send run."""
    return {
        (t.step_id, t.language): t
        for t in PlaybookEmailText.objects.filter(step_id__in=set(step_ids))
    }


def playbook_email_message(
    email: PlaybookEmail, *, texts: Texts | None = None
) -> EmailMultiAlternatives | None:
    """The message for one outbox row, in the contact's language (English when unknown or
    not written), with a working unsubscribe link and the one-click header."""
    contact = email.contact
    language = contact.locale or settings.LANGUAGE_CODE
    texts = texts if texts is not None else _texts([email.step_id])
    text = texts.get((email.step_id, language)) or texts.get(
        (email.step_id, settings.LANGUAGE_CODE)
    )
    if text is None:
        return None
    language = text.language
    owner = email.account.owner
    fields = {
        "contact_name": contact.name or contact.email,
        "account_name": email.account.name,
        "csm_name": owner.get_full_name() if owner else "",
    }
    token = unsubscribe_token(contact.pk)
    with override(language):
        footer = _("Don't want these emails? Unsubscribe: %(url)s") % {
            "url": absolute_url(reverse("playbook-unsubscribe", args=[token]))
        }
    subject = " ".join(_render(text.subject, fields).split())[:200]
    body = f"{_render(text.body, fields).strip()}\n\n--\n{footer}\n"
    message = contact_email(
        subject=subject,
        body=body,
        to=contact.email,
        language=language,
        one_click_unsubscribe_url=absolute_url(
            reverse("playbook-unsubscribe-one-click", args=[token])
        ),
    )
    message.tenure_language = language  # read back by the sender for the outbox row
    return message


def _emailed_recently(contact_id: int, now: dt.datetime) -> dt.datetime | None:
    """When the contact's latest email within the floor went (a playbook email, a survey
    invitation or its reminder), if any."""
    since = now - FLOOR
    playbook = PlaybookEmail.objects.filter(contact_id=contact_id, sent_at__gt=since).aggregate(
        last=Max("sent_at")
    )["last"]
    survey = Invitation.objects.filter(contact_id=contact_id).aggregate(
        sent=Max("sent_at", filter=Q(sent_at__gt=since)),
        reminded=Max("reminded_at", filter=Q(reminded_at__gt=since)),
    )
    recent = [t for t in (playbook, survey["sent"], survey["reminded"]) if t is not None]
    return max(recent) if recent else None


def playbook_email_send(
    *, email_id: int, now: dt.datetime | None = None, mail=None, texts: Texts | None = None
) -> str:
    """Send one due outbox row, or set it aside with its reason, or defer it past the floor.
    Returns the row's outcome: ``sent``, ``skipped``, ``deferred`` or ``gone``."""
    now = now or timezone.now()
    with transaction.atomic():
        rows = PlaybookEmail.objects.filter(
            pk=email_id, status=EmailStatus.PENDING, send_at__lte=now
        ).select_related("contact", "account__owner")
        if connection.features.has_select_for_update_skip_locked:
            rows = rows.select_for_update(skip_locked=True, of=("self",))
        email = rows.first()
        if email is None:
            return "gone"
        reason = ""
        if EmailOptOut.objects.filter(contact_id=email.contact_id).exists():
            reason = "The contact unsubscribed."
        elif not email.contact.email:
            reason = "The contact has no email address."
        if not reason:
            last = _emailed_recently(email.contact_id, now)
            if last is not None:
                email.send_at = last + FLOOR
                email.save(update_fields=["send_at"])
                return "deferred"
            message = playbook_email_message(email, texts=texts)
            if message is None:
                reason = "The email step has no text."
        if reason:
            email.status, email.skip_reason = EmailStatus.SKIPPED, reason
            email.save(update_fields=["status", "skip_reason"])
            return "skipped"
        email.status, email.sent_at = EmailStatus.SENT, now
        email.language, email.subject = message.tenure_language, message.subject
        email.save(update_fields=["status", "sent_at", "language", "subject"])
        (mail or get_connection()).send_messages([message])
    return "sent"


def playbook_emails_send_due(*, now: dt.datetime | None = None, limit: int = 2000) -> int:
    """Send what is due, oldest first, at most ``limit``; returns how many went."""
    now = now or timezone.now()
    due = list(
        PlaybookEmail.objects.filter(status=EmailStatus.PENDING, send_at__lte=now)
        .order_by("send_at", "pk")
        .values_list("pk", "step_id")[:limit]
    )
    texts = _texts(step_id for _, step_id in due)  # a few steps, whatever the number of emails
    sent = 0
    with get_connection() as mail:
        for email_id, _ in due:
            if playbook_email_send(email_id=email_id, now=now, mail=mail, texts=texts) == "sent":
                sent += 1
    return sent
