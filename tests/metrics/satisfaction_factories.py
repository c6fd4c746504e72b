"""A small book of accounts for the Satisfaction tests: who paid when, who churned, and what
each last said (NPS and CSAT), in Q1 2026 and the quarter before. Plain functions."""

from __future__ import annotations

import datetime as dt

from customers.models import Account
from surveys.models import Response
from tests.customers.factories import make_account
from tests.metrics.factories import pay
from tests.surveys.factories import make_answer, make_survey

START = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
END = dt.datetime(2026, 4, 1, tzinfo=dt.UTC)


def at(y: int, m: int, d: int) -> dt.datetime:
    return dt.datetime(y, m, d, 12, tzinfo=dt.UTC)


def _account(paid: dt.datetime | None, churned: dt.datetime | None = None, **fields) -> Account:
    """An account whose revenue history pays 100 from ``paid`` and goes to 0 at ``churned``
    (the services derive ``first_paid_at`` and ``churned_at`` from it)."""
    account = make_account(**fields)
    if paid is not None:
        pay(account, "100", paid)
    if churned is not None:
        pay(account, "0", churned)
    account.refresh_from_db()
    return account


def _said(survey, account: Account, score: int, when: dt.datetime) -> None:
    """An answer with ``score`` given at ``when``."""
    response = make_answer(survey, score, acc=account)
    Response.objects.filter(pk=response.pk).update(created_at=when, updated_at=when)


def make_book():
    """Q1 2026. Paying at the start: A1–A6, A9, A10 (8). Churned in Q1: A2–A5 (4).

    A1 promoter (9), CSAT 5, stays.            A2 detractor (3), CSAT 1, churns in Feb.
    A3 promoter then detractor (2), churns.    A4 passive (8), churns, then says 0 after.
    A5 no answer, churns in Jan.               A6 no answer, CSAT 3, stays.
    A7 first paid in Feb: not at risk.         A8 churned in Dec 2025: not at risk.
    A9 promoter (10) in Jan, churns in May (after the period): stays in Q1.
    A10 only answered after the period's end: no answer.
    """
    nps, csat = make_survey("nps"), make_survey("csat")
    paid = at(2025, 1, 15)
    a1 = _account(paid, plan="Pro")
    _said(nps, a1, 9, at(2025, 12, 1))
    _said(csat, a1, 5, at(2025, 12, 2))
    a2 = _account(paid, at(2026, 2, 10), plan="Pro")
    _said(nps, a2, 3, at(2025, 11, 1))
    _said(csat, a2, 1, at(2025, 11, 2))
    a3 = _account(at(2025, 6, 1), at(2026, 3, 1), plan="Pro")
    _said(nps, a3, 10, at(2025, 10, 1))
    _said(nps, a3, 2, at(2026, 1, 15))
    a4 = _account(at(2025, 6, 1), at(2026, 3, 10))
    _said(nps, a4, 8, at(2025, 12, 20))
    _said(nps, a4, 0, at(2026, 3, 20))  # after it churned: not what it said before leaving
    _account(paid, at(2026, 1, 5))  # A5
    a6 = _account(paid)
    _said(csat, a6, 3, at(2025, 9, 1))
    a7 = _account(at(2026, 2, 1))
    _said(nps, a7, 0, at(2026, 2, 5))
    a8 = _account(paid, at(2025, 12, 1))
    _said(nps, a8, 0, at(2025, 11, 1))
    a9 = _account(paid, at(2026, 5, 1))
    _said(nps, a9, 10, at(2026, 1, 10))
    a10 = _account(paid)
    _said(nps, a10, 1, at(2026, 4, 15))
    _account(None)  # never paid: not at risk
    return nps, csat
