"""Answers: parsing, submitting through a link (once, even when raced), editing, and
announcing each answer to the receivers through the outbox."""

from __future__ import annotations

import datetime as dt
import hmac
import json
import logging
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from core import db
from core.parsing import ascii_int
from customers.models import Contact
from surveys.models import (
    SCALES,
    Invitation,
    Response,
    ResponseEdit,
    Survey,
    SurveyKind,
)
from surveys.signals import response_saved
from surveys.texts import LANGUAGES, item_keys
from surveys.tokens import token_hash, token_is_well_formed

logger = logging.getLogger(__name__)

COMMENT_MAX_LENGTH = 5000


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
    sent_at: dt.datetime | None  # when emailed; None for a manual link (copied to the answer)


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
        f"(SELECT r.id FROM {res} r WHERE r.invitation_id = i.id), "
        f"CASE WHEN i.{quote('trigger')} = %s THEN NULL ELSE i.sent_at END "
        f"FROM {inv} i INNER JOIN {con} c ON c.id = i.contact_id "
        f"INNER JOIN {srv} s ON s.id = i.survey_id "
        f"WHERE i.token_hash = %s OR i.reminder_token_hash = %s LIMIT 1{lock}"
    )
    at = connection.ops.adapt_datetimefield_value(now)
    with connection.cursor() as cursor:
        cursor.execute(sql, [at, at, Invitation.Trigger.MANUAL, digest, digest])
        row = cursor.fetchone()
    if row is None:
        return None
    criteria = row[13]
    if isinstance(criteria, str):
        criteria = json.loads(criteria)
    return _Link(*row[:13], criteria or [], row[14], _db_datetime(row[15]))


def _db_datetime(value) -> dt.datetime | None:
    """A datetime read by raw SQL: PostgreSQL hands back an aware datetime, SQLite the text
    Django stored (UTC)."""
    if value is None or isinstance(value, dt.datetime):
        return value
    parsed = parse_datetime(value)
    return parsed if parsed is None or timezone.is_aware(parsed) else parsed.replace(tzinfo=dt.UTC)


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
        "s.ask_follow_up, "
        f"CASE WHEN i.{quote('trigger')} = %s THEN NULL ELSE i.sent_at END AS sent_at "
        f"FROM {inv} i INNER JOIN {con} c ON c.id = i.contact_id "
        f"INNER JOIN {srv} s ON s.id = i.survey_id "
        "WHERE (i.token_hash = %s OR i.reminder_token_hash = %s) AND i.revoked_at IS NULL "
        "AND (i.expires_at IS NULL OR i.expires_at > %s) AND s.is_active "
        "AND (s.closes_at IS NULL OR s.closes_at > %s) AND s.kind = ANY(%s) "
        f"AND NOT EXISTS (SELECT 1 FROM {res} r WHERE r.invitation_id = i.id) LIMIT 1) "
        f"INSERT INTO {res} (invitation_id, survey_id, contact_id, account_id, score, answers, "
        "comment, language, created_at, updated_at, to_announce, invitation_sent_at) "
        "SELECT id, survey_id, contact_id, account_id, %s, '{}', '', "
        "COALESCE(%s, NULLIF(language, ''), %s), "
        "%s, %s, %s, sent_at FROM link ON CONFLICT (invitation_id) DO NOTHING "
        "RETURNING id, language, (SELECT ask_follow_up FROM link)"
    )
    chosen = language if language in LANGUAGES else None
    with connection.cursor() as cursor:
        cursor.execute(
            sql,
            [
                Invitation.Trigger.MANUAL,
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
                    invitation_sent_at=link.sent_at,
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
                invitation_sent_at=link.sent_at,
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
            invitation_sent_at=(
                None if invitation.trigger == Invitation.Trigger.MANUAL else invitation.sent_at
            ),
        )


def _response_store(
    *,
    invitation_id,
    survey_id,
    contact_id,
    account_id,
    answer: Answer,
    language: str,
    now,
    invitation_sent_at: dt.datetime | None,
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
            invitation_sent_at=invitation_sent_at,
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
