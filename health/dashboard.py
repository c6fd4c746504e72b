"""Reads for the health dashboard: today's accounts and MRR per band, the accounts whose band
fell this week, and accounts and MRR per band per day over a period.

Every function is set-based: a fixed number of queries whatever the number of accounts and
days (guarded by a query-count test), so the page costs the same for 50 accounts or 20k.

Rules the figures follow (docs/domain/health-scores.md, "Health dashboard"):

- MRR is ``mrr_base``, the base currency, so accounts billed in different currencies add up.
- **Today** reads the account rows (``health_band``, ``mrr_base``), the columns the portfolio
  filters on, so a figure and the portfolio list it links to agree.
- **Over time** reads each day's snapshots and each account's MRR *as of that day* from its
  revenue history, not today's MRR: a red account that paid 100 in March and 300 since May
  counts 100 on a March day.
- A **churned** account (it has paid, and its MRR is now 0) is left out of the day's figures
  from the day it churned on; before that day it counts as it was. Its frozen snapshot
  keeps the last band it had, but it is no longer a live account, and its MRR is 0 anyway:
  at-risk MRR is money that can still be lost.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import EmptyResultSet
from django.db import connection
from django.db.models import Case, Count, F, Max, Q, Sum, Value, When, Window
from django.db.models.functions import Lead, TruncDate
from django.utils import timezone

from customers.models import Account, RevenueChange
from health.models import HealthSnapshot
from health.scoring import GREEN, RED, YELLOW

# Periods the over-time charts offer, in days; the URL's ``?days=`` must be one of them.
PERIODS = (30, 90, 180, 365)
DEFAULT_PERIOD = 90
# Bands from worst to best; "fell" means moving left in this tuple.
BANDS = (RED, YELLOW, GREEN)
NOT_SCORED = "none"  # the portfolio's own value for "not scored yet"
FELL_LISTED = 10
CENT = Decimal("0.01")
ZERO = Decimal("0.00")


def _money(value: object) -> Decimal:
    """A sum from the database as Decimal cents. PostgreSQL hands back an exact numeric;
    SQLite stores decimals as floating point, so its sums are rounded back to cents here."""
    if value is None:
        return ZERO
    return Decimal(str(value)).quantize(CENT)


# --- today ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class BandToday:
    band: str  # red, yellow, green or "none"
    accounts: int
    paying: int
    mrr: Decimal


@dataclass(frozen=True)
class Today:
    """Live (not churned) accounts and their MRR per band, in the base currency."""

    bands: list[BandToday]  # red, yellow, green, not scored: always all four, in that order
    currency: str

    def band(self, band: str) -> BandToday:
        return next(b for b in self.bands if b.band == band)

    @property
    def at_risk_mrr(self) -> Decimal:
        """The MRR of red accounts: what the book stands to lose first."""
        return self.band(RED).mrr

    @property
    def watch_mrr(self) -> Decimal:
        """The MRR of yellow accounts, shown beside the at-risk figure, not added to it."""
        return self.band(YELLOW).mrr

    @property
    def accounts(self) -> int:
        return sum(b.accounts for b in self.bands)

    @property
    def mrr(self) -> Decimal:
        return sum((b.mrr for b in self.bands), ZERO)


def dashboard_today(*, user) -> Today:
    """One grouped query over the account rows. Churned accounts are left out; an account
    that never paid (a trial) counts with MRR 0."""
    rows = (
        Account.objects.visible_to(user)
        .filter(churned_at__isnull=True)
        .order_by()
        .values("health_band")
        .annotate(
            accounts=Count("id"),
            paying=Count("id", filter=Q(mrr_base__gt=0)),
            mrr=Sum("mrr_base"),
        )
    )
    totals: dict[str, list] = {band: [0, 0, ZERO] for band in (*BANDS, NOT_SCORED)}
    for row in rows:
        band = row["health_band"] if row["health_band"] in BANDS else NOT_SCORED
        totals[band][0] += row["accounts"]
        totals[band][1] += row["paying"]
        totals[band][2] += _money(row["mrr"])
    return Today(
        bands=[BandToday(band, a, p, m) for band, (a, p, m) in totals.items()],
        currency=settings.TENURE_BASE_CURRENCY,
    )


# --- fell this week ---------------------------------------------------------------------------


# --- over time --------------------------------------------------------------------------------


@dataclass(frozen=True)
class BandHistory:
    """Per day of the period (oldest first), the live scored accounts and their MRR per band."""

    days: list[dt.date]
    accounts: dict[str, list[int]]
    mrr: dict[str, list[Decimal]]
    currency: str


def _revenue_in_force_sql(*, now: dt.datetime) -> tuple[str, tuple]:
    """Each revenue change as the days it is in force: from its effective day up to (not
    including) the next change's day, with whether the account had paid by then. Built by
    the ORM so each engine gets its own date truncation (UTC text on SQLite, a date on
    PostgreSQL). Changes later on the same day leave the earlier one an empty range, so
    the day's last change wins, as in ``accounts_refresh_revenue``; changes not effective
    yet are left out."""
    order = [F("effective_at").asc(), F("id").asc()]
    changes = (
        RevenueChange.objects.filter(effective_at__lte=now)
        .order_by()
        .values("account_id", "mrr", "mrr_base")
        .annotate(
            from_day=TruncDate("effective_at"),
            until_day=Window(
                Lead(TruncDate("effective_at")), partition_by=["account_id"], order_by=order
            ),
            ever_paid=Window(
                Max(Case(When(mrr__gt=0, then=Value(1)), default=Value(0))),
                partition_by=["account_id"],
                order_by=order,
            ),
        )
    )
    return changes.query.sql_with_params()


# Ranges that end before the period or start after it are dropped before the join, so a
# long revenue history adds little to it. The window is computed over every change first:
# an account's first payment may lie long before the period.
_HISTORY_SQL = """
WITH changes AS ({in_force}),
in_force AS (
  SELECT * FROM changes
  WHERE from_day <= %s AND (until_day IS NULL OR until_day > %s)
)
SELECT s.day, s.band, COUNT(*), SUM(r.mrr_base)
FROM {snapshot} s
LEFT JOIN in_force r
  ON r.account_id = s.account_id
 AND r.from_day <= s.day
 AND (r.until_day IS NULL OR r.until_day > s.day)
WHERE s.day >= %s AND s.day <= %s
  AND s.band IN (%s, %s, %s)
  AND (r.ever_paid IS NULL OR r.ever_paid = 0 OR r.mrr > 0){visible}
GROUP BY s.day, s.band
"""


def band_history(
    *,
    user,
    days: int = DEFAULT_PERIOD,
    today: dt.date | None = None,
    now: dt.datetime | None = None,
) -> BandHistory:
    """Accounts and MRR per band for each of the ``days`` days ending ``today``, in one query.

    Each snapshot of the period is joined to the one revenue change in force on its day
    (a range join on the account: a hash on the account id, then a date comparison against
    its few changes), so the MRR is the account's MRR as of that day. The last condition
    leaves out accounts churned by that day: they had paid, and their MRR in force is 0.
    A snapshot with no band (nothing to score it on) is not drawn.
    """
    now = now or timezone.now()
    today = today or timezone.localdate(now)
    first = today - dt.timedelta(days=days - 1)
    day_list = [first + dt.timedelta(days=i) for i in range(days)]
    accounts = {band: [0] * days for band in BANDS}
    mrr = {band: [ZERO] * days for band in BANDS}
    history = BandHistory(day_list, accounts, mrr, settings.TENURE_BASE_CURRENCY)
    visible = Account.objects.visible_to(user).order_by().values("pk")
    visible_sql, visible_params = "", ()
    if visible.query.where:  # a restricted book: only its accounts' snapshots
        try:
            visible_sql, visible_params = visible.query.sql_with_params()
        except EmptyResultSet:  # nobody signed in: nothing to show
            return history
        visible_sql = f"\n  AND s.account_id IN ({visible_sql})"
    # Every signed-in role reads the whole book today; a semi-join with every account would
    # cost ~0.3 s on 20k accounts × 90 days for nothing, so it is added only when it filters.
    in_force_sql, in_force_params = _revenue_in_force_sql(now=now)
    sql = _HISTORY_SQL.format(
        in_force=in_force_sql, snapshot=HealthSnapshot._meta.db_table, visible=visible_sql
    )
    first_param = connection.ops.adapt_datefield_value(first)
    last_param = connection.ops.adapt_datefield_value(today)
    params = (
        *in_force_params,
        last_param,
        first_param,
        first_param,
        last_param,
        *BANDS,
        *visible_params,
    )
    index = {day: i for i, day in enumerate(day_list)}
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        for day, band, count, total in cursor.fetchall():
            if isinstance(day, str):  # SQLite hands dates back as text
                day = dt.date.fromisoformat(day)
            i = index[day]
            accounts[band][i] = count
            mrr[band][i] = _money(total)
    return history
