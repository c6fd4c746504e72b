"""How fast ``seed_demo`` builds the demo company, against a bare COPY of as many usage events.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/tenure .venv/bin/python \
        benchmarks/seed.py --accounts 100000

Creates the database ``tenure_bench_seed`` next to DATABASE_URL's (dropped at the end) and
migrates it. Then, in turn:

- the seed: ``manage.py seed_demo --accounts N`` in this process, timed from the call to its
  return — everything it does (customers data, the derivations, the rebuilt indexes, and
  other apps' demo data from ``APP_SEEDERS``), whose parts are printed on their own;
- the baseline: the usage-event table is emptied and the same number of minimal events
  (an account, a type, two timestamps, an id) is COPYed into it in one transaction, as
  migrated, with its indexes and foreign keys: the obvious way to load that many rows.

Last line: ``seed_seconds=… events=… events_per_s=… copy_events_per_s=… ratio=…`` with
``events_per_s = events / seed_seconds`` and ``ratio = events_per_s / copy_events_per_s``.
The target is ``seed_seconds ≤ 300`` at 100k accounts (about 10M events).
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the project's packages, when run as a script
from benchmarks.bench_db import admin_execute, with_db  # noqa: E402

BENCH_DB = "tenure_bench_seed"


class _Tee:
    """The command's output, shown live and kept for its figures."""

    def __init__(self):
        self.lines: list[str] = []

    def write(self, text: str) -> None:
        self.lines.append(text)
        sys.stdout.write(text)
        sys.stdout.flush()

    def flush(self) -> None:
        sys.stdout.flush()

    def getvalue(self) -> str:
        return "".join(self.lines)


def _seed(accounts: int, seed: int, events_per_account: int) -> tuple[float, int, str]:
    from django.core.management import call_command

    from customers.models import UsageEvent

    out = _Tee()
    started = time.perf_counter()
    call_command(
        "seed_demo",
        accounts=accounts,
        seed=seed,
        events_per_account=events_per_account,
        stdout=out,
    )
    seconds = time.perf_counter() - started
    return seconds, UsageEvent.objects.count(), out.getvalue()


def _bare_copy(events: int) -> float:
    """COPY ``events`` minimal rows into the emptied usage-event table; seconds taken."""
    from django.db import connection, transaction

    from customers.models import Account, UsageEvent

    table = UsageEvent._meta.db_table
    account_ids = list(Account.objects.order_by("pk").values_list("pk", flat=True))
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {table}")
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        sql = (
            f"COPY {table} (account_id, contact_id, occurred_at, received_at, source, type, "
            "properties, event_id) FROM STDIN"
        )
        with cursor.cursor.copy(sql) as copy:
            per_account = max(1, events // len(account_ids))
            block = 100_000
            for start in range(0, events, block):
                lines = []
                for n in range(start, min(events, start + block)):
                    account = account_ids[min(n // per_account, len(account_ids) - 1)]
                    stamp = (
                        f"2025-{1 + n % 12:02d}-{1 + n % 28:02d} {n % 24:02d}:{n % 60:02d}:00+00"
                    )
                    lines.append(f"{account}\t\\N\t{stamp}\t{stamp}\tbench\tlogin\t{{}}\tb{n}\n")
                copy.write("".join(lines))
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--events-per-account", type=int, default=100)
    args = parser.parse_args()

    base_url = os.environ.get("DATABASE_URL", "")
    if not base_url.startswith(("postgres://", "postgresql://")):
        raise SystemExit("Set DATABASE_URL to a PostgreSQL server (its database is not touched).")
    admin_execute(base_url, f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)")
    admin_execute(base_url, f"CREATE DATABASE {BENCH_DB}")
    os.environ.update(
        {
            "DATABASE_URL": with_db(base_url, BENCH_DB),
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DEBUG": "false",
            "SECRET_KEY": "benchmark-only-" + secrets.token_hex(16),
            "LOG_LEVEL": "WARNING",
            "TENURE_VAR_DIR": str(ROOT / "var" / "bench"),
        }
    )
    os.environ.pop("REDIS_URL", None)
    try:
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        print(f"seed_demo --accounts {args.accounts} --seed {args.seed} …", flush=True)
        seed_seconds, events, output = _seed(args.accounts, args.seed, args.events_per_account)
        customers = re.search(r"Customers data loaded in ([\d.]+) s", output)
        print(
            f"seed: {seed_seconds:.1f} s for {events} events "
            f"(customers data {customers.group(1) if customers else '?'} s)",
            flush=True,
        )
        print(f"baseline: bare COPY of {events} events into the emptied table …", flush=True)
        copy_seconds = _bare_copy(events)
        print(f"baseline: {copy_seconds:.1f} s", flush=True)
    finally:
        from django.db import connections

        connections.close_all()
        admin_execute(base_url, f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)")

    events_per_s = events / seed_seconds
    copy_events_per_s = events / copy_seconds
    print(
        f"seed_seconds={seed_seconds:.1f} events={events} events_per_s={events_per_s:.0f} "
        f"copy_events_per_s={copy_events_per_s:.0f} ratio={events_per_s / copy_events_per_s:.2f}"
    )


if __name__ == "__main__":
    main()
