"""Load a deterministic demo SaaS company: ``manage.py seed_demo --accounts N --seed S``.

The customers data is built by :mod:`demo.customers`; other apps add theirs through
:data:`APP_SEEDERS`, called in order after it, in the same transaction.
"""

from __future__ import annotations

import importlib
import random
import time
from collections.abc import Callable

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection, transaction

from customers.models import Account
from demo.customers import DEFAULT_EVENTS_PER_ACCOUNT, demo_flush, demo_now, demo_seed

# Other apps' demo data (kept in this app, beside the customers data), as dotted paths to
# callables ``fn(*, rng, now, stdout)``: ``rng`` is a ``random.Random(seed + k)`` for the k-th
# entry (1-based) so each app's data is deterministic on its own, ``now`` the same fixed
# midnight the customers data was built against, ``stdout`` the command's output for progress
# lines. They run after the accounts, contacts and usage exist, inside the same transaction. An
# entry whose module does not exist yet is skipped, so a seeder can be listed before it ships,
# e.g. "demo.loyalty.seed_loyalty".
APP_SEEDERS: list[str] = [
    "demo.surveys.seed_surveys",
    "demo.health.seed_health",
    "demo.health.seed_segments",
    "demo.loyalty.seed_loyalty",
    "demo.metrics.seed_metrics",
    "demo.rfm.seed_rfm",
]


def _load_seeder(path: str) -> Callable | None:
    module_path, _, name = path.rpartition(".")
    try:
        module = importlib.import_module(module_path)
    except ModuleNotFoundError as error:
        # Only a missing seeder module is skipped; a broken import inside it is a bug to see.
        if error.name and (module_path == error.name or module_path.startswith(error.name + ".")):
            return None
        raise
    seeder = getattr(module, name, None)
    if not callable(seeder):
        raise CommandError(f"APP_SEEDERS entry {path!r}: {module_path} has no callable {name!r}.")
    return seeder


class Command(BaseCommand):
    help = (
        "Load a deterministic demo SaaS company: accounts, contacts, revenue history, usage, "
        "tickets (and other apps' demo data). Refuses a database that already has accounts "
        "unless --if-empty (then does nothing) or --flush-demo (replaces earlier demo data)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--accounts", type=int, default=600, help="accounts (default 600)")
        parser.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
        parser.add_argument(
            "--months", type=int, default=18, help="history to generate, in months (default 18)"
        )
        parser.add_argument(
            "--events-per-account",
            type=int,
            default=DEFAULT_EVENTS_PER_ACCOUNT,
            help=(
                "mean usage events per account (default %(default)s: 600 accounts stay small, "
                "100000 accounts give about 10M events)"
            ),
        )
        parser.add_argument(
            "--chunk-size", type=int, default=1000, help="accounts generated and loaded at a time"
        )
        parser.add_argument(
            "--if-empty", action="store_true", help="do nothing when any account exists"
        )
        parser.add_argument(
            "--flush-demo",
            action="store_true",
            help="first remove earlier demo data (demo- external ids); other data is kept",
        )

    def handle(self, *args, **options) -> None:
        for option, minimum in (
            ("accounts", 1),
            ("months", 1),
            ("events_per_account", 0),
            ("chunk_size", 1),
        ):
            if options[option] < minimum:
                flag = "--" + option.replace("_", "-")
                raise CommandError(f"{flag} must be at least {minimum}.")
        if Account.objects.exists():
            if options["if_empty"]:
                self.stdout.write("Accounts already exist: demo data not loaded (--if-empty).")
                return
            if not options["flush_demo"]:
                raise CommandError(
                    "The database already has accounts. Use --flush-demo to replace earlier "
                    "demo data (other data is kept), or --if-empty to skip."
                )
        started = time.perf_counter()
        now = demo_now()
        seed = options["seed"]
        self.stdout.write(
            f"Seeding {options['accounts']} demo accounts (seed {seed}, "
            f"{options['months']} months up to {now:%Y-%m-%d} 00:00 UTC)…"
        )
        with transaction.atomic():
            if options["flush_demo"]:
                removed = demo_flush()
                self.stdout.write(f"Removed {removed} earlier demo accounts and their data.")
            stats = demo_seed(
                accounts=options["accounts"],
                seed=seed,
                now=now,
                months=options["months"],
                events_per_account=options["events_per_account"],
                chunk_size=options["chunk_size"],
                progress=lambda line: self.stdout.write(f"  {line}"),
            )
            self.stdout.write(f"Customers data loaded in {stats.seconds:.1f} s.")
            for k, path in enumerate(APP_SEEDERS, start=1):
                seeder = _load_seeder(path)
                if seeder is None:
                    self.stdout.write(f"  {path}: not available yet, skipped")
                    continue
                seeder_started = time.perf_counter()
                seeder(rng=random.Random(seed + k), now=now, stdout=self.stdout)
                seconds = time.perf_counter() - seeder_started
                self.stdout.write(f"  {path}: done in {seconds:.1f} s")
        if connection.vendor == "postgresql":
            # The app seeders bulk-load tables autovacuum has not seen yet: without fresh
            # statistics the first dashboards plan a survey's 500k answers as a few thousand
            # (measured: satisfaction ↔ churn over a minute at 100k accounts, 0.5 s after).
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")
        elapsed = time.perf_counter() - started
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo data: {stats.accounts} accounts, {stats.contacts} contacts, "
                f"{stats.events} events ({stats.daily_rows} daily rows), "
                f"{stats.revenue_changes} revenue changes, {stats.tickets} tickets "
                f"in {elapsed:.1f} s."
            )
        )
