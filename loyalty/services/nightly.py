"""The nightly ledger jobs, set-based: pending lots become spendable, lapsed lots expire.

Each job is a handful of statements over every due lot at once (no loop per lot or member),
inside one transaction. On PostgreSQL it first locks the members concerned in id order, the
lock every balance change takes, so a spend running at the same moment waits or is waited for
and never sees half a night. Expiry entries have deterministic keys (``expire:lot:<id>``), so a
rerun — or the per-member settlement the services do before a balance change — writes nothing
twice. The same functions serve one member (``member_id``) when its row is already locked.
"""

from __future__ import annotations

import datetime as dt

from django.db import connection, transaction
from django.utils import timezone

from core.db import is_postgres

EXPIRE_KEY_PREFIX = "expire:lot:"


def db_datetime(value: dt.datetime):
    """``value`` as the database stores it, for raw SQL parameters: SQLite keeps naive UTC
    text, so an aware datetime passed as is would not compare equal to a stored one."""
    return connection.ops.adapt_datetimefield_value(value)


def _json_empty() -> str:
    return "'{}'::jsonb" if is_postgres() else "'{}'"


def _lock_members(lot_condition: str, params: list) -> None:
    """Lock, in id order, every member that has a lot matching ``lot_condition``."""
    if not is_postgres():
        return  # SQLite serialises writers: the transaction is the lock
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM (SELECT m.id FROM loyalty_member m WHERE m.id IN "  # noqa: S608
            f"(SELECT l.member_id FROM loyalty_lot l WHERE {lot_condition}) "
            "ORDER BY m.id FOR UPDATE OF m) AS locked",
            params,
        )


def _due_lots(condition: str, now: dt.datetime, member_id: int | None) -> tuple[str, list]:
    """The lots a nightly step works on: ``condition`` at ``now`` (its one parameter), for
    every member or one, as SQL on alias ``l`` and its parameters."""
    params: list = [db_datetime(now)]
    if member_id is not None:
        condition += " AND l.member_id = %s"
        params.append(member_id)
    return condition, params


def lots_activate(*, now: dt.datetime | None = None, member_id: int | None = None) -> int:
    """Pending lots whose time has come become active: their points move from the members'
    pending to their balance. Returns how many lots were activated."""
    now = now or timezone.now()
    due, params = _due_lots("l.state = 'pending' AND l.activates_at <= %s", now, member_id)
    with transaction.atomic(), connection.cursor() as cursor:
        if member_id is None:
            _lock_members(due, params)
        cursor.execute(
            "UPDATE loyalty_member SET balance = loyalty_member.balance + d.points, "  # noqa: S608
            "pending = loyalty_member.pending - d.points "
            "FROM (SELECT l.member_id, SUM(l.remaining) AS points FROM loyalty_lot l "
            f"WHERE {due} GROUP BY l.member_id) AS d "
            "WHERE loyalty_member.id = d.member_id AND d.points <> 0",
            params,
        )
        cursor.execute(
            f"UPDATE loyalty_lot SET state = 'active' WHERE {due.replace('l.', '')}",  # noqa: S608
            params,
        )
        return cursor.rowcount


def lots_expire(*, now: dt.datetime | None = None, member_id: int | None = None) -> int:
    """Active lots past their expiry lose what is left in them: one ``expire`` entry per lot
    with points left (key ``expire:lot:<id>``), its allocation, the members' balances lowered
    by the same sums, the lots closed. Returns how many expire entries were written."""
    now = now or timezone.now()
    due, params = _due_lots("l.state = 'active' AND l.expires_at <= %s", now, member_id)
    with transaction.atomic(), connection.cursor() as cursor:
        if member_id is None:
            _lock_members(due, params)
        cursor.execute(
            "INSERT INTO loyalty_ledgerentry (member_id, kind, points, tier_points, debt, "  # noqa: S608
            "idempotency_key, reason, metadata, created_at) "
            "SELECT l.member_id, 'expire', -l.remaining, 0, 0, "
            f"'{EXPIRE_KEY_PREFIX}' || l.id, 'Points expired', {_json_empty()}, %s "
            f"FROM loyalty_lot l WHERE {due} AND l.remaining > 0 "
            "ON CONFLICT (idempotency_key) DO NOTHING",
            [db_datetime(now), *params],
        )
        written = cursor.rowcount
        if written:
            start = len(EXPIRE_KEY_PREFIX) + 1
            member_filter = "" if member_id is None else " AND e.member_id = %s"
            cursor.execute(
                "INSERT INTO loyalty_lotallocation (entry_id, lot_id, points) "  # noqa: S608
                f"SELECT e.id, CAST(SUBSTR(e.idempotency_key, {start}) AS BIGINT), -e.points "
                "FROM loyalty_ledgerentry e WHERE e.kind = 'expire' AND e.created_at = %s"
                f"{member_filter} ON CONFLICT (entry_id, lot_id) DO NOTHING",
                [db_datetime(now)] + ([] if member_id is None else [member_id]),
            )
            cursor.execute(
                "UPDATE loyalty_member SET balance = loyalty_member.balance - d.points "  # noqa: S608
                "FROM (SELECT l.member_id, SUM(l.remaining) AS points FROM loyalty_lot l "
                f"WHERE {due} AND l.remaining > 0 GROUP BY l.member_id) AS d "
                "WHERE loyalty_member.id = d.member_id",
                params,
            )
        cursor.execute(
            "UPDATE loyalty_lot SET remaining = 0, state = 'expired' "  # noqa: S608
            f"WHERE {due.replace('l.', '')}",
            params,
        )
        return written
