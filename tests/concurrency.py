"""Run jobs at the same moment in threads, each on its own database connection: how the
tests prove row locks, unique constraints and idempotency keys hold under real contention.
Needs PostgreSQL and ``django_db(transaction=True)`` (SQLite serializes writers anyway)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection

POSTGRES_ONLY = [
    pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks need PostgreSQL"),
    pytest.mark.django_db(transaction=True),
]


def run_together(*jobs: Callable[[], Any], timeout: float = 60) -> list[Any]:
    """Start every job behind one barrier; their results in order. Any exception a job
    raised fails the calling test (never swallowed)."""
    barrier = threading.Barrier(len(jobs))
    results: list[Any] = [None] * len(jobs)
    errors: list[Exception] = []

    def run(index: int, job: Callable[[], Any]) -> None:
        try:
            barrier.wait()
            results[index] = job()
        except Exception as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, job)) for i, job in enumerate(jobs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
    assert errors == [], errors
    assert not any(thread.is_alive() for thread in threads), "a job did not finish in time"
    return results
