"""How long the portfolio takes to answer at a large book, against the bare minimum.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/tenure .venv/bin/python \
        benchmarks/portfolio.py --accounts 100000

Creates the database ``tenure_bench_portfolio`` next to DATABASE_URL's (dropped at the end),
migrates it and bulk-inserts ``--accounts`` accounts spread over 20 CSMs, five plans, every
stage, two years of renewal dates, with an open ticket on every tenth account. Then, in-process
through Django's test client (full middleware, a logged-in CSM), it times each htmx request of
the portfolio (the table partial) for the common filter and sort combinations, the full page,
and a streamed CSV export of the whole book.

The baseline is a bare view behind the same middleware that runs the irreducible work of a
page: ``SELECT`` 50 accounts by primary key and ``COUNT(*)`` them. Each figure is the median of
``--repeat`` runs after one warm-up. Last line:
``<case>_ms=… … baseline_ms=… export_rows_per_s=… ratio=…`` with ratio = the slowest
portfolio case / baseline.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the project's packages, when run as a script
from benchmarks.bench_db import admin_execute, fresh_database  # noqa: E402

BENCH_DB = "tenure_bench_portfolio"

CASES = {
    "mine": {},
    "all_by_name": {"owner": "all"},
    "all_by_mrr": {"owner": "all", "sort": "-mrr"},
    "all_by_stage": {"owner": "all", "sort": "stage"},
    "all_by_activity": {"owner": "all", "sort": "-activity"},
    "search": {"owner": "all", "q": "ltd 0004"},
    "renewal_90": {"owner": "all", "renewal": "90", "sort": "renewal"},
    "plan_mrr_range": {"owner": "all", "plan": "Pro", "mrr_min": "500", "mrr_max": "2000"},
    "stage_filter": {"owner": "all", "stage": "renewal", "sort": "-mrr"},
    "page_500": {"owner": "all", "page": "500"},
}


def bare_page(request):
    from django.db import connection
    from django.http import HttpResponse

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id, name, plan, mrr, currency, stage, renewal_date, owner_id "
            "FROM customers_account ORDER BY id LIMIT 50"
        )
        rows = cursor.fetchall()
        cursor.execute("SELECT COUNT(*) FROM customers_account")
        count = cursor.fetchone()[0]
    return HttpResponse(f"{count} {len(rows)}")


def __getattr__(name):  # this module doubles as the URLconf: the product's, plus the bare view
    if name == "urlpatterns":
        from django.urls import include, path

        return [path("bare/", bare_page), path("", include("config.urls"))]
    raise AttributeError(name)


def _seed(accounts: int):
    import datetime as dt
    import random
    from decimal import Decimal

    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    from accounts.roles import Role
    from accounts.services import user_create
    from customers.models import Account, LifecycleStage, Ticket

    call_command("migrate", verbosity=0)
    rng = random.Random(42)
    csms = [
        user_create(email=f"csm{i}@example.com", password=None, role=Role.CSM, full_name=f"CSM {i}")
        for i in range(20)
    ]
    plans = ["Free", "Starter", "Pro", "Business", "Enterprise"]
    today = timezone.localdate()
    now = timezone.now()
    batch = []
    for i in range(accounts):
        mrr = Decimal(rng.choice([0, 49, 99, 299, 499, 999, 1999, 4999]) + rng.randint(0, 99))
        batch.append(
            Account(
                external_id=f"bench-{i}",
                name=f"{rng.choice(['Acme', 'Globex', 'Initech', 'Umbrella', 'Hooli'])} "
                f"{i:06d} {rng.choice(['Ltd', 'Inc', 'GmbH', 'AS', 'AB'])}",
                domain=f"company{i}.example.com",
                plan=rng.choice(plans),
                owner=rng.choice(csms) if rng.random() > 0.05 else None,
                stage=rng.choice(LifecycleStage.values),
                renewal_date=today + dt.timedelta(days=rng.randint(-60, 730))
                if rng.random() > 0.1
                else None,
                mrr=mrr,
                mrr_base=mrr,
                last_activity_at=now - dt.timedelta(minutes=rng.randint(0, 60 * 24 * 120))
                if rng.random() > 0.2
                else None,
            )
        )
        if len(batch) == 5000:
            Account.objects.bulk_create(batch)
            batch = []
    Account.objects.bulk_create(batch)
    ids = list(Account.objects.values_list("pk", flat=True)[::10])
    Ticket.objects.bulk_create(
        [Ticket(account_id=a, external_id=f"t-{a}", subject="Help", opened_at=now) for a in ids],
        batch_size=5000,
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return csms[0]


def _time(fn, repeat: int) -> float:
    fn()  # warm-up
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--keep", action="store_true", help="keep the benchmark database")
    args = parser.parse_args()

    base_url = fresh_database(BENCH_DB)
    os.environ.setdefault("ALLOWED_HOSTS", "testserver")
    os.environ.setdefault("SECURE_COOKIES", "false")  # the test client speaks plain HTTP
    import django

    django.setup()
    from django.conf import settings
    from django.db import connections
    from django.test import Client

    settings.ROOT_URLCONF = __name__.replace("__main__", "benchmarks.portfolio")
    try:
        started = time.perf_counter()
        csm = _seed(args.accounts)
        print(f"seeded {args.accounts} accounts in {time.perf_counter() - started:.1f}s")
        client = Client()
        client.force_login(csm)
        htmx = {"HX-Request": "true"}

        def get(params: dict, headers=None):
            response = client.get("/customers/", params, headers=headers or htmx)
            assert response.status_code == 200, response.status_code
            return response

        figures = {}
        for name, params in CASES.items():
            figures[name] = _time(lambda params=params: get(params), args.repeat)
            print(f"{name}: {figures[name]:.1f} ms")
        figures["full_page"] = _time(lambda: get({"owner": "all"}, headers={}), args.repeat)
        baseline = _time(lambda: client.get("/bare/"), args.repeat)
        print(f"baseline: {baseline:.1f} ms")

        start = time.perf_counter()
        response = client.get("/customers/export.csv", {"owner": "all"})
        lines = sum(chunk.count(b"\n") for chunk in response.streaming_content) - 1
        export_s = time.perf_counter() - start
        assert lines == args.accounts, lines
        slowest = max(figures.values())
        summary = " ".join(f"{name}_ms={value:.1f}" for name, value in figures.items())
        print(
            f"{summary} baseline_ms={baseline:.1f} export_rows_per_s={lines / export_s:.0f} "
            f"ratio={slowest / baseline:.2f}"
        )
    finally:
        connections.close_all()
        if not args.keep:
            admin_execute(base_url, f"DROP DATABASE IF EXISTS {BENCH_DB}")


if __name__ == "__main__":
    main()
