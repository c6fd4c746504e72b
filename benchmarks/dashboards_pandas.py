"""The baseline of ``benchmarks/dashboards.py``: the dashboards' figures computed the way an
analyst would without Tenure's tables — load the raw rows out of PostgreSQL into pandas and
compute them there. Each function loads what it needs itself (COPY … TO STDOUT into
``read_csv``, the fastest way out of PostgreSQL into a DataFrame) and returns plain numbers
the benchmark compares with the product's.
"""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass

import numpy as np
import pandas as pd


def _frame(conn, sql: str, **read_csv) -> pd.DataFrame:
    buffer = io.BytesIO()
    with conn.cursor() as cursor, cursor.copy(f"COPY ({sql}) TO STDOUT WITH CSV HEADER") as copy:
        for block in copy:
            buffer.write(block)
    buffer.seek(0)
    return pd.read_csv(buffer, **read_csv)


def month_index(first: dt.date, day: pd.Series) -> pd.Series:
    """Months since ``first`` (0 for ``first``'s month) of each timestamp."""
    return (day.dt.year - first.year) * 12 + (day.dt.month - first.month)


@dataclass
class RevenueBook:
    """Every account's MRR at the end of each month of the window, and the first month it
    paid (on the same month index; -1 when it paid before the window)."""

    first: dt.date
    months: int
    closing: np.ndarray  # accounts × months, base currency
    opening: np.ndarray  # accounts × months
    paid_before: np.ndarray  # accounts × months: paid in any earlier month
    first_paid: np.ndarray  # accounts


def revenue_book(conn, *, first: dt.date, months: int) -> RevenueBook:
    """MRR per account per month end from the revenue history: the last change effective in
    or before each month, carried forward."""
    changes = _frame(
        conn,
        "SELECT account_id, effective_at, mrr_base FROM customers_revenuechange "
        "WHERE effective_at < now() ORDER BY account_id, effective_at, id",
        parse_dates=["effective_at"],
    )
    changes["month"] = month_index(first, changes["effective_at"])
    # Everything before the window collapses onto month -1: its last value opens month 0.
    changes["month"] = changes["month"].clip(lower=-1)
    changes = changes[changes["month"] < months]
    last = changes.groupby(["account_id", "month"], sort=True)["mrr_base"].last()
    grid = last.unstack("month").reindex(columns=range(-1, months))
    closing_all = grid.ffill(axis=1).fillna(0.0).to_numpy()
    # Paid before a month = some change with MRR > 0 took effect before it (even one that was
    # cancelled within its month): the first such month, on the window's index.
    ever_paid_month = (
        changes[changes["mrr_base"] > 0].groupby("account_id")["month"].min().reindex(grid.index)
    )
    first_paid = ever_paid_month.fillna(10**6).to_numpy().astype(int)
    paid_before = first_paid[:, None] < np.arange(months)[None, :]
    return RevenueBook(
        first=first,
        months=months,
        closing=closing_all[:, 1:],
        opening=closing_all[:, :-1],
        paid_before=paid_before,
        first_paid=first_paid,
    )


def movements(book: RevenueBook) -> dict[str, np.ndarray]:
    """Per month: MRR at the end and the five movements (DESIGN §4), net per account per
    month, and the logo counts behind churn."""
    o, c, before = book.opening, book.closing, book.paid_before
    new = (o == 0) & (c > 0) & ~before
    reactivation = (o == 0) & (c > 0) & before
    expansion = (o > 0) & (c > o)
    contraction = (o > 0) & (c > 0) & (c < o)
    churn = (o > 0) & (c == 0)
    delta = c - o
    return {
        "mrr": c.sum(axis=0),
        "new": np.where(new, delta, 0).sum(axis=0),
        "expansion": np.where(expansion, delta, 0).sum(axis=0),
        "reactivation": np.where(reactivation, delta, 0).sum(axis=0),
        "contraction": np.where(contraction, -delta, 0).sum(axis=0),
        "churn": np.where(churn, -delta, 0).sum(axis=0),
        "paying_start": (o > 0).sum(axis=0),
        "churned": churn.sum(axis=0),
        "opening": o.sum(axis=0),
    }


def revenue_figures(book: RevenueBook) -> dict[str, np.ndarray]:
    """The Revenue dashboard's series: movements, net new MRR, logo churn, GRR, NRR, ARPA,
    quick ratio."""
    f = movements(book)
    with np.errstate(divide="ignore", invalid="ignore"):
        f["net_new"] = f["new"] + f["expansion"] + f["reactivation"] - f["contraction"] - f["churn"]
        f["logo_churn"] = f["churned"] / f["paying_start"]
        f["grr"] = (f["opening"] - f["contraction"] - f["churn"]) / f["opening"]
        f["nrr"] = (f["opening"] + f["expansion"] - f["contraction"] - f["churn"]) / f["opening"]
        paying_end = (book.closing > 0).sum(axis=0)
        f["arpa"] = f["mrr"] / paying_end
        f["quick_ratio"] = (f["new"] + f["expansion"] + f["reactivation"]) / (
            f["contraction"] + f["churn"]
        )
    return f


def cohort_figures(book: RevenueBook) -> tuple[np.ndarray, np.ndarray]:
    """Logo and net MRR retention by start month (rows) × months since start (columns), for
    the cohorts that started inside the window."""
    months = book.months
    logo = np.full((months, months), np.nan)
    net = np.full((months, months), np.nan)
    for cohort in range(months):
        members = book.first_paid == cohort
        size = members.sum()
        if not size:
            continue
        start_mrr = book.closing[members, cohort].sum()
        for age in range(months - cohort):
            active = book.closing[members, cohort + age]
            logo[cohort, age] = (active > 0).sum() / size
            net[cohort, age] = active.sum() / start_mrr if start_mrr else np.nan
    return logo, net


def survey_trend(conn, *, kind: str, since: dt.datetime) -> pd.DataFrame:
    """Monthly score and 95 % margin of the survey kind's answers since ``since``: NPS for
    nps, top-two-box % for csat, % agree for ces."""
    answers = _frame(
        conn,
        "SELECT r.score, r.created_at FROM surveys_response r "  # noqa: S608 - fixed kinds
        "JOIN surveys_survey s ON s.id = r.survey_id "
        f"WHERE s.kind = '{kind}' AND r.score IS NOT NULL "
        f"AND r.created_at >= '{since.isoformat()}'",
        parse_dates=["created_at"],
    )
    answers["month"] = answers["created_at"].dt.strftime("%Y-%m")
    if kind == "nps":
        answers["good"] = answers["score"] >= 9
        answers["bad"] = answers["score"] <= 6
    elif kind == "csat":
        answers["good"] = answers["score"] >= 4
        answers["bad"] = False
    else:
        answers["good"] = answers["score"] >= 5
        answers["bad"] = False
    grouped = answers.groupby("month").agg(
        n=("score", "size"), good=("good", "sum"), bad=("bad", "sum")
    )
    p = grouped["good"] / grouped["n"]
    d = grouped["bad"] / grouped["n"]
    grouped["score"] = 100 * (p - d)
    grouped["margin"] = 1.96 * 100 * np.sqrt((p + d - (p - d) ** 2) / grouped["n"])
    return grouped


def response_rate(conn, *, survey_id: int, since: dt.datetime) -> float:
    """Share of a survey's invitations sent since ``since`` that were answered."""
    invitations = _frame(
        conn,
        "SELECT i.id FROM surveys_invitation i WHERE i.survey_id = "  # noqa: S608
        f"{int(survey_id)} AND i.sent_at >= '{since.isoformat()}'",
    )
    answered = _frame(
        conn,
        "SELECT r.invitation_id FROM surveys_response r WHERE r.survey_id = "  # noqa: S608
        f"{int(survey_id)} AND r.invitation_id IS NOT NULL",
    )
    n = len(invitations)
    hits = invitations["id"].isin(answered["invitation_id"]).sum()
    return float(hits / n) if n else 0.0


def rfm_segments(conn, *, today: dt.date) -> pd.DataFrame:
    """Accounts and MRR per R×F quintile cell from a year of payments and revenue."""
    since = today - dt.timedelta(days=365)
    payments = _frame(
        conn,
        "SELECT account_id, day, count FROM customers_dailyusage "  # noqa: S608
        f"WHERE type = 'payment_succeeded' AND day > '{since.isoformat()}'",
        parse_dates=["day"],
    )
    accounts = _frame(conn, "SELECT id AS account_id, mrr_base FROM customers_account")
    per = payments.groupby("account_id").agg(last=("day", "max"), frequency=("count", "sum"))
    frame = accounts.set_index("account_id").join(per, how="inner")
    frame["recency"] = (pd.Timestamp(today) - frame["last"]).dt.days
    frame["monetary"] = frame["mrr_base"] * 12
    # Quintiles, 5 best, ties broken by rank (lower recency is better).
    frame["r"] = pd.qcut((-frame["recency"]).rank(method="first"), 5, labels=False) + 1
    frame["f"] = pd.qcut(frame["frequency"].rank(method="first"), 5, labels=False) + 1
    frame["m"] = pd.qcut(frame["monetary"].rank(method="first"), 5, labels=False) + 1
    return frame.groupby(["r", "f"]).agg(accounts=("mrr_base", "size"), mrr=("mrr_base", "sum"))
