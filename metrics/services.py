"""Writes for metrics: the monthly revenue facts, rebuilt from the revenue history.

``account_months_rebuild`` is the one writer of ``AccountMonth`` and ``RevenueMonth``. It is
set-based: two ``INSERT … SELECT`` statements (the same SQL on SQLite and PostgreSQL) and two
deletes, in one transaction, whatever the number of accounts. Rerunning it gives identical
rows, so a task killed mid-way, or run twice, leaves nothing wrong behind.

How a month is read (docs/domain/revenue.md, "Monthly revenue facts"):

- an account's **closing MRR** in month m is the ``mrr_base`` of its last change effective
  before the next month starts (and not after ``now``: future-dated changes wait); its
  **opening MRR** is the previous month's closing;
- the **movement** is that pair classified as ``metrics.formulas.classify_movement`` does
  (net per account per month): an account that starts and cancels within one month has
  none, so it is left out of logo churn (ChartMogul's B2B rule); from 0 to paying is **new**
  unless the account had paid before the month (**reactivation**);
- the **cohort** is the first month the account ended paying; a reactivated account keeps it.
"""

from __future__ import annotations

import datetime as dt

from django.db import connection, transaction
from django.utils import timezone

from customers.models import Account, RevenueChange
from metrics.filters import add_months, month_start, months_between
from metrics.models import AccountMonth, RevenueMonth

_FACTS_SQL = """
INSERT INTO {account_month} (
  account_id, month, cohort_month, plan, owner_id, opening_mrr, closing_mrr, movement,
  movement_mrr, first_churn, year_ago_mrr
)
WITH months (month, starts, ends) AS (VALUES {months}),
changes AS (
  SELECT account_id, effective_at, mrr_base,
         LEAD(effective_at) OVER (
           PARTITION BY account_id ORDER BY effective_at, id
         ) AS until
  FROM {revenue_change}
  WHERE effective_at <= %s
),
first_paid AS (
  SELECT account_id, MIN(effective_at) AS paid_at
  FROM {revenue_change}
  WHERE effective_at <= %s AND mrr_base > 0
  GROUP BY account_id
),
series AS (
  SELECT c.account_id, m.month, m.starts, c.mrr_base AS closing
  FROM changes c
  JOIN months m
    ON c.effective_at < m.ends AND (c.until IS NULL OR c.until >= m.ends)
),
paired AS (
  SELECT s.account_id, s.month, s.closing,
         COALESCE(LAG(s.closing) OVER w, 0) AS opening,
         COALESCE(LAG(s.closing, 12) OVER w, 0) AS year_ago,
         CASE WHEN f.paid_at < s.starts THEN 1 ELSE 0 END AS paid_before,
         MIN(CASE WHEN s.closing > 0 THEN s.month END) OVER (PARTITION BY s.account_id)
           AS cohort_month
  FROM series s
  JOIN first_paid f ON f.account_id = s.account_id
  WINDOW w AS (PARTITION BY s.account_id ORDER BY s.month)
),
moved AS (
  SELECT p.*,
         CASE
           WHEN p.opening = p.closing THEN ''
           WHEN p.opening = 0 AND p.paid_before = 1 THEN 'reactivation'
           WHEN p.opening = 0 THEN 'new'
           WHEN p.closing = 0 THEN 'churn'
           WHEN p.closing > p.opening THEN 'expansion'
           ELSE 'contraction'
         END AS movement,
         CASE
           WHEN p.opening = p.closing THEN 0
           WHEN p.opening = 0 THEN p.closing
           WHEN p.closing = 0 THEN p.opening
           WHEN p.closing > p.opening THEN p.closing - p.opening
           ELSE p.opening - p.closing
         END AS movement_mrr
  FROM paired p
  WHERE p.cohort_month IS NOT NULL
),
churns AS (
  SELECT m.*,
         MIN(CASE WHEN m.movement = 'churn' THEN m.month END)
           OVER (PARTITION BY m.account_id) AS first_churn_month
  FROM moved m
)
SELECT c.account_id, c.month, c.cohort_month, a.plan, a.owner_id, c.opening, c.closing,
       c.movement, c.movement_mrr,
       CASE WHEN c.month = c.first_churn_month THEN {true} ELSE {false} END,
       c.year_ago
FROM churns c
JOIN {account} a ON a.id = c.account_id
WHERE c.month >= c.cohort_month AND c.month >= %s
  AND (c.opening > 0 OR c.closing > 0 OR c.year_ago > 0)
"""

_ROLLUP_SQL = """
INSERT INTO {revenue_month} (
  month, cohort_month, plan, owner_id, opening_mrr, closing_mrr, new_mrr, expansion_mrr,
  contraction_mrr, churn_mrr, reactivation_mrr, paying_start, paying_end, new_logos,
  churned_logos, reactivated_logos, first_churns, year_ago_mrr, year_ago_now_mrr
)
SELECT month, cohort_month, plan, owner_id,
  SUM(opening_mrr), SUM(closing_mrr),
  SUM(CASE WHEN movement = 'new' THEN movement_mrr ELSE 0 END),
  SUM(CASE WHEN movement = 'expansion' THEN movement_mrr ELSE 0 END),
  SUM(CASE WHEN movement = 'contraction' THEN movement_mrr ELSE 0 END),
  SUM(CASE WHEN movement = 'churn' THEN movement_mrr ELSE 0 END),
  SUM(CASE WHEN movement = 'reactivation' THEN movement_mrr ELSE 0 END),
  SUM(CASE WHEN opening_mrr > 0 THEN 1 ELSE 0 END),
  SUM(CASE WHEN closing_mrr > 0 THEN 1 ELSE 0 END),
  SUM(CASE WHEN movement = 'new' THEN 1 ELSE 0 END),
  SUM(CASE WHEN movement = 'churn' THEN 1 ELSE 0 END),
  SUM(CASE WHEN movement = 'reactivation' THEN 1 ELSE 0 END),
  SUM(CASE WHEN first_churn THEN 1 ELSE 0 END),
  SUM(year_ago_mrr),
  SUM(CASE WHEN year_ago_mrr > 0 THEN closing_mrr ELSE 0 END)
FROM {account_month}
WHERE month >= %s
GROUP BY month, cohort_month, plan, owner_id
"""


def _months_values(months: list[dt.date]) -> tuple[str, list]:
    """The months as a VALUES list of (month, its first instant, the next month's first
    instant), typed for PostgreSQL, plain for SQLite."""
    ops = connection.ops
    if connection.vendor == "postgresql":
        row = "(%s::date, %s::timestamptz, %s::timestamptz)"
    else:
        row = "(%s, %s, %s)"
    params: list = []
    for month in months:
        starts = dt.datetime.combine(month, dt.time(), tzinfo=dt.UTC)
        ends = dt.datetime.combine(add_months(month, 1), dt.time(), tzinfo=dt.UTC)
        params += [
            ops.adapt_datefield_value(month),
            ops.adapt_datetimefield_value(starts),
            ops.adapt_datetimefield_value(ends),
        ]
    return ", ".join([row] * len(months)), params


def account_months_rebuild(*, since: dt.date | None = None, now: dt.datetime | None = None) -> int:
    """Rebuild the monthly revenue facts from the revenue history, for the months from
    ``since`` (a month's first day; default: every month) to the current one. Returns the
    number of ``AccountMonth`` rows written. Idempotent: the months rebuilt are deleted and
    written again in one transaction, so readers see the old rows or the new, never half."""
    now = now or timezone.now()
    current = month_start(now.astimezone(dt.UTC).date())
    first_change = RevenueChange.objects.filter(effective_at__lte=now).order_by("effective_at")
    first_at = first_change.values_list("effective_at", flat=True).first()
    since = month_start(since) if since else None
    with transaction.atomic():
        months_q = AccountMonth.objects.all()
        rollup_q = RevenueMonth.objects.all()
        if since:
            months_q = months_q.filter(month__gte=since)
            rollup_q = rollup_q.filter(month__gte=since)
        months_q.delete()
        rollup_q.delete()
        if first_at is None:
            return 0
        first_month = month_start(first_at.astimezone(dt.UTC).date())
        months = months_between(first_month, current)
        if since and since > current:
            return 0
        values_sql, values_params = _months_values(months)
        lower = connection.ops.adapt_datefield_value(since or first_month)
        now_param = connection.ops.adapt_datetimefield_value(now)
        true, false = ("TRUE", "FALSE") if connection.vendor == "postgresql" else ("1", "0")
        sql = _FACTS_SQL.format(
            account_month=AccountMonth._meta.db_table,
            revenue_change=RevenueChange._meta.db_table,
            account=Account._meta.db_table,
            months=values_sql,
            true=true,
            false=false,
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, [*values_params, now_param, now_param, lower])
            written = cursor.rowcount
            cursor.execute(
                _ROLLUP_SQL.format(
                    revenue_month=RevenueMonth._meta.db_table,
                    account_month=AccountMonth._meta.db_table,
                ),
                [lower],
            )
    return written
