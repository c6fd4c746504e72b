"""How fast the metrics dashboards answer at scale, against the same figures computed in pandas.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/tenure .venv/bin/python \
        benchmarks/dashboards.py --accounts 100000

Needs pandas (``pip install -e '.[bench]'``). Makes the database ``tenure_bench_dash`` next
to DATABASE_URL's (that one is never touched) and fills it with ``seed_demo --accounts N``:
18 months of revenue history, about 11 invitations per 1,000 accounts a day and their
answers, payments. A database already seeded with N accounts is reused (``--reseed`` to
start again). Then, in one run:

- **the product**: the nightly jobs that feed the dashboards (the monthly revenue facts and
  RFM) are run and timed once; then each dashboard (Overview, Revenue, Retention,
  Satisfaction, RFM) and the NPS survey's results page over 12 months is requested
  ``--requests`` times through Django's test client as the demo admin, whole response
  rendered: p50 and p95 per page, and the SQL queries of one request;
- **the baseline**: the same figures computed in pandas from the raw rows loaded out of
  PostgreSQL (``benchmarks/dashboards_pandas.py``): MRR and its movements, churn, GRR, NRR,
  ARPA and quick ratio per month; cohort retention; NPS/CSAT/CES per month with margins; the
  response rate; the RFM grid. Each is timed load included, as an analyst's notebook would run;
- **a check**: every month's closing MRR and five movements from pandas equal the product's
  (to the cent); mismatches are counted and printed.

The same pages narrowed by the biggest plan and the first saved segment are timed too and
reported (``filtered_max_p95_ms``), outside the targets and the ratio.

Last line: ``<page>_p95_ms=… … max_queries=… ours_ms=… pandas_ms=… mismatches=… ratio=R``,
with ``ours_ms`` the sum of the pages' p50 and ``pandas_ms`` the sum of the baseline's times,
both over the pages with a baseline of their own (all but the Overview, whose figures are the
revenue book's), and ``ratio = pandas_ms / ours_ms``. Targets: every p95 ≤ 300 ms, every page ≤ 15 queries,
``ratio ≥ 3``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import secrets
import statistics
import sys
import time
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the project's packages, when run as a script
from benchmarks.bench_db import admin_execute, with_db  # noqa: E402

BENCH_DB = "tenure_bench_dash"
SEED_TABLE = "bench_dash_seed"
PAGES = ("overview", "revenue", "retention", "satisfaction", "rfm", "results")


def _seeded_with(bench_url: str) -> int | None:
    """The number of accounts the benchmark database was seeded with, or None when it does
    not exist or its seed never finished."""
    import psycopg

    try:
        with psycopg.connect(bench_url, autocommit=True) as conn:
            row = conn.execute(f"SELECT accounts FROM {SEED_TABLE}").fetchone()  # noqa: S608
    except psycopg.Error:
        return None
    return None if row is None else row[0]


def _seed(accounts: int) -> None:
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    call_command("seed_demo", accounts=accounts, verbosity=1)
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TABLE {SEED_TABLE} (accounts integer)")
        cursor.execute(f"INSERT INTO {SEED_TABLE} VALUES (%s)", [accounts])  # noqa: S608


def _timed(fn, *args, **kwargs) -> tuple[float, object]:
    started = time.perf_counter()
    result = fn(*args, **kwargs)
    return time.perf_counter() - started, result


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(share * len(ordered) + 0.5) - 1))
    return ordered[index]


def _nightly() -> dict[str, float]:
    """The jobs that feed the dashboards, as beat runs them each night."""
    from django.db import connection

    from metrics.rfm import rfm_recompute
    from metrics.tasks import rebuild_account_months

    # The nightly task, not only the service: it also fits the default cohorts (cached).
    facts_s, _ = _timed(rebuild_account_months)
    rfm_s, _ = _timed(rfm_recompute)
    # What autovacuum does within a minute of a rewrite this size: fresh planner statistics.
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return {"facts_rebuild_s": facts_s, "rfm_s": rfm_s}


def _demo_admin():
    """The demo's admin (``ensure_demo_admin``): every dashboard as the team sees it."""
    from django.contrib.auth import get_user_model

    from demo.management.commands.ensure_demo_admin import DEMO_EMAIL

    return get_user_model().objects.get(email=DEMO_EMAIL)


def _urls() -> dict[str, str]:
    from django.urls import reverse

    from surveys.models import Survey

    nps = Survey.objects.filter(kind="nps").order_by("pk").first()
    return {
        "overview": reverse("metrics:index"),
        "revenue": reverse("metrics:revenue"),
        "retention": reverse("metrics:retention"),
        "satisfaction": reverse("metrics:satisfaction"),
        "rfm": reverse("metrics:rfm"),
        "results": reverse("surveys:results", args=[nps.slug]) + "?period=365",
    }


class _QueryCounter:
    """Counts the SQL statements of one request (a ``connection.execute_wrapper``): works
    with DEBUG off, as the benchmark runs."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        return execute(sql, params, many, context)


def _filtered_urls() -> dict[str, str]:
    """The same pages narrowed as a CSM would: by the biggest plan and the first saved
    segment. Reported beside the targets, not part of them or of the ratio."""
    from django.db.models import Count

    from customers.models import Account, Segment

    urls = _urls()
    plan = (
        Account.objects.exclude(plan="")
        .values("plan")
        .annotate(n=Count("pk"))
        .order_by("-n")
        .values_list("plan", flat=True)
        .first()
    )
    segment = Segment.objects.order_by("pk").values_list("pk", flat=True).first()
    filtered = {}
    for page in ("revenue", "retention", "satisfaction"):
        if plan:
            filtered[f"{page}_plan"] = f"{urls[page]}?plan={plan}"
        if segment is not None:
            filtered[f"{page}_segment"] = f"{urls[page]}?segment={segment}"
    if plan:
        filtered["results_plan"] = f"{urls['results']}&plan={plan}"
    return filtered


def _product(requests: int, urls: dict[str, str] | None = None) -> dict[str, dict[str, float]]:
    """p50/p95 and queries per page, through the whole Django stack."""
    from django.db import connections
    from django.test import Client

    client = Client()
    client.force_login(_demo_admin())
    get = partial(client.get, secure=True)  # production settings redirect plain HTTP
    figures: dict[str, dict[str, float]] = {}
    for page, url in (urls or _urls()).items():
        for _ in range(2):  # warm: templates compiled, the plan cache primed
            response = get(url)
            if response.status_code != 200:
                raise SystemExit(f"{page}: {url} answered {response.status_code}")
        queries = _QueryCounter()
        with connections["default"].execute_wrapper(queries):
            get(url)
        times = []
        for _ in range(requests):
            seconds, _response = _timed(get, url)
            times.append(seconds * 1000)
        figures[page] = {
            "p50": statistics.median(times),
            "p95": _percentile(times, 0.95),
            "queries": queries.count,
        }
        print(
            f"  {page:<22} p50 {figures[page]['p50']:7.1f} ms  p95 {figures[page]['p95']:7.1f} ms"
            f"  {figures[page]['queries']} queries  ({url})",
            flush=True,
        )
    return figures


def _baseline(bench_url: str) -> tuple[dict[str, float], object]:
    """Each dashboard's figures in pandas, load included; the revenue book for the check."""
    import psycopg

    from benchmarks import dashboards_pandas as pdx
    from metrics.filters import default_filters
    from surveys.models import Survey

    filters = default_filters()
    first = filters.start
    months = len(filters.months)
    since = dt.datetime.combine(first, dt.time(), tzinfo=dt.UTC)
    nps = Survey.objects.filter(kind="nps").order_by("pk").first()
    times: dict[str, float] = {}
    with psycopg.connect(bench_url) as conn:
        started = time.perf_counter()
        book = pdx.revenue_book(conn, first=first, months=months)
        revenue = pdx.revenue_figures(book)
        times["revenue"] = time.perf_counter() - started
        started = time.perf_counter()
        # Cohorts reach back to the first payment: the whole history.
        history_first = first.replace(year=first.year - 1)
        full = pdx.revenue_book(conn, first=history_first, months=months + 12)
        pdx.cohort_figures(full)
        pdx.revenue_figures(full)
        times["retention"] = time.perf_counter() - started
        started = time.perf_counter()
        for kind in ("nps", "csat", "ces"):
            pdx.survey_trend(conn, kind=kind, since=since)
        times["satisfaction"] = time.perf_counter() - started
        started = time.perf_counter()
        pdx.rfm_segments(conn, today=dt.date.today())
        times["rfm"] = time.perf_counter() - started
        started = time.perf_counter()
        pdx.survey_trend(conn, kind="nps", since=since)
        pdx.response_rate(conn, survey_id=nps.pk, since=since)
        times["results"] = time.perf_counter() - started
    for page, seconds in times.items():
        print(f"  {page:<13} {seconds * 1000:7.1f} ms", flush=True)
    return {page: seconds * 1000 for page, seconds in times.items()}, (book, revenue)


def _mismatches(revenue) -> int:
    """Months where pandas and the product disagree on closing MRR or a movement."""
    from metrics.filters import default_filters
    from metrics.selectors.revenue import revenue_report

    _book, figures = revenue
    report = revenue_report(filters=default_filters(), user=_demo_admin())
    wrong = 0
    for i, month in enumerate(report.months):
        ours = {
            "mrr": month.closing,
            "new": month.movements.new,
            "expansion": month.movements.expansion,
            "contraction": month.movements.contraction,
            "churn": month.movements.churn,
            "reactivation": month.movements.reactivation,
        }
        for name, value in ours.items():
            if abs(float(value) - float(figures[name][i])) > 0.01:
                wrong += 1
                print(
                    f"  mismatch {month.month} {name}: ours {value} pandas {figures[name][i]:.2f}"
                )
    return wrong


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=20, help="timed requests per page")
    parser.add_argument("--reseed", action="store_true", help="seed again even if it matches")
    parser.add_argument("--database", default=BENCH_DB, help="the benchmark's own database")
    args = parser.parse_args()

    base_url = os.environ.get("DATABASE_URL", "")
    if not base_url.startswith(("postgres://", "postgresql://")):
        raise SystemExit(
            "benchmarks/dashboards.py measures PostgreSQL: set DATABASE_URL=postgres://… "
            "(its database is not touched; the benchmark makes its own)."
        )
    if args.accounts < 1 or args.requests < 1:
        raise SystemExit("--accounts and --requests must be at least 1")
    if not args.database.replace("_", "").isalnum():
        raise SystemExit("--database: letters, digits and underscores only")
    try:
        import pandas  # noqa: F401
    except ImportError:
        raise SystemExit("the baseline needs pandas: pip install -e '.[bench]'") from None
    bench_url = with_db(base_url, args.database)
    reuse = not args.reseed and _seeded_with(bench_url) == args.accounts
    if not reuse:
        admin_execute(base_url, f"DROP DATABASE IF EXISTS {args.database} WITH (FORCE)")
        admin_execute(base_url, f"CREATE DATABASE {args.database}")
    os.environ.update(
        {
            "DATABASE_URL": bench_url,
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DEBUG": "false",
            "ALLOWED_HOSTS": "testserver",
            "SECRET_KEY": "benchmark-only-" + secrets.token_hex(16),
            "LOG_LEVEL": "WARNING",
            "TENURE_VAR_DIR": str(ROOT / "var" / "bench"),
        }
    )
    os.environ.pop("REDIS_URL", None)  # tasks run eagerly: the benchmark times the pages
    import django

    django.setup()
    from django.core.management import call_command

    if reuse:
        call_command("migrate", verbosity=0)
        print(f"reusing {args.database}: {args.accounts} accounts already seeded", flush=True)
    else:
        print(f"seeding {args.accounts} accounts with seed_demo", flush=True)
        seconds, _ = _timed(_seed, args.accounts)
        print(f"seeded in {seconds:.1f}s", flush=True)
    call_command("ensure_demo_admin", verbosity=0)
    nightly = _nightly()
    print(
        f"nightly: revenue facts {nightly['facts_rebuild_s']:.2f}s, RFM {nightly['rfm_s']:.2f}s",
        flush=True,
    )
    print(f"product: {args.requests} requests per page", flush=True)
    product = _product(args.requests)
    print("filtered pages (reported, not targets):", flush=True)
    filtered = _product(max(5, args.requests // 2), _filtered_urls())
    print("baseline: pandas, load included", flush=True)
    baseline, revenue = _baseline(bench_url)
    mismatches = _mismatches(revenue)

    # The ratio compares the pages that have a baseline of their own. The Overview's figures
    # are the revenue book's last months: timing them again in pandas would count that work
    # twice, so the Overview is timed against its targets but left out of the ratio.
    ours_ms = sum(product[page]["p50"] for page in baseline)
    pandas_ms = sum(baseline.values())
    fields = [f"{page}_p95_ms={product[page]['p95']:.0f}" for page in PAGES]
    fields += [
        f"max_queries={max(int(product[page]['queries']) for page in PAGES)}",
        f"filtered_max_p95_ms={max((f['p95'] for f in filtered.values()), default=0):.0f}",
        f"facts_rebuild_s={nightly['facts_rebuild_s']:.2f}",
        f"rfm_s={nightly['rfm_s']:.2f}",
        f"accounts={args.accounts}",
        f"ours_ms={ours_ms:.0f}",
        f"pandas_ms={pandas_ms:.0f}",
        f"mismatches={mismatches}",
        f"ratio={pandas_ms / ours_ms:.2f}",
    ]
    print(" ".join(fields))


if __name__ == "__main__":
    main()
