"""RFM scores: how recently, how often and how much each account paid (docs/domain/rfm.md).

``rfm_recompute`` replaces every stored score with one INSERT … SELECT: the raw R, F and M
per account are aggregated from the daily usage rollups and the revenue history, then ranked
into quintiles with window functions, in the database, whatever the size of the book (SQLite
≥ 3.25 and PostgreSQL alike). The quintile rule and the segment map are those of
``metrics.formulas`` (``quintile_scores``, ``rfm_segment``): the ranking below orders exactly
as ``quintile_scores`` sorts, and the segment CASE is generated from ``rfm_segment``, so the
two cannot drift apart (tests/metrics/test_rfm_service.py checks both against the Python).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from customers.ingest.events import BILLING_EVENT_TYPES
from customers.models import Account, DailyUsage, RevenueChange
from metrics.filters import add_months
from metrics.formulas import rfm_segment
from metrics.models import AccountRfm, RfmBasis, RfmRun, RfmSegment

WINDOW_MONTHS = 12
PAYMENT_EVENT = "payment_succeeded"
SEGMENT_KEYS: dict[str, str] = {label: key for key, label in RfmSegment.choices}


def segment_key(r: int, f: int) -> str:
    """The stored key of the DESIGN segment for scores (R, F)."""
    return SEGMENT_KEYS[rfm_segment(r, f)]


def window_months(today: dt.date) -> list[tuple[dt.date, dt.datetime]]:
    """The window's twelve calendar months, oldest first, each with the moment its MRR is read
    at: the start of the next month, or for the current month the end of ``today`` (UTC)."""
    first = add_months(today.replace(day=1), -(WINDOW_MONTHS - 1))
    months = []
    for k in range(WINDOW_MONTHS):
        start = add_months(first, k)
        end = add_months(first, k + 1) if k < WINDOW_MONTHS - 1 else today + dt.timedelta(days=1)
        months.append((start, dt.datetime.combine(end, dt.time(), tzinfo=dt.UTC)))
    return months


def _param(value: Any) -> Any:
    """Dates and times as each backend's raw cursor needs them: SQLite keeps them as text in
    Django's format; psycopg renders typed literals itself, which VALUES lists need."""
    if connection.vendor != "sqlite":
        return value
    if isinstance(value, dt.datetime):
        return connection.ops.adapt_datetimefield_value(value)
    if isinstance(value, dt.date):
        return connection.ops.adapt_datefield_value(value)
    return value


def _segment_case() -> str:
    whens = " ".join(
        f"WHEN {r * 10 + f} THEN %(seg_{r}{f})s" for r in range(1, 6) for f in range(1, 6)
    )
    return f"CASE r * 10 + f {whens} END"


def _recency_sql() -> str:
    if connection.vendor == "postgresql":
        return "(%(today)s - last_on)"
    return "CAST(julianday(%(today)s) - julianday(last_on) AS INTEGER)"


def _statement() -> str:
    usage = DailyUsage._meta.db_table
    revenue = RevenueChange._meta.db_table
    account = Account._meta.db_table
    points = ", ".join(f"(%(month_{k})s, %(point_{k})s)" for k in range(WINDOW_MONTHS))
    billing = ", ".join(f"%(billing_{k})s" for k in range(len(BILLING_EVENT_TYPES)))
    # Positions count from 0 in the order quintile_scores sorts: worst first, the account id
    # breaking ties; score = 1 + 5 × position // n, as there.
    # Table names and placeholders only: every value is a parameter.
    return f"""
    INSERT INTO {AccountRfm._meta.db_table}
        (account_id, basis, last_on, recency_days, frequency, monetary, r, f, m, segment,
         as_of, computed_at)
    WITH
    pay_events AS (
        SELECT account_id, MAX(day) AS last_day, SUM("count") AS payments
        FROM {usage}
        WHERE type = %(payment)s AND "count" > 0 AND day >= %(window_start)s AND day <= %(today)s
        GROUP BY account_id
    ),
    active AS (
        SELECT account_id, MAX(day) AS last_day, COUNT(DISTINCT day) AS days
        FROM {usage}
        WHERE type NOT IN ({billing}) AND "count" > 0
          AND day >= %(window_start)s AND day <= %(today)s
        GROUP BY account_id
    ),
    rev AS (
        SELECT account_id, effective_at, mrr_base,
               LEAD(effective_at) OVER (PARTITION BY account_id ORDER BY effective_at, id)
                   AS next_at
        FROM {revenue}
        WHERE effective_at < %(window_end)s
    ),
    points(month_start, point) AS (VALUES {points}),
    paid AS (
        SELECT rev.account_id, MAX(points.month_start) AS last_month, COUNT(*) AS months,
               SUM(CAST(ROUND(rev.mrr_base * 100) AS BIGINT)) AS cents
        FROM rev JOIN points
          ON rev.effective_at < points.point
         AND (rev.next_at IS NULL OR rev.next_at >= points.point)
        WHERE rev.mrr_base > 0
        GROUP BY rev.account_id
    ),
    base AS (
        SELECT a.id AS account_id,
               CASE WHEN e.account_id IS NULL AND p.account_id IS NULL
                    THEN %(free)s ELSE %(paying)s END AS basis,
               CASE WHEN e.account_id IS NOT NULL THEN e.last_day
                    WHEN p.account_id IS NOT NULL THEN p.last_month
                    ELSE u.last_day END AS last_on,
               CASE WHEN e.account_id IS NOT NULL THEN e.payments
                    WHEN p.account_id IS NOT NULL THEN p.months
                    ELSE u.days END AS frequency,
               COALESCE(p.cents, 0) AS cents
        FROM {account} a
        LEFT JOIN pay_events e ON e.account_id = a.id
        LEFT JOIN paid p ON p.account_id = a.id
        LEFT JOIN active u ON u.account_id = a.id
        WHERE e.account_id IS NOT NULL OR p.account_id IS NOT NULL OR u.account_id IS NOT NULL
    ),
    measured AS (
        SELECT base.*, {_recency_sql()} AS recency_days FROM base
    ),
    ranked AS (
        SELECT measured.*,
               ROW_NUMBER() OVER (PARTITION BY basis ORDER BY recency_days DESC, account_id) - 1
                   AS r_pos,
               ROW_NUMBER() OVER (PARTITION BY basis ORDER BY frequency, account_id) - 1
                   AS f_pos,
               ROW_NUMBER() OVER (PARTITION BY basis ORDER BY cents, account_id) - 1 AS m_pos,
               COUNT(*) OVER (PARTITION BY basis) AS n
        FROM measured
    ),
    scored AS (
        SELECT ranked.*, 1 + (5 * r_pos) / n AS r, 1 + (5 * f_pos) / n AS f,
               1 + (5 * m_pos) / n AS m_all
        FROM ranked
    )
    SELECT account_id, basis, last_on, recency_days, frequency, cents / 100.0, r, f,
           CASE WHEN basis = %(paying)s THEN m_all END, {_segment_case()},
           %(today)s, %(computed_at)s
    FROM scored
    """  # noqa: S608


def _params(today: dt.date, now: dt.datetime) -> dict[str, Any]:
    months = window_months(today)
    params: dict[str, Any] = {
        "payment": PAYMENT_EVENT,
        "window_start": months[0][0],
        "window_end": months[-1][1],
        "today": today,
        "computed_at": now,
        "free": RfmBasis.FREE.value,
        "paying": RfmBasis.PAYING.value,
    }
    for k, (start, point) in enumerate(months):
        params[f"month_{k}"] = start
        params[f"point_{k}"] = point
    for k, kind in enumerate(sorted(BILLING_EVENT_TYPES)):
        params[f"billing_{k}"] = kind
    for r in range(1, 6):
        for f in range(1, 6):
            params[f"seg_{r}{f}"] = segment_key(r, f)
    return {name: _param(value) for name, value in params.items()}


def rfm_recompute(*, today: dt.date | None = None) -> int:
    """Score every account with a payment or activity in the 12 months up to ``today`` and
    replace the stored scores with them; returns how many accounts were scored.

    One transaction: readers see yesterday's scores until the new ones commit, a run killed
    mid-way leaves them untouched, and a rerun writes the same rows again. On PostgreSQL the
    table is locked against a concurrent run (readers are not blocked)."""
    now = timezone.now()
    today = today or timezone.localdate(now)
    table = AccountRfm._meta.db_table
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"LOCK TABLE {table} IN SHARE ROW EXCLUSIVE MODE")
        cursor.execute(f"DELETE FROM {table}")  # noqa: S608 - a model's table name
        cursor.execute(_statement(), _params(today, now))
        scored = max(cursor.rowcount, 0)
        RfmRun.objects.create(as_of=today, computed_at=now, scored=scored)
    return scored


def rfm_latest_run() -> RfmRun | None:
    """The last completed run, or None before the first."""
    return RfmRun.objects.order_by("-computed_at", "-id").first()


def rfm_computed_on() -> dt.date | None:
    """The day the stored scores describe, or None before the first run."""
    run = rfm_latest_run()
    return run.as_of if run else None
