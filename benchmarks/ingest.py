"""Usage events per second through the ingest API, against raw COPY into the same table.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/tenure .venv/bin/python \
        benchmarks/ingest.py --accounts 1000 --events 200000

Creates the database ``tenure_bench_api`` next to DATABASE_URL's (dropped at the end),
migrates it, creates ``--accounts`` accounts with two contacts each and an API key, and
serves the project's WSGI app with gunicorn (``--workers``, production settings). Then, in
alternating rounds so a neighbour's load on a shared machine weighs on both figures alike:

- the API: ``POST /api/v1/events`` with batches of 1000 events (distinct ids, a live stream:
  timestamps moving forward, random accounts, most events with a contact, a few reserved
  types), ``--clients`` threads keeping requests in flight; every response must accept 1000;
- the baseline: the same number of rows written with one psycopg ``COPY`` into the same
  ``customers_usageevent`` table (no rollups, no checks: the floor of what PostgreSQL takes).

The gunicorn workers' resident memory is sampled throughout. Last line:
``api_events_per_s=… copy_events_per_s=… rss_start_mb=… rss_end_mb=… peak_rss_mb=… ratio=…``
with ratio = api / copy (targets: api ≥ 50000, ratio ≥ 0.15, memory flat).
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import os
import random
import secrets
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the project's packages, when run as a script
from benchmarks.bench_db import admin_execute, with_db  # noqa: E402
from benchmarks.bench_server import Gunicorn  # noqa: E402

BENCH_DB = "tenure_bench_api"
BATCH = 1000
TYPES = ["login", "feature_used", "feature_used", "feature_used", "page_viewed", "data_export"]
FEATURES = ["reports", "dashboards", "exports", "alerts", "integrations"]


# --- setup --------------------------------------------------------------------------------


def _seed(accounts: int) -> tuple[str, dict[str, int], dict[str, int]]:
    """Accounts with two contacts each and an API key; returns the key and id maps."""
    from django.core.management import call_command
    from django.db import connection

    from customers.models import Account, Contact
    from customers.services import api_key_create

    call_command("migrate", verbosity=0)
    Account.objects.bulk_create(
        [Account(external_id=f"acc-{i}", name=f"Bench {i}") for i in range(accounts)],
        batch_size=2000,
    )
    account_ids = dict(Account.objects.values_list("external_id", "pk"))
    Contact.objects.bulk_create(
        [
            Contact(account_id=account_ids[f"acc-{i}"], external_id=f"u-{i}-{k}")
            for i in range(accounts)
            for k in range(2)
        ],
        batch_size=2000,
    )
    contact_ids = dict(Contact.objects.values_list("external_id", "pk"))
    _api_key, key = api_key_create(name="benchmark")
    connection.close()
    return key, account_ids, contact_ids


# --- the events ---------------------------------------------------------------------------


class Stream:
    """Batch ``n`` of a deterministic live stream: the API and COPY write the same rows."""

    def __init__(self, accounts: int, events: int):
        self.accounts = accounts
        self.start = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
        self.step = dt.timedelta(days=1) / max(events, 1)

    def batch(self, n: int) -> list[dict]:
        rng = random.Random(n)
        items = []
        for i in range(BATCH):
            position = n * BATCH + i
            account = rng.randrange(self.accounts)
            item = {
                "id": f"evt-{position}",
                "account": f"acc-{account}",
                "type": rng.choice(TYPES),
                "timestamp": (self.start + self.step * position).isoformat(),
                "properties": {"feature": rng.choice(FEATURES), "duration_ms": rng.randrange(5000)},
            }
            if rng.random() < 0.8:
                item["contact"] = f"u-{account}-{rng.randrange(2)}"
            items.append(item)
        return items


# --- the API ------------------------------------------------------------------------------


def _post(port: int, key: str, body: bytes) -> bytes:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        conn.request(
            "POST",
            "/api/v1/events",
            body=body,
            headers={
                "Content-Type": "application/json",
                "Authorization": f"Bearer {key}",
                "Host": "127.0.0.1",
            },
        )
        response = conn.getresponse()
        data = response.read()
        if response.status != 200:
            raise SystemExit(f"HTTP {response.status}: {data[:300]!r}")
        return data
    finally:
        conn.close()


def _api_round(port: int, key: str, stream: Stream, batches: list[int], clients: int) -> float:
    """Send the batches with ``clients`` in flight; returns wall seconds. The bodies are
    built before the clock starts, so the figure is the server's, not the client's."""
    import orjson

    lock = threading.Lock()
    todo = [(n, orjson.dumps({"events": stream.batch(n)})) for n in batches]
    failures: list[BaseException] = []

    def client():
        while True:
            with lock:
                if not todo or failures:
                    return
                n, body = todo.pop()
            try:
                data = orjson.loads(_post(port, key, body))
                if data["accepted"] != BATCH:
                    raise SystemExit(f"batch {n}: {data}")
            except BaseException as error:  # stop every client and report it below
                with lock:
                    failures.append(error)
                return

    threads = [threading.Thread(target=client) for _ in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise SystemExit(f"the API failed: {failures[0]}")
    return time.perf_counter() - started


# --- the COPY baseline --------------------------------------------------------------------


def _copy_round(
    url: str, stream: Stream, batches: list[int], accounts: dict, contacts: dict
) -> float:
    """COPY the same rows; they are encoded before the clock starts, like the API's bodies."""
    import orjson
    import psycopg

    now = dt.datetime.now(dt.UTC)
    rows = [
        (
            accounts[item["account"]],
            contacts.get(item.get("contact")),
            item["type"],
            dt.datetime.fromisoformat(item["timestamp"]),
            orjson.dumps(item["properties"]).decode(),
            "copy",
            item["id"],
            now,
        )
        for n in batches
        for item in stream.batch(n)
    ]
    columns = "account_id, contact_id, type, occurred_at, properties, source, event_id, received_at"
    with psycopg.connect(url) as conn:
        started = time.perf_counter()
        sql = f"COPY customers_usageevent ({columns}) FROM STDIN"
        with conn.cursor() as cursor, cursor.copy(sql) as copy:
            for row in rows:
                copy.write_row(row)
        conn.commit()
        return time.perf_counter() - started


# --- main ---------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--accounts", type=int, default=1000)
    parser.add_argument("--events", type=int, default=200_000, help="a multiple of 1000")
    parser.add_argument("--clients", type=int, default=4, help="client threads in flight")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--rounds", type=int, default=4, help="alternating API/COPY rounds")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()

    base_url = os.environ.get("DATABASE_URL", "")
    if not base_url.startswith(("postgres://", "postgresql://")):
        raise SystemExit(
            "benchmarks/ingest.py measures PostgreSQL: set DATABASE_URL=postgres://… "
            "(its database is not touched; the benchmark makes its own)."
        )
    batches = args.events // BATCH
    if batches < args.rounds or args.accounts < 1:
        raise SystemExit(f"--events must be at least {BATCH * args.rounds} and --accounts ≥ 1")
    bench_url = with_db(base_url, BENCH_DB)
    admin_execute(base_url, f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)")
    admin_execute(base_url, f"CREATE DATABASE {BENCH_DB}")
    env = {
        **os.environ,
        "DATABASE_URL": bench_url,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DEBUG": "false",
        "SECRET_KEY": "benchmark-only-" + secrets.token_hex(16),
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_COOKIES": "false",  # plain HTTP on 127.0.0.1: no redirect to HTTPS
        "LOG_LEVEL": "WARNING",
        "TENURE_VAR_DIR": str(ROOT / "var" / "bench"),
    }
    env.pop("REDIS_URL", None)  # nothing on this path is queued
    os.environ.update(env)
    server = None
    try:
        import django

        django.setup()
        print(f"seeding {args.accounts} accounts, {2 * args.accounts} contacts", flush=True)
        key, account_ids, contact_ids = _seed(args.accounts)
        stream = Stream(args.accounts, args.events)
        server = Gunicorn("config.wsgi:application", workers=args.workers, env=env, timeout=120)
        # one warm-up batch per worker (imports, connections), outside the measurement
        warmup = Stream(args.accounts, args.events)
        warmup.start -= dt.timedelta(days=2)
        for n in range(args.workers):
            _post(server.port, key, _warm_body(warmup, batches + n))
        rss_start = max(server.worker_rss_mb())
        peak = [rss_start]
        sampling = threading.Event()

        def sample():
            while not sampling.wait(0.25):
                peak.append(max(server.worker_rss_mb(), default=0))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        api_seconds = copy_seconds = 0.0
        size = -(-batches // args.rounds)
        for index in range(args.rounds):
            chunk = list(range(index * size, min((index + 1) * size, batches)))
            order = ["api", "copy"] if index % 2 == 0 else ["copy", "api"]
            for name in order:
                if name == "api":
                    api_seconds += _api_round(server.port, key, stream, chunk, args.clients)
                else:
                    copy_seconds += _copy_round(bench_url, stream, chunk, account_ids, contact_ids)
            print(f"round {index + 1}/{args.rounds} done", flush=True)
        sampling.set()
        sampler.join()
        rss_end = max(server.worker_rss_mb())
        _check(batches)
        events = batches * BATCH
        api_rate, copy_rate = events / api_seconds, events / copy_seconds
        print(
            f"api: {events} events in {api_seconds:.1f} s; copy: {events} rows in "
            f"{copy_seconds:.1f} s; gunicorn worker RSS {rss_start:.0f} → {rss_end:.0f} MB",
            flush=True,
        )
        print(
            f"api_events_per_s={api_rate:.0f} copy_events_per_s={copy_rate:.0f} "
            f"rss_start_mb={rss_start:.0f} rss_end_mb={rss_end:.0f} "
            f"peak_rss_mb={max(peak):.0f} ratio={api_rate / copy_rate:.3f}",
            flush=True,
        )
    finally:
        if server is not None:
            server.stop()
        from django.db import connections

        connections.close_all()
        if not args.keep:
            admin_execute(base_url, f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)")


def _warm_body(stream: Stream, n: int) -> bytes:
    import orjson

    items = stream.batch(n)
    for item in items:
        item["id"] = "warm-" + item["id"]
    return orjson.dumps({"events": items})


def _check(batches: int) -> None:
    """The API path must have stored every event once and counted each in the rollups."""
    from django.db import connection
    from django.db.models import Sum

    from customers.models import DailyUsage, UsageEvent

    expected = batches * BATCH
    api = UsageEvent.objects.filter(source="api")
    stored = api.filter(event_id__startswith="evt-").count()
    warm = api.filter(event_id__startswith="warm-").count()
    counted = DailyUsage.objects.aggregate(total=Sum("count"))["total"] or 0
    connection.close()
    if stored != expected or counted != expected + warm:
        raise SystemExit(f"expected {expected} events, stored {stored}, rollups {counted - warm}")


if __name__ == "__main__":
    main()
