"""A small revenue history whose every monthly figure was worked out by hand (see
``tests/metrics/test_revenue_figures.py`` for the numbers)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from customers.models import Account
from customers.services import revenue_change_record


def at(year: int, month: int, day: int = 10) -> dt.datetime:
    return dt.datetime(year, month, day, 12, tzinfo=dt.UTC)


def pay(account: Account, amount: str, when: dt.datetime) -> None:
    revenue_change_record(account=account, mrr=Decimal(amount), effective_at=when)


def hand_worked_book(*, owner=None) -> dict[str, Account]:
    """January to June 2026:

    - A (Pro, ``owner``): 100 from January, 150 from March, cancelled in May.
    - B (Basic): 200 from January, 120 from February.
    - C (Pro): pays 50 on 10 February and cancels on 20 February (no movement: it started
      and churned within the month), pays 70 from April (a reactivation: it paid before).
    - D (Basic): 100 from January, cancelled in March, 100 again from May.
    """
    a = Account.objects.create(external_id="A", name="Alpha", plan="Pro", owner=owner)
    b = Account.objects.create(external_id="B", name="Bravo", plan="Basic")
    c = Account.objects.create(external_id="C", name="Charlie", plan="Pro")
    d = Account.objects.create(external_id="D", name="Delta", plan="Basic")
    pay(a, "100", at(2026, 1))
    pay(a, "150", at(2026, 3))
    pay(a, "0", at(2026, 5))
    pay(b, "200", at(2026, 1, 5))
    pay(b, "120", at(2026, 2))
    pay(c, "50", at(2026, 2, 10))
    pay(c, "0", at(2026, 2, 20))
    pay(c, "70", at(2026, 4, 5))
    pay(d, "100", at(2026, 1, 20))
    pay(d, "0", at(2026, 3, 1))
    pay(d, "100", at(2026, 5, 2))
    return {"A": a, "B": b, "C": c, "D": d}


NOW = at(2026, 6, 15)
