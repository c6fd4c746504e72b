"""Follow-ups of poor answers and keyword tags on comments."""

from __future__ import annotations

import datetime as dt
import re

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from surveys import metrics
from surveys.models import (
    FollowUp,
    Response,
    Tag,
)

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
