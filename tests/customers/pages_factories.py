"""Builders for the customer page tests: plain functions (not fixtures) so they never collide
with fixtures that other test modules in this folder define."""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal

from django.utils import timezone

from customers.models import Account, Contact, DailyUsage, Ticket

SCRIPT = "<script>alert(1)</script>"
_ids = itertools.count(1)


def make_account(**fields) -> Account:
    """An account; ``mrr`` also sets ``mrr_base`` (USD accounts) unless given."""
    n = next(_ids)
    fields.setdefault("external_id", f"page-acc-{n}")
    fields.setdefault("name", f"Account {n:05d}")
    if "mrr" in fields:
        fields["mrr"] = Decimal(fields["mrr"])
        fields.setdefault("mrr_base", fields["mrr"])
    return Account.objects.create(**fields)


def make_accounts(count: int, **fields) -> list[Account]:
    """Many accounts in one INSERT, for pagination and query-count tests."""
    start = next(_ids)
    for _ in range(count):
        next(_ids)
    return Account.objects.bulk_create(
        Account(external_id=f"bulk-{start}-{i}", name=f"Bulk {start}-{i:04d}", **fields)
        for i in range(count)
    )


def make_contact(account: Account, **fields) -> Contact:
    n = next(_ids)
    fields.setdefault("external_id", f"page-con-{n}")
    fields.setdefault("email", f"person{n}@example.com")
    fields.setdefault("name", f"Person {n}")
    return Contact.objects.create(account=account, **fields)


def make_ticket(account: Account, **fields) -> Ticket:
    n = next(_ids)
    fields.setdefault("external_id", f"page-tkt-{n}")
    fields.setdefault("subject", f"Ticket {n}")
    fields.setdefault("opened_at", timezone.now() - dt.timedelta(days=2))
    return Ticket.objects.create(account=account, **fields)


def add_usage(account: Account, day: dt.date, **counts: int) -> None:
    DailyUsage.objects.bulk_create(
        DailyUsage(account=account, day=day, type=kind, count=count)
        for kind, count in counts.items()
    )
