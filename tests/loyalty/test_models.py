"""The database refuses what the ledger must never hold, whatever code writes it."""

from __future__ import annotations

import pytest
from django.db import DatabaseError, IntegrityError, connection, transaction

from loyalty.models import EntryKind, LedgerEntry, Lot, LoyaltyProgram, Member
from tests.customers.factories import make_account

pytestmark = pytest.mark.django_db


def _member_with_entry(points: int = 100) -> tuple[Member, LedgerEntry]:
    member = Member.objects.create(account=make_account(), balance=points)
    entry = LedgerEntry.objects.create(
        member=member, kind=EntryKind.EARN, points=points, idempotency_key="k1"
    )
    return member, entry


def test_it_refuses_a_negative_balance():
    member = Member.objects.create(account=make_account())
    with pytest.raises(IntegrityError), transaction.atomic():
        Member.objects.filter(pk=member.pk).update(balance=-1)


def test_the_model_refuses_to_change_or_delete_an_entry():
    _, entry = _member_with_entry()
    entry.points = 5
    with pytest.raises(TypeError):
        entry.save()
    with pytest.raises(TypeError):
        entry.delete()
    with pytest.raises(TypeError):
        LedgerEntry.objects.filter(pk=entry.pk).update(points=5)
    with pytest.raises(TypeError):
        LedgerEntry.objects.all().delete()


def test_the_database_refuses_an_update_of_an_entry_even_in_raw_sql():
    _, entry = _member_with_entry()
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE loyalty_ledgerentry SET points = 1 WHERE id = %s", [entry.pk])
    assert LedgerEntry.objects.get(pk=entry.pk).points == 100


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the delete trigger is PostgreSQL's")
def test_the_database_refuses_a_raw_delete_of_an_entry():
    _, entry = _member_with_entry()
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM loyalty_ledgerentry WHERE id = %s", [entry.pk])
    assert LedgerEntry.objects.filter(pk=entry.pk).exists()


def test_deleting_the_account_takes_its_ledger_with_it():
    member, entry = _member_with_entry()
    Lot.objects.create(member=member, source_entry=entry, amount=100, remaining=100)
    member.account.delete()
    assert not LedgerEntry.objects.exists()
    assert not Lot.objects.exists()


def test_deleting_an_account_with_redemptions_and_reversals_takes_everything():
    from loyalty import services
    from tests.loyalty.factories import make_reward

    account = make_account()
    services.award(account, 100, reason="x", idempotency_key="a")
    redemption = services.redeem(account, make_reward(60), idempotency_key="r")
    services.redemption_cancel(redemption=redemption)
    services.redeem(account, make_reward(90), idempotency_key="r2")
    services.reverse("a", reason="Refund", idempotency_key="ra")
    account.delete()
    assert not LedgerEntry.objects.exists()
    assert not Member.objects.exists()


def test_it_refuses_a_duplicate_idempotency_key():
    member, _ = _member_with_entry()
    with pytest.raises(IntegrityError), transaction.atomic():
        LedgerEntry.objects.create(member=member, kind="earn", points=1, idempotency_key="k1")


@pytest.mark.parametrize(
    ("kind", "points"), [("earn", -5), ("spend", 5), ("expire", 3), ("adjust", 0)]
)
def test_it_refuses_an_entry_with_the_wrong_sign(kind, points):
    member = Member.objects.create(account=make_account())
    with pytest.raises(IntegrityError), transaction.atomic():
        LedgerEntry.objects.create(member=member, kind=kind, points=points, idempotency_key="x")


def test_a_lot_never_holds_more_than_it_earned_nor_less_than_nothing():
    member, entry = _member_with_entry()
    lot = Lot.objects.create(member=member, source_entry=entry, amount=100, remaining=100)
    for remaining in (101, -1):
        with pytest.raises(IntegrityError), transaction.atomic():
            Lot.objects.filter(pk=lot.pk).update(remaining=remaining)
    with pytest.raises(IntegrityError), transaction.atomic():
        Lot.objects.filter(pk=lot.pk).update(state="expired")


def test_the_program_is_one_row_with_defaults():
    program = LoyaltyProgram.current()
    assert program.pk == 1
    assert LoyaltyProgram.current().pk == 1
    assert LoyaltyProgram.objects.count() == 1
    with pytest.raises(IntegrityError), transaction.atomic():
        LoyaltyProgram.objects.create(id=2)
