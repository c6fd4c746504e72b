"""Building the demo company (:func:`demo_seed`) and removing it (:func:`demo_flush`)."""

from __future__ import annotations

import bisect
import datetime as dt
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import connection, transaction

from accounts.models import User
from accounts.roles import Role
from accounts.services import user_create
from customers.ingest import BILLING_EVENT_TYPES
from customers.models import (
    Account,
    Contact,
    DailyUsage,
    ExchangeRate,
    LifecycleStage,
    Note,
    RevenueChange,
    StageChange,
    Ticket,
    UsageEvent,
)
from customers.services import accounts_refresh_revenue, money
from demo.customers.catalogue import (
    CSMS,
    DAY,
    DEFAULT_EVENTS_PER_ACCOUNT,
    DEMO_PREFIX,
    DEMO_SOURCE,
    FIXED_PROPS,
    FIXED_TYPES,
    NORMALISE_SAMPLE,
    NOTE_TEMPLATES,
    compact_json,
)
from demo.customers.sink import (
    ACCOUNT_COLUMNS,
    BULK_MODELS,
    CONTACT_COLUMNS,
    DAILY_COLUMNS,
    EVENT_COLUMNS,
    NOTE_COLUMNS,
    REVENUE_COLUMNS,
    STAGE_COLUMNS,
    TICKET_COLUMNS,
    Batch,
    PostgresSink,
    Sink,
    copy_text,
    demo_sink,
    postgres_prepare,
)
from demo.customers.story import Company, Story, add_months, story_tell
from demo.customers.usage import tickets_draw, usage_draw


@dataclass
class SeedStats:
    accounts: int = 0
    contacts: int = 0
    events: int = 0
    daily_rows: int = 0
    revenue_changes: int = 0
    tickets: int = 0
    seconds: float = 0.0
    bulk_tables: list[str] = field(default_factory=list)


def _ensure_csms() -> list[User]:
    """The demo's customer success team: CSM role, no usable password (the demo admin can set
    one to log in as them)."""
    users = []
    for email, full_name in CSMS:
        user = User.objects.filter(email__iexact=email).first()
        if user is None:
            user = user_create(email=email, password=None, role=Role.CSM, full_name=full_name)
        users.append(user)
    return users


def _exchange_rates(company: Company) -> dict[str, tuple[list[dt.date], list[Decimal]]]:
    """Monthly rates for the demo currencies (existing ones are kept), read back so MRR in the
    base currency is computed with exactly the rates the services would use."""
    clock = company.clock
    rng = random.Random(f"tenure-demo:{company.seed}:fx")
    base_per_usd = company.per_usd.get(company.base, Decimal(1))
    months = []
    day = add_months(dt.date(clock.d0.year, clock.d0.month, 1), -1)
    while day <= clock.now_dt.date():
        months.append(day)
        day = add_months(day, 1)
    rows = []
    foreign = [c[0] for c in company.currencies if c[0] != company.base]
    for code in foreign:
        drift = Decimal(1)
        for month in months:
            drift *= Decimal(1 + rng.uniform(-0.02, 0.02)).quantize(Decimal("0.0001"))
            rate = (company.per_usd[code] / base_per_usd * drift).quantize(Decimal("0.0001"))
            rows.append(ExchangeRate(currency=code, per_base=rate, valid_from=month))
    ExchangeRate.objects.bulk_create(rows, ignore_conflicts=True)
    rates: dict[str, tuple[list[dt.date], list[Decimal]]] = {}
    for code in foreign:
        found = ExchangeRate.objects.filter(currency=code).order_by("valid_from")
        pairs = list(found.values_list("valid_from", "per_base"))
        rates[code] = ([d for d, _ in pairs], [r for _, r in pairs])
    return rates


def _to_base(rates, currency: str, base: str, amount: Decimal, on: dt.date) -> Decimal:
    """:func:`customers.services.currency_to_base`, without a query per row."""
    if currency == base:
        return money(amount)
    days, values = rates[currency]
    position = bisect.bisect_right(days, on) - 1
    if position < 0:
        raise ValueError(f"No {currency} rate on or before {on}")
    return money(Decimal(amount) / values[position])


def demo_seed(
    *,
    accounts: int,
    seed: int,
    now: dt.datetime,
    months: int = 18,
    events_per_account: int = DEFAULT_EVENTS_PER_ACCOUNT,
    chunk_size: int = 1000,
    progress: Callable[[str], None] | None = None,
) -> SeedStats:
    """Build the demo company in one transaction: nothing half-written if it fails.

    Call it on a database without demo accounts (see :func:`demo_flush`).
    """
    started = time.perf_counter()

    def say(message: str) -> None:
        if progress:
            progress(f"{message}  ({time.perf_counter() - started:.1f} s)")

    company = Company(seed=seed, now=now, months=months, events_per_account=events_per_account)
    stats = SeedStats()
    postgres = connection.vendor == "postgresql"
    with transaction.atomic():
        csms = _ensure_csms()
        rates = _exchange_rates(company)
        # The events-per-account scale: the mean weight of the first stories (all of them for
        # small seeds), so the total lands near accounts × events_per_account.
        sample = [story_tell(company, i) for i in range(min(accounts, NORMALISE_SAMPLE))]
        company.scale = sum(s.weight for s in sample) / len(sample) or 1.0
        sink = demo_sink(company.clock)
        restore: dict[str, list[str]] = {}
        if postgres:
            restore = postgres_prepare(sink.cursor)
            stats.bulk_tables = list(restore)
            if restore:
                say(f"loading empty tables without secondary indexes: {', '.join(restore)}")
        sink.start([Account, Contact])
        first_id = sink.next_id[Account]
        try:
            for chunk_start in range(0, accounts, chunk_size):
                stories = [
                    sample[i] if i < len(sample) else story_tell(company, i)
                    for i in range(chunk_start, min(accounts, chunk_start + chunk_size))
                ]
                sink.submit(_render(company, sink, stories, csms, rates, stats))
                say(
                    f"accounts {stats.accounts}/{accounts}, contacts {stats.contacts}, "
                    f"events {stats.events}, daily rows {stats.daily_rows}"
                )
        finally:
            sink.finish()
        sink.close()
        account_table = Account._meta.db_table
        if postgres:
            sink.cursor.execute("SET CONSTRAINTS ALL DEFERRED")
            rebuilt = []
            for table, statements in restore.items():
                if table != account_table:
                    table_started = time.perf_counter()
                    for statement in statements:
                        sink.cursor.execute(statement)
                    rebuilt.append(f"{table} {time.perf_counter() - table_started:.1f} s")
            if rebuilt:
                say(f"indexes and constraints rebuilt: {', '.join(rebuilt)}")
            for model in BULK_MODELS:
                sink.cursor.execute(f"ANALYZE {model._meta.db_table}")
        # MRR, plan, first payment and churn: derived set-based by the service that owns them.
        accounts_refresh_revenue(
            accounts=Account.objects.filter(pk__gte=first_id, pk__lt=sink.next_id[Account]),
            now=company.clock.now_dt,
        )
        for statement in restore.get(account_table, []):
            sink.cursor.execute(statement)
        say("revenue derived")
    stats.seconds = time.perf_counter() - started
    return stats


def _render(company, sink: Sink, stories: list[Story], csms, rates, stats) -> Batch:
    """A chunk of stories as rows in load order (parents first)."""
    clock, at, now_dt = company.clock, company.clock.at, company.clock.now_dt
    accounts, contacts, revenue, stages, tickets, notes, events, daily = ([] for _ in range(8))
    dates, hms, postgres = sink.dates, sink.hms, isinstance(sink, PostgresSink)
    for story in stories:
        account_id = sink.allocate(Account, 1)
        first_contact = sink.allocate(Contact, len(story.contacts))
        ids = list(range(first_contact, first_contact + len(story.contacts)))
        rng = company.rng(story.index, "rows")
        owner = csms[story.owner].pk if story.owner is not None else None
        story_tickets = tickets_draw(company, story, rng)

        # Usage events and their daily rollups, rendered straight into the load format; the
        # latest event of each person gives last seen and the account's last activity.
        days, secs, kinds, who, extra = usage_draw(company, story, story_tickets, rng)
        types = FIXED_TYPES + [t for t, _ in extra]
        activity = [t not in BILLING_EVENT_TYPES for t in types]
        prefix = f"{story.external_id}-e"
        last_seen = [-1] * (len(ids) + 1)  # the extra slot collects events by nobody
        if postgres:
            head = f"{account_id}\t"
            person = [*map(str, ids), "\\N"]
            kind_text = sink.kind_text + [copy_text(f"{DEMO_SOURCE}\t{t}\t{p}") for t, p in extra]
            for n, (d, s, k, c) in enumerate(zip(days, secs, kinds, who, strict=True)):
                stamp = f"{dates[d]} {hms[s]}"
                events.append(f"{head}{person[c]}\t{stamp}\t{stamp}\t{kind_text[k]}\t{prefix}{n}\n")
                if activity[k] and d * DAY + s > last_seen[c]:
                    last_seen[c] = d * DAY + s
        else:
            person = [*ids, None]
            props = FIXED_PROPS + [p for _, p in extra]
            for n, (d, s, k, c) in enumerate(zip(days, secs, kinds, who, strict=True)):
                stamp = f"{dates[d]} {hms[s]}"
                events.append(
                    (account_id, person[c], stamp, stamp, DEMO_SOURCE, types[k], props[k], f"{prefix}{n}")
                )  # fmt: skip
                if activity[k] and d * DAY + s > last_seen[c]:
                    last_seen[c] = d * DAY + s
        counts = sorted(Counter(zip(days, map(types.__getitem__, kinds), strict=True)).items())
        if postgres:
            daily.extend(f"{account_id}\t{dates[d]}\t{t}\t{c}\n" for (d, t), c in counts)
        else:
            daily.extend((account_id, dates[d], t, c) for (d, t), c in counts)
        stats.events += len(days)
        last_activity = max(last_seen)
        last_seen.pop()

        month, year = story.card or (None, None)
        stage = story.stages[-1][2] if story.stages else LifecycleStage.AWARENESS
        accounts.append(
            (account_id, story.external_id, story.name, story.domain, story.plan, story.currency,
             owner, stage, story.renewal_date, compact_json(story.traits), Decimal(0), Decimal(0),
             month, year, len(story.failures), at(max(story.failures)[0]) if story.failures else None,
             at(last_activity) if last_activity >= 0 else None, at(story.signup), now_dt)
        )  # fmt: skip
        for contact, contact_id, seen in zip(story.contacts, ids, last_seen, strict=True):
            contacts.append(
                (contact_id, account_id, contact["external_id"], contact["email"], contact["name"],
                 contact["role"], contact["locale"], contact["birthday"], contact["do_not_survey"],
                 "{}", at(seen) if seen >= 0 else None, at(min(contact["created_at"], clock.now - 1)),
                 now_dt)
            )  # fmt: skip
        for n, (kind, when, mrr, plan) in enumerate(story.revenue):
            effective = at(when)
            base = _to_base(rates, story.currency, company.base, mrr, effective.date())
            revenue.append(
                (account_id, f"{story.external_id}-r{n:03d}", kind, effective, mrr,
                 story.currency, base, plan, effective)
            )  # fmt: skip
        for when, from_stage, to_stage, by_owner in story.stages:
            by = owner if by_owner else None
            stages.append((account_id, from_stage, to_stage, by, DEMO_SOURCE, at(when)))
        for t in story_tickets:
            closed = at(t["closed"]) if t["closed"] is not None else None
            tickets.append(
                (account_id, ids[t["contact"]], t["external_id"], t["subject"], t["priority"],
                 "open" if closed is None else "closed", at(t["opened"]), closed)
            )  # fmt: skip
        if owner and story.contacts and rng.random() < 0.25:
            for _ in range(rng.randint(1, 3)):
                body = rng.choice(NOTE_TEMPLATES).format(name=rng.choice(story.contacts)["name"])
                notes.append((account_id, owner, body, at(rng.randrange(story.signup, clock.now))))

    stats.accounts += len(accounts)
    stats.contacts += len(contacts)
    stats.revenue_changes += len(revenue)
    stats.tickets += len(tickets)
    stats.daily_rows += len(daily)
    return Batch(
        rows=[
            (Account, ACCOUNT_COLUMNS, accounts),
            (Contact, CONTACT_COLUMNS, contacts),
            (RevenueChange, REVENUE_COLUMNS, revenue),
            (StageChange, STAGE_COLUMNS, stages),
            (Ticket, TICKET_COLUMNS, tickets),
            (Note, NOTE_COLUMNS, notes),
        ],
        rendered=[(UsageEvent, EVENT_COLUMNS, events), (DailyUsage, DAILY_COLUMNS, daily)],
    )


def demo_flush() -> int:
    """Remove every demo account and what hangs off it; nothing else. Events and rollups go
    first as plain DELETEs (Django's fast path) so the cascade does not walk millions of rows
    in Python."""
    demo_accounts = Account.objects.filter(external_id__startswith=DEMO_PREFIX)
    with transaction.atomic():
        UsageEvent.objects.filter(account__in=demo_accounts).delete()
        DailyUsage.objects.filter(account__in=demo_accounts).delete()
        count = demo_accounts.count()
        demo_accounts.delete()
    return count
