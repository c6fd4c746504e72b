"""Tier recalculation (set-based) and the manual tier floor.

A member's tier follows the points it *earned* in the program's window (``tier_points`` of its
entries: earnings, minus earnings clawed back), never its spendable balance:

* **Upgrades are immediate** — here for every member, and right after each award
  (``ledger.upgrade_if_qualified``).
* **Downgrades wait** until ``tier_review_at``: the end of the window the tier was (re)qualified
  in, plus the program's grace days (rolling: 12 months after qualifying; calendar year: the
  next 1 January). At review the member keeps the highest tier its points justify — rolling:
  the last 12 months; calendar: the better of this year and last year, so a tier earned in a
  year lasts through the grace period of the next — and a kept tier starts a new period.
* **A manual tier is a floor**: while it lasts the member is never below it; a tier that only
  the floor held is reviewed at every run, so it drops (``floor_expired``) the night the floor
  ends unless points hold it.

Every change is a ``TierChange`` row. The recalculation is a few statements over all members
(a temporary table of each member's window points and target tier, then one INSERT of the
changes and one UPDATE of the members that differ), members locked in id order on PostgreSQL,
and a tier changed meanwhile by an award is left alone (the guard compares the tier read).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from django.db import connection, transaction
from django.utils import timezone

from core.db import greatest, is_postgres
from loyalty.models import LoyaltyProgram, Member, Tier, TierChange, TierChangeReason
from loyalty.services import clock
from loyalty.services.errors import InvalidRequest
from loyalty.services.ledger import member_lock
from loyalty.services.nightly import db_datetime

CALC = "loyalty_tier_calc"


def _sql() -> tuple[str, str]:
    """(greatest-of function, null-safe equality) in this database's dialect."""
    return greatest(), "IS NOT DISTINCT FROM" if is_postgres() else "IS"


def tiers_recalculate(
    *, now: dt.datetime | None = None, member_ids: Iterable[int] | None = None
) -> int:
    """Bring every member's tier (or those in ``member_ids``) up to date; returns the number
    of tier changes written. Safe to rerun: a second run at the same moment changes nothing."""
    now = now or timezone.now()
    program = LoyaltyProgram.current()
    start = clock.window_start(program, now)
    previous = clock.previous_window_start(program, now)
    review = clock.next_review(program, now)
    greatest, same = _sql()
    at, start, previous, review = (db_datetime(v) for v in (now, start, previous, review))
    only = ""
    params: list = []
    if member_ids is not None:
        ids = [int(pk) for pk in member_ids]
        if not ids:
            return 0
        only = f" WHERE m.id IN ({', '.join(['%s'] * len(ids))})"
        params = ids
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {CALC}")
        # Each member's points in the window (wp) and in the review window (rp), its current
        # tier's threshold, whether its review is due, and its floor while the floor lasts.
        cursor.execute(
            f"CREATE TEMP TABLE {CALC} AS SELECT m.id AS member_id, m.tier_id AS cur_id, "  # noqa: S608
            "COALESCE(ct.threshold, -1) AS cur_th, "
            "COALESCE(w.cur_pts, 0) AS wp, "
            f"{greatest}(COALESCE(w.cur_pts, 0), COALESCE(w.prev_pts, 0)) AS rp, "
            "CASE WHEN m.tier_review_at IS NULL OR m.tier_review_at <= %s THEN 1 ELSE 0 END "
            "AS due, "
            "CASE WHEN m.tier_floor_id IS NOT NULL AND (m.tier_floor_expires_at IS NULL "
            "OR m.tier_floor_expires_at > %s) THEN ft.threshold ELSE -1 END AS fl_th, "
            "CASE WHEN m.tier_floor_expires_at <= %s AND m.tier_floor_id = m.tier_id "
            "THEN 1 ELSE 0 END AS floor_gone, "
            "-1 AS up_th, -1 AS pts_th, -1 AS new_th, m.tier_id AS new_id "
            "FROM loyalty_member m "
            "LEFT JOIN loyalty_tier ct ON ct.id = m.tier_id "
            "LEFT JOIN loyalty_tier ft ON ft.id = m.tier_floor_id "
            "LEFT JOIN (SELECT e.member_id, "
            "SUM(CASE WHEN e.created_at >= %s THEN e.tier_points ELSE 0 END) AS cur_pts, "
            "SUM(CASE WHEN e.created_at < %s THEN e.tier_points ELSE 0 END) AS prev_pts "
            "FROM loyalty_ledgerentry e WHERE e.tier_points <> 0 AND e.created_at >= %s "
            "AND e.created_at <= %s GROUP BY e.member_id) AS w ON w.member_id = m.id" + only,
            [at, at, at, start, start, previous, at, *params],
        )
        # The tiers points justify: by the window (upgrades any time) and, when the review is
        # due, by the review window; the new tier is the highest of what is held, what points
        # justify and the floor.
        best = "COALESCE((SELECT MAX(t.threshold) FROM loyalty_tier t WHERE t.threshold <= {}), -1)"
        cursor.execute(
            f"UPDATE {CALC} SET up_th = {best.format('wp')}, "  # noqa: S608
            f"pts_th = {greatest}({best.format('wp')}, "
            f"CASE WHEN due = 1 THEN {best.format('rp')} ELSE -1 END)"
        )
        cursor.execute(
            f"UPDATE {CALC} SET new_th = {greatest}(CASE WHEN due = 1 THEN -1 ELSE cur_th END, "  # noqa: S608
            "pts_th, fl_th)"
        )
        cursor.execute(
            f"UPDATE {CALC} SET new_id = (SELECT t.id FROM loyalty_tier t "  # noqa: S608
            f"WHERE t.threshold = {CALC}.new_th)"
        )
        # What each member's row becomes: qualification restarts when points (re)qualify it;
        # a tier only the floor holds is reviewed at every run.
        new_qualified = (
            "CASE WHEN c.new_th = -1 THEN NULL "
            "WHEN c.new_th <> c.cur_th OR (c.due = 1 AND c.pts_th >= c.new_th) THEN %s "
            "ELSE loyalty_member.tier_qualified_at END"
        )
        new_review = (
            "CASE WHEN c.new_th = -1 THEN NULL "
            "WHEN c.pts_th >= c.new_th AND (c.new_th <> c.cur_th OR c.due = 1) THEN %s "
            "WHEN c.new_th <> c.cur_th OR c.due = 1 THEN %s "
            "ELSE loyalty_member.tier_review_at END"
        )
        differs = (
            "(c.new_th <> c.cur_th OR (c.due = 1 AND c.cur_th <> -1) "
            "OR loyalty_member.window_points <> c.wp)"
        )
        if is_postgres():
            cursor.execute(
                "SELECT count(*) FROM (SELECT loyalty_member.id FROM loyalty_member "  # noqa: S608
                f"JOIN {CALC} c ON c.member_id = loyalty_member.id WHERE {differs} "
                "OR loyalty_member.tier_floor_expires_at <= %s "
                "ORDER BY loyalty_member.id FOR UPDATE OF loyalty_member) AS locked",
                [at],
            )
        cursor.execute(
            "INSERT INTO loyalty_tierchange (member_id, from_tier_id, to_tier_id, reason, "  # noqa: S608
            "window_points, changed_at) "
            "SELECT c.member_id, c.cur_id, c.new_id, "
            "CASE WHEN c.new_th > c.cur_th THEN "
            f"CASE WHEN c.fl_th = c.new_th AND c.pts_th < c.new_th THEN "
            f"'{TierChangeReason.MANUAL}' ELSE '{TierChangeReason.UPGRADE}' END "
            f"WHEN c.floor_gone = 1 THEN '{TierChangeReason.FLOOR_EXPIRED}' "
            f"ELSE '{TierChangeReason.DOWNGRADE}' END, c.wp, %s "
            f"FROM {CALC} c JOIN loyalty_member m ON m.id = c.member_id "
            f"AND m.tier_id {same} c.cur_id WHERE c.new_th <> c.cur_th",
            [at],
        )
        changes = cursor.rowcount
        cursor.execute(
            f"UPDATE loyalty_member SET tier_id = c.new_id, tier_qualified_at = {new_qualified}, "  # noqa: S608
            f"tier_review_at = {new_review}, window_points = c.wp, window_points_at = %s "
            f"FROM {CALC} c WHERE loyalty_member.id = c.member_id "
            f"AND loyalty_member.tier_id {same} c.cur_id AND {differs}",
            [at, review, at, at],
        )
        cursor.execute(
            "UPDATE loyalty_member SET tier_floor_id = NULL, tier_floor_expires_at = NULL "  # noqa: S608
            "WHERE tier_floor_expires_at <= %s"
            + ("" if not params else f" AND id IN ({', '.join(['%s'] * len(params))})"),
            [at, *params],
        )
        cursor.execute(f"DROP TABLE {CALC}")
        return changes


def tier_floor_set(
    *,
    member: Member,
    tier: Tier | None,
    expires_at: dt.datetime | None = None,
    changed_by=None,
    now: dt.datetime | None = None,
) -> Member:
    """Give the member a manual tier floor (``tier=None`` removes it). A floor above the
    current tier raises it at once (a ``manual`` tier change); removing the floor, or one that
    ends, lets the next recalculation — run here at once for this member — lower the tier to
    what its points hold."""
    now = now or timezone.now()
    if tier is None:
        expires_at = None
    elif expires_at is not None and expires_at <= now:
        raise InvalidRequest("A tier floor must end in the future.")
    with transaction.atomic():
        locked = member_lock(member.account_id)
        old_floor = locked.tier_floor_id
        locked.tier_floor = tier
        locked.tier_floor_expires_at = expires_at
        fields = ["tier_floor", "tier_floor_expires_at"]
        if tier is not None and (locked.tier is None or tier.threshold > locked.tier.threshold):
            TierChange.objects.create(
                member=locked,
                from_tier=locked.tier,
                to_tier=tier,
                reason=TierChangeReason.MANUAL,
                window_points=locked.window_points,
                changed_by=changed_by,
                changed_at=now,
            )
            locked.tier = tier
            locked.tier_qualified_at = now
            locked.tier_review_at = now  # held by the floor: reviewed at every run
            fields += ["tier", "tier_qualified_at", "tier_review_at"]
        elif old_floor is not None and old_floor == locked.tier_id and tier != locked.tier:
            locked.tier_review_at = now  # the floor that held the tier is gone: review it
            fields.append("tier_review_at")
        locked.save(update_fields=fields)
        if "tier_review_at" in fields and "tier" not in fields:
            tiers_recalculate(now=now, member_ids=[locked.pk])
            locked.refresh_from_db()
        member.refresh_from_db()
        return member
