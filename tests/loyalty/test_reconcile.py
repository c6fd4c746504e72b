"""``manage.py reconcile_loyalty``: 0 mismatches on a whole ledger; a damaged balance or lot
is reported with a non-zero exit, and ``--fix`` rebuilds the balances from the entries."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command

from loyalty import services
from loyalty.models import Lot, Member
from tests.customers.factories import make_account
from tests.loyalty.factories import T0, days, make_reward

pytestmark = pytest.mark.django_db


def reconcile(*args: str) -> tuple[int, str]:
    out = StringIO()
    try:
        call_command("reconcile_loyalty", *args, stdout=out)
    except SystemExit as exit_:
        return int(exit_.code), out.getvalue()
    return 0, out.getvalue()


def busy_ledger():
    account = make_account(name="Busy")
    services.award(account, 300, reason="x", idempotency_key="a", now=T0)
    services.award(account, 50, reason="x", idempotency_key="p", pending_days=30, now=T0)
    redemption = services.redeem(account, make_reward(120), idempotency_key="r", now=T0)
    services.redeem(account, make_reward(100), idempotency_key="r2", now=T0)
    services.reverse("a", reason="Refund", idempotency_key="ra", now=T0 + days(1))
    services.redemption_cancel(redemption=redemption, now=T0 + days(2))
    services.lots_expire(now=T0 + days(400))
    return account


def test_a_whole_ledger_reconciles_with_no_mismatch():
    busy_ledger()
    code, out = reconcile()
    assert code == 0
    assert out.strip().endswith("mismatches=0 members=0 lots=0")


def test_a_damaged_balance_is_reported_and_fixed_from_the_entries():
    account = busy_ledger()
    member = Member.objects.get(account=account)
    right = (member.balance, member.pending, member.debt)
    Member.objects.filter(pk=member.pk).update(balance=member.balance + 7, debt=member.debt + 1)
    code, out = reconcile()
    assert code == 1
    assert f"member {member.pk} (Busy): balance {right[0] + 7} (lots say {right[0]})" in out
    assert "mismatches=1 members=1 lots=0" in out
    code, out = reconcile("--fix")
    assert code == 1  # it found one; the next run proves the fix
    assert "fixed=1" in out
    member.refresh_from_db()
    assert (member.balance, member.pending, member.debt) == right
    assert reconcile() == (0, "mismatches=0 members=0 lots=0\n")


def test_a_damaged_lot_is_reported():
    busy_ledger()
    lot = Lot.objects.get(state="pending")  # the only lot still open
    Lot.objects.filter(pk=lot.pk).update(remaining=lot.remaining - 1)
    code, out = reconcile()
    assert code == 1
    assert (
        f"lot {lot.pk} of member {lot.member_id}: remaining 49, amount 50 less allocations 0" in out
    )
    assert "mismatches=2 members=1 lots=1" in out  # the member's pending no longer matches
