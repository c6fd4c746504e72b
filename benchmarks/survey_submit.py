"""How fast respondents can submit answers, against a bare one-INSERT Django view.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/tenure .venv/bin/python \
        benchmarks/survey_submit.py --accounts 3000 --clients 50 --workers 4

Creates the database ``tenure_bench_survey`` next to DATABASE_URL's (dropped at the end),
migrates it and pre-creates ``--accounts`` accounts, each with a contact and an NPS invitation.
Then, in turn, it serves with gunicorn (same worker count, same settings and middleware):

- the survey: ``POST /s/<token>/`` with a score, each request to a distinct invitation — the
  real submit path, including the CSRF check and the one-response-per-link guard; in production
  mode the follow-up work is drained afterwards by a worker and checked (every detractor has
  its follow-up);
- the baseline: a bare view behind the same middleware that does one INSERT.

``--clients`` threads (http.client, one connection per request: gunicorn's sync workers close
them anyway) keep that many requests in flight. Last line:
``survey_rps=… survey_p99_ms=… bare_rps=… bare_p99_ms=… rps_ratio=… p99_ratio=… ratio=…``
with ratio = rps_ratio (target ≥ 0.5; p99_ratio target ≤ 2).
"""

from __future__ import annotations

import argparse
import http.client
import os
import queue
import secrets
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the project's packages, when run as a script
from benchmarks.bench_db import admin_execute, with_db  # noqa: E402
from benchmarks.bench_server import Gunicorn  # noqa: E402

BENCH_DB = "tenure_bench_survey"
CSRF = secrets.token_hex(16)  # a 32-character CSRF secret: cookie and form field match

# --- the baseline app (served by gunicorn as ``benchmarks.survey_submit:bare_application()``) --


def bare_insert(request):
    from django.db import connection
    from django.http import HttpResponse

    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO bench_bare (payload, created_at) VALUES (%s, now())",
            [request.POST.get("score", "")],
        )
    return HttpResponse(status=204)


bare_insert.login_required = False  # what @login_not_required sets, without importing auth


def _urlpatterns():
    from django.urls import path

    return [path("bare/", bare_insert)]


def __getattr__(name):  # the URLconf of the baseline app, built after Django is set up
    if name == "urlpatterns":
        return _urlpatterns()
    raise AttributeError(name)


def bare_application():
    """The product's settings and middleware, with a URLconf of one view."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django
    from django.conf import settings

    django.setup()
    settings.ROOT_URLCONF = __name__
    from django.core.handlers.wsgi import WSGIHandler

    return WSGIHandler()


# --- setup --------------------------------------------------------------------------------------


def _seed(accounts: int) -> list[str]:
    """Accounts with one contact and one sent NPS invitation each; returns the tokens."""
    import datetime as dt

    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    from customers.models import Account, Contact
    from surveys.models import Invitation, Survey
    from surveys.tokens import token_new

    call_command("migrate", verbosity=0)
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE bench_bare (id bigserial PRIMARY KEY, payload text NOT NULL, "
            "created_at timestamptz NOT NULL)"
        )
    now = timezone.now()
    survey = Survey.objects.create(slug="nps", name="NPS", kind="nps")
    Account.objects.bulk_create(
        [Account(external_id=f"b-{i}", name=f"Bench {i}") for i in range(accounts)],
        batch_size=2000,
    )
    account_ids = list(Account.objects.order_by("pk").values_list("pk", flat=True))
    Contact.objects.bulk_create(
        [
            Contact(account_id=a, external_id=f"bc-{a}", email=f"p{a}@example.com")
            for a in account_ids
        ],
        batch_size=2000,
    )
    tokens, invitations = [], []
    for contact_id in Contact.objects.order_by("pk").values_list("pk", flat=True):
        token, digest = token_new()
        tokens.append(token)
        invitations.append(
            Invitation(
                survey=survey,
                contact_id=contact_id,
                trigger="manual",
                token_hash=digest,
                sent_at=now,
                expires_at=now + dt.timedelta(days=60),
            )
        )
    Invitation.objects.bulk_create(invitations, batch_size=2000)
    connection.close()
    return tokens


# --- load ---------------------------------------------------------------------------------------


def _post(port: int, path: str, score: int) -> tuple[int, float]:
    body = urlencode(
        {"step": "score", "score": score, "lang": "en", "csrfmiddlewaretoken": CSRF}
    ).encode()
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "Cookie": f"csrftoken={CSRF}",
        "Host": "127.0.0.1",
    }
    started = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request("POST", path, body=body, headers=headers)
        response = conn.getresponse()
        response.read()
        status = response.status
    finally:
        conn.close()
    return status, time.perf_counter() - started


def _load(port: int, paths: list[str], clients: int, expect: int) -> tuple[float, list[float]]:
    """Send every request with ``clients`` in flight; wall seconds and each latency."""
    work: queue.SimpleQueue = queue.SimpleQueue()
    for index, path in enumerate(paths):
        work.put((path, index % 11))
    latencies: list[float] = []
    failures: list[int] = []
    lock = threading.Lock()

    def client():
        mine, bad = [], []
        while True:
            try:
                path, score = work.get_nowait()
            except queue.Empty:
                break
            status, seconds = _post(port, path, score)
            mine.append(seconds)
            if status != expect:
                bad.append(status)
        with lock:
            latencies.extend(mine)
            failures.extend(bad)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    if failures:
        raise SystemExit(f"{len(failures)} requests failed, e.g. HTTP {failures[0]}")
    return elapsed, latencies


def _purge_queue() -> None:
    from config.celery import app

    app.control.purge()


def _drain(env: dict, *, expected: int, timeout: float = 600) -> float:
    """Run a Celery worker with its beat until the outbox of answers is announced and every
    detractor's follow-up exists; seconds it took."""
    from django.db import connection

    from surveys.models import FollowUp

    started = time.perf_counter()
    worker = subprocess.Popen(
        [
            str(ROOT / ".venv" / "bin" / "celery"),
            "-A",
            "config",
            "worker",
            "--pool",
            "solo",
            "--loglevel",
            "WARNING",
            "--without-heartbeat",
            "--without-mingle",
            "--without-gossip",
            "--beat",
            "--schedule",
            str(ROOT / "var" / "bench" / "celerybeat-schedule"),
        ],
        env=env,
        cwd=ROOT,
    )
    try:
        while time.perf_counter() - started < timeout:
            if FollowUp.objects.count() >= expected:
                return time.perf_counter() - started
            connection.close()
            time.sleep(0.5)
        raise SystemExit("the worker did not drain the queue in time")
    finally:
        worker.terminate()
        worker.wait(30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--accounts", type=int, default=3000, help="invitations to answer")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers (both apps)")
    parser.add_argument("--warmup", type=int, default=200, help="requests before measuring")
    parser.add_argument("--rounds", type=int, default=4, help="alternating measuring rounds")
    parser.add_argument(
        "--redis",
        action=argparse.BooleanOptionalAction,
        default=bool(os.environ.get("REDIS_URL")),
        help="production mode (default when REDIS_URL is set): answers wait in the outbox "
        "and a worker with its beat runs the follow-ups and tags after the measurement",
    )
    args = parser.parse_args()

    base_url = os.environ.get("DATABASE_URL", "")
    if not base_url.startswith(("postgres://", "postgresql://")):
        raise SystemExit("Set DATABASE_URL to a PostgreSQL server (its database is not touched).")
    if args.accounts <= args.warmup:
        raise SystemExit("--accounts must be larger than --warmup")
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
        "SECURE_COOKIES": "false",
        "LOG_LEVEL": "WARNING",
        "TENURE_VAR_DIR": str(ROOT / "var" / "bench"),
    }
    if not args.redis:
        env.pop("REDIS_URL", None)  # embedded mode: after-commit work runs in the request
    elif not env.get("REDIS_URL"):
        raise SystemExit("--redis needs REDIS_URL (production mode: Celery through Redis)")
    os.environ.update(env)
    try:
        import django

        django.setup()
        mode = "production (Celery via Redis)" if args.redis else "embedded (tasks inline)"
        print(f"mode: {mode}; seeding {args.accounts} accounts, one invitation each", flush=True)
        tokens = _seed(args.accounts)
        if args.redis:
            _purge_queue()
        warm, measured = tokens[: args.warmup], tokens[args.warmup :]
        # Both servers stay up and are measured in alternating rounds, so a neighbour's load
        # on a shared machine weighs on both figures alike.
        apps = {
            "bare": ("benchmarks.survey_submit:bare_application()", 204),
            "survey": ("config.wsgi:application", 302),
        }
        servers = {
            name: Gunicorn(app, workers=args.workers, env=env) for name, (app, _) in apps.items()
        }
        elapsed = {name: 0.0 for name in apps}
        latencies: dict[str, list[float]] = {name: [] for name in apps}
        try:
            _load(servers["bare"].port, ["/bare/"] * len(warm), args.clients, 204)
            _load(servers["survey"].port, [f"/s/{t}/" for t in warm], args.clients, 302)
            size = -(-len(measured) // args.rounds)
            for index in range(args.rounds):
                chunk = measured[index * size : (index + 1) * size]
                order = ["bare", "survey"] if index % 2 == 0 else ["survey", "bare"]
                for name in order:
                    paths = (
                        ["/bare/"] * len(chunk) if name == "bare" else [f"/s/{t}/" for t in chunk]
                    )
                    seconds, times = _load(servers[name].port, paths, args.clients, apps[name][1])
                    elapsed[name] += seconds
                    latencies[name] += times
        finally:
            for server in servers.values():
                server.stop()
        results = {}
        for name in apps:
            rps = len(latencies[name]) / elapsed[name]
            p99 = statistics.quantiles(latencies[name], n=100, method="inclusive")[98] * 1000
            results[name] = (rps, p99)
            print(f"{name}: {rps:.0f} requests/s, p99 {p99:.0f} ms", flush=True)
        from django.db import connection

        from surveys.models import FollowUp, Response

        answered = Response.objects.count()
        unhappy = Response.objects.filter(score__lte=6).count()
        if answered != len(tokens):
            raise SystemExit(f"expected {len(tokens)} responses, found {answered}")
        if args.redis:
            drain = _drain(env, expected=unhappy)
            print(f"celery worker drained the after-commit work in {drain:.1f} s", flush=True)
        follow_ups = FollowUp.objects.count()
        connection.close()
        if follow_ups != unhappy:
            raise SystemExit(f"expected {unhappy} follow-ups for detractors, found {follow_ups}")
        print(f"{answered} answers saved, {follow_ups} detractor follow-ups created", flush=True)
    finally:
        from django.db import connections

        if args.redis:
            _purge_queue()
        connections.close_all()
        admin_execute(base_url, f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)")

    (survey_rps, survey_p99), (bare_rps, bare_p99) = results["survey"], results["bare"]
    rps_ratio = survey_rps / bare_rps
    p99_ratio = survey_p99 / bare_p99
    print(
        f"survey_rps={survey_rps:.1f} survey_p99_ms={survey_p99:.1f} bare_rps={bare_rps:.1f} "
        f"bare_p99_ms={bare_p99:.1f} rps_ratio={rps_ratio:.2f} p99_ratio={p99_ratio:.2f} "
        f"ratio={rps_ratio:.2f}"
    )


if __name__ == "__main__":
    main()
