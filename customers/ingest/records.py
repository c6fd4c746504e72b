"""Accounts, contacts and tickets: upserts by the sender's external id."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from functools import partial
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from core import db
from customers import services
from customers.ingest import fields, parked
from customers.ingest.results import IngestResult, ItemError, Outcome, Waiting
from customers.models import (
    Account,
    Contact,
    LifecycleStage,
    RevenueChange,
    StageChange,
    Ticket,
    TicketPriority,
    TicketStatus,
)
from customers.selectors import owners_by_email
from customers.signals import accounts_touched_on_commit, ticket_closed

# A ticket closed longer ago than this is history being backfilled, not a moment to survey.
TICKET_CLOSE_SIGNAL_WINDOW = dt.timedelta(days=7)
STAGE_CHANGE_SOURCE = "api"


ACCOUNT_FIELDS = (
    "name",
    "domain",
    "plan",
    "currency",
    "owner_id",
    "stage",
    "renewal_date",
    "traits",
    "card_exp_month",
    "card_exp_year",
)


def _account_parse(raw: Any) -> tuple[str, dict[str, Any], str | None]:
    """(external id, values to set, owner email to look up). Absent fields stay as they are;
    null clears a field that may be empty."""
    item = fields.item(raw)
    external = fields.external_id(item.get("id"), "id")
    values: dict[str, Any] = {}
    if "name" in item:
        values["name"] = fields.text(item["name"], "name", max_length=255, required=True)
    if "domain" in item:
        values["domain"] = fields.domain(item["domain"], "domain")
    if "plan" in item:
        values["plan"] = fields.text(item["plan"], "plan", max_length=100)
    if "currency" in item:
        values["currency"] = fields.currency(item["currency"], "currency")
    if "stage" in item:
        values["stage"] = fields.choice(item["stage"], "stage", LifecycleStage, "lifecycle stage")
    if "renewal_date" in item:
        values["renewal_date"] = fields.renewal_date(item["renewal_date"], "renewal_date")
    if "traits" in item:
        values["traits"] = fields.checked_json(item["traits"], "traits")
    if "card_exp_month" in item:
        values["card_exp_month"] = fields.whole(
            item["card_exp_month"], "card_exp_month", low=1, high=12
        )
    if "card_exp_year" in item:
        values["card_exp_year"] = fields.card_year(item["card_exp_year"], "card_exp_year")
    owner = None
    if "owner_email" in item:
        owner = fields.email(item["owner_email"], "owner_email")
        if not owner:
            values["owner_id"] = None
    return external, values, owner or None


def _assign(instance, values: dict[str, Any]) -> bool:
    changed = False
    for attr, value in values.items():
        if attr == "traits":
            stored = instance.traits if isinstance(instance.traits, dict) else {}
            value = {**stored, **value}
        if getattr(instance, attr) != value:
            setattr(instance, attr, value)
            changed = True
    return changed


def accounts_write(outcome: Outcome, items: Sequence[Any], source: str) -> None:
    now = timezone.now()
    parsed = []
    for index, raw in enumerate(items):
        try:
            parsed.append((index, *_account_parse(raw)))
        except ItemError as error:
            outcome.reject(index, error)
    owners = owners_by_email({owner for *_, owner in parsed if owner})
    existing = {
        account.external_id: account
        for account in Account.objects.select_for_update(no_key=True)
        .filter(external_id__in={external for _, external, _, _ in parsed})
        .annotate(has_revenue=Exists(RevenueChange.objects.filter(account=OuterRef("pk"))))
        .order_by("pk")
    }
    state: dict[str, Account] = {}
    dirty: set[str] = set()
    moves: list[tuple[str, str, str]] = []
    for index, external, values, owner in parsed:
        if owner:
            if owner not in owners:
                outcome.reject(
                    index, ItemError("owner_email", f"no active CSM or admin has {owner!r}")
                )
                continue
            values = {**values, "owner_id": owners[owner]}
        account = state.get(external) or existing.get(external)
        if account is None:
            if "name" not in values:
                outcome.reject(
                    index,
                    Waiting(
                        "name",
                        "is required for a new account",
                        kind="account",
                        external_id=external,
                    ),
                )
                continue
            account = Account(
                external_id=external, currency=settings.TENURE_BASE_CURRENCY, created_at=now
            )
            account.has_revenue = False
            dirty.add(external)
        elif (
            "currency" in values and values["currency"] != account.currency and account.has_revenue
        ):
            outcome.reject(
                index,
                ItemError("currency", "cannot change once revenue is recorded in another"),
            )
            continue
        before = account.stage if account.pk or external in state else ""
        if _assign(account, values) or (external not in existing and external not in state):
            dirty.add(external)
            outcome.accept(index)
        else:
            outcome.duplicate(index)
        if "stage" in values and values["stage"] != before:
            moves.append((external, before, values["stage"]))
        state[external] = account
    written = [state[external] for external in sorted(dirty)]
    for account in written:
        account.pk = None  # the upsert finds existing rows by external id
        account.updated_at = now
    services.records_upsert(model=Account, objects=written, fields=ACCOUNT_FIELDS)
    accounts_touched_on_commit(account.pk for account in written)
    parked.wake(accounts=[a.external_id for a in written if a.external_id not in existing])
    StageChange.objects.bulk_create(
        StageChange(
            account_id=state[external].pk,
            from_stage=before,
            to_stage=after,
            source=source,
            changed_at=now,
        )
        for external, before, after in moves
    )


@transaction.atomic
def accounts_upsert(*, items: Sequence[Any], source: str = STAGE_CHANGE_SOURCE) -> IngestResult:
    """Create or update accounts by external id (``id``).

    Fields: ``name`` (required for a new account), ``domain``, ``plan``, ``currency``,
    ``owner_email`` (an active CSM or admin), ``stage``, ``renewal_date``, ``traits`` (merged
    into the stored ones), ``card_exp_month``, ``card_exp_year``. Absent fields are left as
    they are. Stage moves are recorded with ``source`` as their author.
    """
    outcome = Outcome(len(items))
    accounts_write(outcome, items, fields.source_label(source))
    return outcome.result()


CONTACT_FIELDS = (
    "account_id",
    "email",
    "name",
    "role",
    "locale",
    "birthday",
    "do_not_survey",
    "traits",
)


def _contact_parse(raw: Any) -> tuple[str, str | None, dict[str, Any]]:
    item = fields.item(raw)
    external = fields.external_id(item.get("id"), "id")
    values: dict[str, Any] = {}
    if "email" in item:
        values["email"] = fields.email(item["email"], "email")
    if "name" in item:
        values["name"] = fields.text(item["name"], "name", max_length=255)
    if "role" in item:
        values["role"] = fields.text(item["role"], "role", max_length=120)
    if "locale" in item:
        values["locale"] = fields.locale(item["locale"], "locale")
    if "birthday" in item:
        values["birthday"] = fields.birthday(item["birthday"], "birthday")
    if "do_not_survey" in item:
        values["do_not_survey"] = fields.boolean(item["do_not_survey"], "do_not_survey")
    if "traits" in item:
        values["traits"] = fields.checked_json(item["traits"], "traits")
    account = fields.optional_external_id(item.get("account"), "account")
    return external, account, values


def contacts_write(outcome: Outcome, items: Sequence[Any]) -> None:
    now = timezone.now()
    parsed = []
    for index, raw in enumerate(items):
        try:
            parsed.append((index, *_contact_parse(raw)))
        except ItemError as error:
            outcome.reject(index, error)
    accounts = db.pk_by_external_id(Account, {account for _, _, account, _ in parsed if account})
    existing = {
        contact.external_id: contact
        for contact in Contact.objects.select_for_update(no_key=True)
        .filter(external_id__in={external for _, external, _, _ in parsed})
        .order_by("pk")
    }
    state: dict[str, Contact] = {}
    dirty: set[str] = set()
    for index, external, account, values in parsed:
        if account is not None:
            if account not in accounts:
                error = Waiting(
                    "account", f"unknown account {account!r}", kind="account", external_id=account
                )
                outcome.reject(index, error)
                continue
            values = {**values, "account_id": accounts[account]}
        contact = state.get(external) or existing.get(external)
        is_new = contact is None
        if contact is None:
            if account is None:
                error = Waiting(
                    "account", "is required for a new contact", kind="contact", external_id=external
                )
                outcome.reject(index, error)
                continue
            contact = Contact(external_id=external, created_at=now)
        elif values.get("do_not_survey") is False and contact.do_not_survey:
            outcome.reject(
                index,
                ItemError("do_not_survey", "a contact's opt-out is lifted only in Tenure itself"),
            )
            continue
        if _assign(contact, values) or is_new:
            dirty.add(external)
            outcome.accept(index)
        else:
            outcome.duplicate(index)
        state[external] = contact
    written = [state[external] for external in sorted(dirty)]
    for contact in written:
        contact.pk = None
        contact.updated_at = now
    services.records_upsert(model=Contact, objects=written, fields=CONTACT_FIELDS)
    parked.wake(contacts=[c.external_id for c in written if c.external_id not in existing])


@transaction.atomic
def contacts_upsert(*, items: Sequence[Any], source: str = "api") -> IngestResult:
    """Create or update contacts by external id (``id``).

    Fields: ``account`` (external id; required for a new contact, moves an existing one),
    ``email``, ``name``, ``role``, ``locale``, ``birthday``, ``do_not_survey`` (an opt-out
    can be set here but only lifted in Tenure), ``traits`` (merged). Absent fields are left
    as they are; a new contact without ``locale`` has none (unknown), so its survey pages
    follow the respondent's browser rather than a language guessed for them.
    """
    fields.source_label(source)
    outcome = Outcome(len(items))
    contacts_write(outcome, items)
    return outcome.result()


TICKET_FIELDS = (
    "account_id",
    "contact_id",
    "subject",
    "priority",
    "status",
    "opened_at",
    "closed_at",
)


def _ticket_parse(raw: Any) -> tuple[str, str | None, str | None, dict[str, Any]]:
    item = fields.item(raw)
    external = fields.external_id(item.get("id"), "id")
    values: dict[str, Any] = {}
    if "subject" in item:
        values["subject"] = fields.text(item["subject"], "subject", max_length=500, required=True)
    if "priority" in item:
        values["priority"] = fields.choice(item["priority"], "priority", TicketPriority, "priority")
    if "opened_at" in item:
        values["opened_at"] = fields.moment(item["opened_at"], "opened_at")
    if "closed_at" in item:
        values["closed_at"] = fields.optional_moment(item["closed_at"], "closed_at")
    if "status" in item:
        values["status"] = fields.choice(item["status"], "status", TicketStatus, "ticket status")
    if values.get("status") == TicketStatus.OPEN and values.get("closed_at"):
        raise ItemError("closed_at", "an open ticket has no closed_at")
    account = fields.optional_external_id(item.get("account"), "account")
    contact = fields.optional_external_id(item.get("contact"), "contact")
    return external, account, contact, values


def _ticket_settle(ticket: Ticket, values: dict[str, Any], now: dt.datetime) -> None:
    """Keep status and closed_at in agreement: closing without a time closes now, a closed_at
    closes the ticket, reopening clears closed_at."""
    status = values.get("status")
    if status == TicketStatus.OPEN:
        values["closed_at"] = None
    elif status == TicketStatus.CLOSED:
        if not values.get("closed_at"):
            values["closed_at"] = ticket.closed_at or now
    elif values.get("closed_at"):
        values["status"] = TicketStatus.CLOSED
    elif "closed_at" in values:
        values["status"] = TicketStatus.OPEN


@transaction.atomic
def tickets_upsert(*, items: Sequence[Any]) -> IngestResult:
    """Create or update support tickets by external id (``id``).

    Fields: ``account`` and ``subject`` and ``opened_at`` (required for a new ticket),
    ``contact``, ``priority``, ``status`` (open/closed), ``closed_at``. A ticket that moves to
    closed sends ``customers.signals.ticket_closed`` once the request has committed (closes
    older than a week are backfill and send nothing).
    """
    now = timezone.now()
    outcome = Outcome(len(items))
    parsed = []
    for index, raw in enumerate(items):
        try:
            parsed.append((index, *_ticket_parse(raw)))
        except ItemError as error:
            outcome.reject(index, error)
    accounts = db.pk_by_external_id(Account, {p[2] for p in parsed if p[2]})
    contact_rows = db.by_external_id(Contact, {p[3] for p in parsed if p[3]}, "pk", "account_id")
    contacts = {external: (pk, account_id) for external, pk, account_id in contact_rows}
    existing = {
        ticket.external_id: ticket
        for ticket in Ticket.objects.select_for_update(no_key=True)
        .filter(external_id__in={p[1] for p in parsed})
        .order_by("pk")
    }
    was_closed = {external: t.status == TicketStatus.CLOSED for external, t in existing.items()}
    state: dict[str, Ticket] = {}
    dirty: set[str] = set()
    for index, external, account, contact, values in parsed:
        ticket = state.get(external) or existing.get(external)
        is_new = ticket is None
        try:
            if account is not None:
                if account not in accounts:
                    raise ItemError("account", f"unknown account {account!r}")
                values["account_id"] = accounts[account]
            if is_new:
                for field in ("account", "subject", "opened_at"):
                    if field not in values and f"{field}_id" not in values:
                        raise ItemError(field, "is required for a new ticket")
                ticket = Ticket(external_id=external)
            account_id = values.get("account_id", ticket.account_id)
            if contact is not None:
                if contact not in contacts:
                    raise ItemError("contact", f"unknown contact {contact!r}")
                contact_id, contact_account = contacts[contact]
                if contact_account != account_id:
                    raise ItemError("contact", f"{contact!r} belongs to another account")
                values["contact_id"] = contact_id
            _ticket_settle(ticket, values, now)
            opened_at = values.get("opened_at", ticket.opened_at)
            closed_at = values.get("closed_at", ticket.closed_at)
            if closed_at is not None and closed_at < opened_at:
                raise ItemError("closed_at", "is before opened_at")
        except ItemError as error:
            outcome.reject(index, error)
            continue
        if _assign(ticket, values) or is_new:
            dirty.add(external)
            outcome.accept(index)
        else:
            outcome.duplicate(index)
        state[external] = ticket
    written = [state[external] for external in sorted(dirty)]
    for ticket in written:
        ticket.pk = None
    services.records_upsert(model=Ticket, objects=written, fields=TICKET_FIELDS)
    accounts_touched_on_commit(ticket.account_id for ticket in written)
    for ticket in written:
        if (
            ticket.status == TicketStatus.CLOSED
            and not was_closed.get(ticket.external_id, False)
            and ticket.closed_at >= now - TICKET_CLOSE_SIGNAL_WINDOW
        ):
            transaction.on_commit(
                partial(ticket_closed.send, sender=Ticket, ticket_id=ticket.pk), robust=True
            )
    return outcome.result()
