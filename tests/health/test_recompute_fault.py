"""Production mode: a Celery worker killed with SIGKILL half-way through the nightly recompute,
then the recompute queued again on a fresh worker, leaves exactly one snapshot per account for
the day, each with the score an in-process recompute gives.

This is the claim health.services and health.tasks make ("safe to run twice and safe to
kill"), checked against a real worker process and a real Redis broker: the kill is a
``kill -9`` of the worker's whole process group, so no ``finally``, no task acknowledgement
and no connection close runs in it. The worker reads the pytest test database through
``DATABASE_URL``, which is why this runs on PostgreSQL only (an SQLite test database is not
shared with another process).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import random
import signal
import subprocess
import time
import uuid
from pathlib import Path
from urllib.parse import quote

import pytest
from django.db import connection
from django.db.models import Count
from django.utils import timezone

from customers.models import Account, DailyUsage, LifecycleStage
from health.models import HealthSnapshot
from health.services import CHUNK_SIZE, health_recompute
from health.tasks import recompute_health_all

ROOT = Path(__file__).resolve().parent.parent.parent
# Three ranges of CHUNK_SIZE for two worker processes: when the first range's snapshots
# appear, the third has not started, so the kill lands with some written and others not.
ACCOUNTS = 3 * CHUNK_SIZE
# Celery's keys in the Redis database: the queue and the delivered-but-unacknowledged set.
CELERY_KEYS = ("celery", "unacked", "unacked_index", "unacked_mutex")

pytestmark = [
    pytest.mark.skipif(
        not os.environ.get("REDIS_URL"), reason="needs REDIS_URL: the worker takes tasks from Redis"
    ),
    pytest.mark.skipif(
        not os.environ.get("DATABASE_URL", "").startswith("postgres"),
        reason="needs PostgreSQL (DATABASE_URL): the worker is another process and must see "
        "the test database, which an SQLite test database is not",
    ),
    pytest.mark.django_db(transaction=True),
]


def _database_url() -> str:
    """The pytest test database (not DATABASE_URL's own) as a URL the worker can read."""
    s = connection.settings_dict
    auth = quote(s["USER"] or "postgres")
    if s.get("PASSWORD"):
        auth += ":" + quote(s["PASSWORD"])
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


def _celery_purge() -> None:
    """Drop every queued and unacknowledged message, so no task of an earlier run (or of this
    run's killed worker, redelivered later) reaches this test's workers."""
    import redis

    client = redis.Redis.from_url(os.environ["REDIS_URL"])
    try:
        client.delete(*CELERY_KEYS)
    finally:
        client.close()


class Worker:
    """``celery -A config worker`` in its own process group, in production mode, logging to
    a file that a failure shows."""

    def __init__(self, log: Path) -> None:
        self.log = log
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DATABASE_URL": _database_url(),
            "DEBUG": "false",
            "SECRET_KEY": "fault-test-only-" + uuid.uuid4().hex,
            "LOG_LEVEL": "WARNING",
        }
        with log.open("ab") as out:
            self.process = subprocess.Popen(
                [
                    str(ROOT / ".venv" / "bin" / "celery"),
                    "-A",
                    "config",
                    "worker",
                    "--pool=prefork",
                    "--concurrency=2",
                    "--loglevel=WARNING",
                    "--without-gossip",
                    "--without-mingle",
                    "-n",
                    f"fault-{uuid.uuid4().hex[:8]}@%h",
                ],
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own group: one killpg reaches the pool children
            )

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Signal the whole group (the main process and its pool children); wait for it."""
        try:
            os.killpg(self.process.pid, sig)
        except ProcessLookupError:
            return
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        """A warm shutdown, then SIGKILL for anything left in the group."""
        self.kill(signal.SIGTERM)
        with contextlib.suppress(ProcessLookupError):  # the group is already gone
            os.killpg(self.process.pid, signal.SIGKILL)

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]


def _accounts_create() -> list[int]:
    """ACCOUNTS old accounts with varied activity, stage, card and 60 days of daily usage, so
    their scores spread over the whole range."""
    rng = random.Random(7)
    now = timezone.now()
    today = timezone.localdate()
    stages = LifecycleStage.values
    Account.objects.bulk_create(
        [
            Account(
                external_id=f"fault-{i}",
                name=f"Fault {i}",
                stage=rng.choice(stages),
                created_at=now - dt.timedelta(days=400),
                last_activity_at=(now - dt.timedelta(days=rng.randint(0, 40)))
                if rng.random() < 0.9
                else None,
                card_exp_month=rng.randint(1, 12),
                card_exp_year=today.year + rng.randint(0, 2),
                traits={"seats": 10, "seats_used": rng.randint(0, 10)},
            )
            for i in range(ACCOUNTS)
        ],
        batch_size=2000,
    )
    ids = list(Account.objects.order_by("pk").values_list("pk", flat=True))
    usage = []
    for pk in ids:
        types = rng.sample(["login", "feature_used", "report_run", "export", "invite"], 3)
        for day_back in rng.sample(range(60), 4):
            usage.append(
                DailyUsage(
                    account_id=pk,
                    day=today - dt.timedelta(days=day_back),
                    type=rng.choice(types),
                    count=rng.randint(1, 40),
                )
            )
    DailyUsage.objects.bulk_create(usage, batch_size=5000, ignore_conflicts=True)
    return ids


def _todays(today: dt.date) -> int:
    return HealthSnapshot.objects.filter(day=today).count()


def _wait(condition, *, seconds: float, what: str, worker: Worker, every: float = 0.01) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if worker.process.poll() is not None:
            pytest.fail(f"the worker exited while waiting for {what}:\n{worker.output()}")
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {seconds:.0f} s waiting for {what}:\n{worker.output()}")
        time.sleep(every)


def _idle(app) -> bool:
    """No message queued and none running on any worker."""
    import redis

    client = redis.Redis.from_url(os.environ["REDIS_URL"])
    try:
        if client.llen("celery"):
            return False
    finally:
        client.close()
    active = app.control.inspect(timeout=1).active() or {}
    return bool(active) and not any(active.values())


def test_a_worker_killed_mid_recompute_leaves_one_correct_snapshot_per_account_after_a_rerun(
    tmp_path,
):
    from config.celery import app

    ids = _accounts_create()
    today = timezone.localdate()
    _celery_purge()
    app.conf.task_always_eager = False  # the autouse fixture puts it back afterwards
    workers: list[Worker] = []
    try:
        first = Worker(tmp_path / "worker-1.log")
        workers.append(first)
        recompute_health_all.delay()
        _wait(lambda: _todays(today) > 0, seconds=60, what="the first snapshots", worker=first)
        first.kill()  # kill -9 of the group, mid-way
        written_before_the_kill = _todays(today)
        assert 0 < written_before_the_kill < ACCOUNTS, (
            f"the kill must land mid-way; {written_before_the_kill} of {ACCOUNTS} were written"
        )

        second = Worker(tmp_path / "worker-2.log")
        workers.append(second)
        rerun_at = timezone.now()
        recompute_health_all.delay()
        _wait(
            lambda: (
                not HealthSnapshot.objects.filter(day=today, computed_at__gte=rerun_at)
                .values("account_id")
                .distinct()
                .count()
                < ACCOUNTS
            ),
            seconds=120,
            what="every account scored by the rerun",
            worker=second,
            every=0.1,
        )
        _wait(lambda: _idle(app), seconds=60, what="the worker to go idle", worker=second)
    finally:
        for worker in workers:
            worker.stop()
        _celery_purge()
        app.conf.task_always_eager = True

    per_account = (
        HealthSnapshot.objects.filter(day=today).values("account_id").annotate(n=Count("pk"))
    )
    counts = {row["account_id"]: row["n"] for row in per_account}
    assert sorted(counts) == ids, "every account has a snapshot for today, and no other does"
    assert set(counts.values()) == {1}, "no account has two snapshots for today"

    def todays_scores() -> dict[int, tuple[int | None, str]]:
        rows = HealthSnapshot.objects.filter(day=today).values_list("account_id", "score", "band")
        return {pk: (score, band) for pk, score, band in rows}

    by_worker = todays_scores()
    health_recompute(day=today)  # the same day's scores, computed in this process
    in_process = todays_scores()
    assert len({score for score, _ in in_process.values()}) > 20, (
        "the accounts' scores spread, so a mix-up between accounts shows"
    )
    assert by_worker == in_process
