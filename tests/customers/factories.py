"""The customers app's test builders: plain functions (not fixtures), so they never collide
with fixtures a test module defines. One builder per model, whatever the test is about."""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal

from django.utils import timezone

from customers.models import Account, Contact, DailyUsage, Ticket
from customers.services import api_key_create

SCRIPT = "<script>alert(1)</script>"
_ids = itertools.count(1)


def make_account(external_id: str | None = None, **fields) -> Account:
    """An account; ``mrr`` also sets ``mrr_base`` (as for a base-currency account) unless
    given."""
    n = next(_ids)
    fields.setdefault("name", f"Account {n:05d}")
    if "mrr" in fields:
        fields["mrr"] = Decimal(fields["mrr"])
        fields.setdefault("mrr_base", fields["mrr"])
    return Account.objects.create(external_id=external_id or f"account-{n}", **fields)


def make_accounts(count: int, **fields) -> list[Account]:
    """Many accounts in one INSERT, for pagination and query-count tests."""
    start = next(_ids)
    for _ in range(count):
        next(_ids)
    return Account.objects.bulk_create(
        Account(external_id=f"bulk-{start}-{i}", name=f"Bulk {start}-{i:04d}", **fields)
        for i in range(count)
    )


def make_contact(
    account: Account | None = None, external_id: str | None = None, **fields
) -> Contact:
    """A contact with an email address (an account of its own unless given)."""
    n = next(_ids)
    fields.setdefault("email", f"person{n}@example.com")
    fields.setdefault("name", f"Person {n}")
    return Contact.objects.create(
        account=account or make_account(), external_id=external_id or f"contact-{n}", **fields
    )


def make_ticket(account: Account, **fields) -> Ticket:
    n = next(_ids)
    fields.setdefault("external_id", f"ticket-{n}")
    fields.setdefault("subject", f"Ticket {n}")
    fields.setdefault("opened_at", timezone.now() - dt.timedelta(days=2))
    return Ticket.objects.create(account=account, **fields)


def add_usage(account: Account, day: dt.date, **counts: int) -> None:
    DailyUsage.objects.bulk_create(
        DailyUsage(account=account, day=day, type=kind, count=count)
        for kind, count in counts.items()
    )


def make_key(name: str = "test sync") -> str:
    """A new API key's secret."""
    _api_key, key = api_key_create(name=name)
    return key
