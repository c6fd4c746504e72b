"""Segment's spec (identify, group, track) mapped onto the batches of this package."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from typing import Any

from django.db import transaction
from django.utils import timezone

from customers.ingest import fields
from customers.ingest.events import events_write
from customers.ingest.records import accounts_write, contacts_write
from customers.ingest.results import ItemError, Outcome, SegmentResult, Waiting

# Segment's spec (identify, group, track) mapped onto the batches above, so a team already
# sending Segment data can point a webhook destination at Tenure.

SEGMENT_SOURCE = "segment"
_SEGMENT_CONTACT_TRAITS = {
    "email": "email",
    "name": "name",
    "title": "role",
    "birthday": "birthday",
}


def _segment_group_id(message: dict) -> Any:
    context = message.get("context") if isinstance(message.get("context"), dict) else {}
    for container in (context, message.get("properties"), message.get("traits")):
        if isinstance(container, dict) and container.get("groupId") not in (None, ""):
            return container["groupId"]
    return None


def _segment_timestamp(message: dict) -> Any:
    for key in ("timestamp", "originalTimestamp", "receivedAt", "sentAt"):
        if message.get(key):
            return message[key]
    return timezone.now().isoformat()


def _segment_identify(message: dict) -> dict:
    if message.get("userId") in (None, ""):
        raise ItemError("userId", "is required (anonymous users are not contacts)")
    traits = fields.mapping(message.get("traits"), "traits")
    item: dict[str, Any] = {"id": message["userId"]}
    group = _segment_group_id(message)
    if group is not None:
        item["account"] = group
    for trait, field in _SEGMENT_CONTACT_TRAITS.items():
        if traits.get(trait) is not None:
            item[field] = traits[trait]
    if "name" not in item and (traits.get("firstName") or traits.get("lastName")):
        item["name"] = " ".join(str(traits.get(k) or "") for k in ("firstName", "lastName"))
    context = message.get("context") if isinstance(message.get("context"), dict) else {}
    locale = traits.get("locale") or context.get("locale")
    if locale:
        # Segment fills context.locale from the browser: a language Tenure lacks is no error.
        with contextlib.suppress(ItemError):
            item["locale"] = fields.locale(locale, "locale")
    item["traits"] = {k: v for k, v in traits.items() if k not in _SEGMENT_CONTACT_TRAITS}
    return item


def _segment_group(message: dict) -> tuple[dict, dict | None]:
    if message.get("groupId") in (None, ""):
        raise ItemError("groupId", "is required")
    traits = fields.mapping(message.get("traits"), "traits")
    item: dict[str, Any] = {"id": message["groupId"]}
    if traits.get("name") is not None:
        item["name"] = traits["name"]
    website = traits.get("domain") or traits.get("website")
    if isinstance(website, str):
        item["domain"] = website.split("://")[-1].split("/")[0]
    if traits.get("plan") is not None:
        item["plan"] = traits["plan"]
    item["traits"] = {
        k: v for k, v in traits.items() if k not in ("name", "domain", "website", "plan")
    }
    member = None
    if message.get("userId") not in (None, ""):
        # Checked here, before anything is written: a group whose member cannot be stored
        # is rejected whole rather than leaving the account upserted and the message refused.
        member = {
            "id": fields.external_id(message["userId"], "userId"),
            "account": message["groupId"],
        }
    return item, member


def _segment_track(message: dict) -> dict:
    if message.get("messageId") in (None, ""):
        raise ItemError("messageId", "is required: it is what makes a re-delivery harmless")
    if message.get("event") in (None, ""):
        raise ItemError("event", "is required")
    item = {
        "id": message["messageId"],
        "type": message["event"],
        "timestamp": _segment_timestamp(message),
        "properties": message.get("properties"),
    }
    group = _segment_group_id(message)
    if group is not None:
        item["account"] = group
    if message.get("userId") not in (None, ""):
        item["contact"] = message["userId"]
    if group is None and "contact" not in item:
        raise ItemError("userId", "or context.groupId is required to know whose event this is")
    return item


_SEGMENT_FIELDS = {
    "account": {"id": "groupId", "name": "traits.name", "domain": "traits.website"},
    "contact": {"id": "userId", "account": "context.groupId"},
    "event": {
        "id": "messageId",
        "type": "event",
        "contact": "userId",
        "account": "context.groupId",
    },
}


def _segment_error(kind: str, error: ItemError) -> ItemError:
    """Name the Segment field the sender knows, not Tenure's: userId, not id."""
    field = _SEGMENT_FIELDS[kind].get(error.field)
    if field is None:
        plain = kind == "event" or error.field in ("item", "traits")
        field = error.field if plain else f"traits.{error.field}"
    if isinstance(error, Waiting):
        return error.renamed(field)
    return ItemError(field, error.reason)


@transaction.atomic
def segment_ingest(*, messages: Sequence[Any], kind: str | None = None) -> SegmentResult:
    """Ingest Segment ``identify``, ``group`` and ``track`` messages (a batch may mix them).

    ``group`` upserts an account (and puts ``userId``, if given, in it); ``identify``
    upserts a contact (its account from ``context.groupId`` or ``traits.groupId``, needed
    the first time); ``track`` stores an event keyed by ``messageId``. Within a batch, groups
    are applied first, then identifies, then tracks, so one batch can introduce an account,
    its people and their events. ``kind`` forces the type for the single-call endpoints.

    A message that names an account or contact not known yet is parked, not refused: Segment
    clients count a 200 as delivered, and send a new user's identify before its group. It is
    applied once that account or contact appears (see customers.ingest.parked).
    """
    from customers.ingest import parked

    outcome = segment_apply(messages, kind)
    parked.park(outcome, messages, kind=kind, source=SEGMENT_SOURCE)
    result = outcome.result()
    return {**result, "parked": outcome.count(Outcome.PARKED)}


def segment_apply(messages: Sequence[Any], kind: str | None = None) -> Outcome:
    """Write what can be written; the rest is refused in the outcome (a ``Waiting`` error
    when it names an unknown account or contact). The writes wake the parked messages that
    waited for an account or contact they create."""
    outcome = Outcome(len(messages))
    plans: dict[str, list[tuple[int, Any]]] = {
        "account": [],
        "member": [],
        "contact": [],
        "event": [],
    }
    for index, message in enumerate(messages):
        try:
            message = fields.item(message)
            call = kind or message.get("type")
            if call == "identify":
                plans["contact"].append((index, _segment_identify(message)))
            elif call == "group":
                account, member = _segment_group(message)
                plans["account"].append((index, account))
                if member is not None:
                    plans["member"].append((index, member))
            elif call == "track":
                plans["event"].append((index, _segment_track(message)))
            else:
                raise ItemError(
                    "type", f"{str(call)[:20]!r} is not used; send identify, group or track"
                )
        except ItemError as error:
            outcome.reject(index, error)
    steps: list[tuple[str, list[tuple[int, Any]], Callable[[Outcome, list], None]]] = [
        ("account", plans["account"], lambda o, items: accounts_write(o, items, SEGMENT_SOURCE)),
        ("contact", plans["member"] + plans["contact"], contacts_write),
        ("event", plans["event"], lambda o, items: events_write(o, items, SEGMENT_SOURCE)),
    ]
    for step_kind, planned, write in steps:
        if not planned:
            continue
        step = Outcome(len(planned))
        write(step, [item for _, item in planned])
        for position, (index, _item) in enumerate(planned):
            if index in outcome.errors:
                continue
            if position in step.errors:
                outcome.reject(index, _segment_error(step_kind, step.errors[position]))
            elif step.status.get(position) == Outcome.ACCEPTED:
                outcome.accept(index)
            elif outcome.status.get(index) != Outcome.ACCEPTED:
                outcome.duplicate(index)
    return outcome
