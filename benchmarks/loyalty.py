"""How long the loyalty program's night takes at a large ledger — expiry (with activation) and
tier recalculation — against hand-written SQL doing the same work in the same run.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/tenure .venv/bin/python \
        benchmarks/loyalty.py --accounts 100000

Creates the database ``tenure_bench_loyalty`` next to DATABASE_URL's (dropped at the end unless
``--keep``), migrates it and seeds, set-based: ``--accounts`` accounts, each a member with
``--lots-per-account`` lots (default 10, so 100 000 accounts make 1M lots), each lot with its
earn entry. Lots were earned over the last 13 months, so about one in thirteen is past its
12-month expiry (a month of missed nights: a heavy night, not a typical one); one in twenty
was earned in the last 20 days and is pending for 14 days, so about a third of those are due
to activate; a third of the lots were partly spent (the members' balances match their lots).
Four tiers; members start in a random tier with a random review date, a few with a manual
floor (some ended), so the recalculation upgrades, keeps, downgrades and ends floors.

Each contender runs inside a transaction that is rolled back, so both start from the same
data; one warm-up each, then ``--repeat`` alternating timed runs, median reported:

1. the product: ``lots_activate`` + ``lots_expire`` (``nightly``), then ``tiers_recalculate``
   (``tiers``), exactly as the Celery tasks call them;
2. the baseline: one statement per job, written for PostgreSQL by hand — data-modifying CTEs
   that close the due lots, insert the expire entries and their allocations and lower the
   balances; and for tiers one statement that aggregates the window points, picks each
   member's tier with the same rules (LATERAL lookups) and writes the changes and the members.

The results are compared (after each contender, before its rollback): expire entries and
their points, every member's balance, pending points and tier, and the tier changes by reason.
Any difference is a mismatch (0 expected). Last line:
``nightly_s=… nightly_baseline_s=… tiers_s=… tiers_baseline_s=… lots=… expired=… changes=…
mismatches=… ratio=…`` with ratio = the larger of nightly_s / nightly_baseline_s and
tiers_s / tiers_baseline_s (target ≤ 2).
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the project's packages, when run as a script
from benchmarks.bench_db import admin_execute, fresh_database  # noqa: E402

BENCH_DB = "tenure_bench_loyalty"
NOW = dt.datetime(2026, 12, 1, 3, 0, tzinfo=dt.UTC)


class Rollback(Exception):
    """Raised to undo a timed run once its results are read."""


def _run(sql: str, params=None) -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


def _one(sql: str, params=None):
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()


def _seed(accounts: int, lots_per_account: int) -> int:
    from django.core.management import call_command
    from django.db import transaction

    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    with transaction.atomic():
        _run("SELECT setseed(0.42)")
        _run(
            """
            INSERT INTO customers_account (external_id, name, domain, plan, currency, stage,
                traits, mrr, mrr_base, failed_payments, health_band, created_at, updated_at)
            SELECT 'lb-' || i, 'Bench ' || i, '', 'Pro', 'USD', 'loyalty', '{}', 0, 0, 0, '',
                now(), now()
            FROM generate_series(1, %(n)s) AS i
            """,
            {"n": accounts},
        )
        _run(
            "INSERT INTO loyalty_tier (name, threshold, multiplier, benefits, created_at) "
            "VALUES ('Bronze', 500, 1, '', now()), ('Silver', 1500, 1.25, '', now()), "
            "('Gold', 3000, 1.5, '', now()), ('Platinum', 6000, 2, '', now())"
        )
        # Members: a random tier (or none), reviewed some time in the next 60 days or already
        # due; one in fifty with a manual floor, half of those already ended.
        _run(
            """
            INSERT INTO loyalty_member (account_id, balance, pending, debt, tier_id,
                tier_qualified_at, tier_review_at, tier_floor_id, tier_floor_expires_at,
                window_points, joined_at)
            SELECT a.id, 0, 0, 0, t.id,
                CASE WHEN t.id IS NOT NULL THEN %(now)s - interval '300 days' END,
                CASE WHEN t.id IS NOT NULL
                     THEN %(now)s + (r_review * 90 - 30) * interval '1 day' END,
                CASE WHEN r_floor < 0.02 THEN f.id END,
                CASE WHEN r_floor < 0.01 THEN %(now)s - interval '1 day'
                     WHEN r_floor < 0.02 THEN %(now)s + interval '30 days' END,
                0, %(now)s - interval '2 years'
            FROM (SELECT id, random() AS r_tier, random() AS r_review, random() AS r_floor
                  FROM customers_account) a
            LEFT JOIN loyalty_tier t ON t.threshold = (ARRAY[NULL, 500, 1500, 3000,
                6000])[1 + floor(a.r_tier * 5)::int]
            LEFT JOIN loyalty_tier f ON f.name = 'Gold'
            """,
            {"now": NOW},
        )
        # The earn entries, one per lot to be: earned over the last 13 months.
        _run(
            """
            INSERT INTO loyalty_ledgerentry (member_id, kind, points, tier_points, debt,
                idempotency_key, reason, metadata, created_at)
            SELECT m.id, 'earn', pts, pts, 0, 'seed:' || m.id || ':' || k, 'Seed', '{}',
                %(now)s - random() * interval '395 days'
            FROM loyalty_member m CROSS JOIN generate_series(1, %(lots)s) AS k
            CROSS JOIN LATERAL (SELECT 10 + floor(random() * 290)::int AS pts) p
            """,
            {"now": NOW, "lots": lots_per_account},
        )
        # One in twenty earned in the last 20 days is still pending (14 days); the rest
        # activated when earned and expire 12 months after; a third partly spent.
        _run(
            """
            INSERT INTO loyalty_lot (member_id, source_entry_id, amount, remaining, state,
                earned_at, activates_at, expires_at)
            SELECT e.member_id, e.id, e.points,
                CASE WHEN pending THEN e.points
                     WHEN random() < 0.33 THEN floor(e.points * random())::int
                     ELSE e.points END,
                CASE WHEN pending THEN 'pending' ELSE 'active' END,
                earned,
                CASE WHEN pending THEN earned + interval '14 days' ELSE earned END,
                CASE WHEN pending THEN earned + interval '14 days' + interval '12 months'
                     ELSE earned + interval '12 months' END
            FROM (SELECT e.*, CASE WHEN random() < 0.05
                                   THEN %(now)s - random() * interval '20 days'
                                   ELSE e.created_at END AS earned
                  FROM loyalty_ledgerentry e) e
            CROSS JOIN LATERAL (SELECT e.earned > %(now)s - interval '20 days'
                                AND e.earned <> e.created_at AS pending) p
            """,
            {"now": NOW},
        )
        _run(
            """
            UPDATE loyalty_member m SET balance = s.active, pending = s.pending
            FROM (SELECT member_id,
                    SUM(CASE WHEN state = 'active' THEN remaining ELSE 0 END) AS active,
                    SUM(CASE WHEN state = 'pending' THEN remaining ELSE 0 END) AS pending
                  FROM loyalty_lot GROUP BY member_id) s
            WHERE m.id = s.member_id
            """
        )
    _run("VACUUM ANALYZE loyalty_lot")
    _run("VACUUM ANALYZE loyalty_ledgerentry")
    _run("VACUUM ANALYZE loyalty_member")
    lots = _one("SELECT count(*) FROM loyalty_lot")[0]
    print(f"seeded {accounts} members, {lots} lots in {time.perf_counter() - started:.1f}s")
    return lots


# --- the baseline ---------------------------------------------------------------------------

BASELINE_ACTIVATE = """
WITH due AS (
    UPDATE loyalty_lot SET state = 'active'
    WHERE state = 'pending' AND activates_at <= %(now)s
    RETURNING member_id, remaining
)
UPDATE loyalty_member m SET balance = m.balance + d.points, pending = m.pending - d.points
FROM (SELECT member_id, SUM(remaining) AS points FROM due GROUP BY member_id) d
WHERE m.id = d.member_id AND d.points <> 0
"""

BASELINE_EXPIRE = """
WITH due AS (
    SELECT id, member_id, remaining FROM loyalty_lot
    WHERE state = 'active' AND expires_at <= %(now)s
),
closed AS (
    UPDATE loyalty_lot l SET state = 'expired', remaining = 0 FROM due WHERE l.id = due.id
),
entries AS (
    INSERT INTO loyalty_ledgerentry (member_id, kind, points, tier_points, debt,
        idempotency_key, reason, metadata, created_at)
    SELECT member_id, 'expire', -remaining, 0, 0, 'expire:lot:' || id, 'Points expired',
        '{}', %(now)s
    FROM due WHERE remaining > 0
    ON CONFLICT (idempotency_key) DO NOTHING
    RETURNING id, points, idempotency_key
),
allocations AS (
    INSERT INTO loyalty_lotallocation (entry_id, lot_id, points)
    SELECT id, substr(idempotency_key, 12)::bigint, -points FROM entries
)
UPDATE loyalty_member m SET balance = m.balance - d.points
FROM (SELECT member_id, SUM(remaining) AS points FROM due WHERE remaining > 0
      GROUP BY member_id) d
WHERE m.id = d.member_id
"""

BASELINE_TIERS = """
WITH w AS (
    SELECT member_id,
        SUM(CASE WHEN created_at >= %(start)s THEN tier_points ELSE 0 END) AS cur,
        SUM(CASE WHEN created_at < %(start)s THEN tier_points ELSE 0 END) AS prev
    FROM loyalty_ledgerentry
    WHERE tier_points <> 0 AND created_at >= %(previous)s AND created_at <= %(now)s
    GROUP BY member_id
),
c AS (
    SELECT m.id AS member_id, m.tier_id AS cur_id, COALESCE(ct.threshold, -1) AS cur_th,
        COALESCE(w.cur, 0) AS wp, GREATEST(COALESCE(w.cur, 0), COALESCE(w.prev, 0)) AS rp,
        (m.tier_review_at IS NULL OR m.tier_review_at <= %(now)s) AS due,
        CASE WHEN m.tier_floor_id IS NOT NULL AND (m.tier_floor_expires_at IS NULL
             OR m.tier_floor_expires_at > %(now)s) THEN ft.threshold ELSE -1 END AS fl_th,
        (m.tier_floor_expires_at <= %(now)s AND m.tier_floor_id = m.tier_id) AS floor_gone,
        m.window_points AS old_wp, m.tier_qualified_at, m.tier_review_at
    FROM loyalty_member m
    LEFT JOIN loyalty_tier ct ON ct.id = m.tier_id
    LEFT JOIN loyalty_tier ft ON ft.id = m.tier_floor_id
    LEFT JOIN w ON w.member_id = m.id
),
p AS (
    SELECT c.*, GREATEST(up.th, CASE WHEN c.due THEN rv.th ELSE -1 END) AS pts_th
    FROM c
    CROSS JOIN LATERAL (SELECT COALESCE(MAX(threshold), -1) AS th FROM loyalty_tier
                        WHERE threshold <= c.wp) up
    CROSS JOIN LATERAL (SELECT COALESCE(MAX(threshold), -1) AS th FROM loyalty_tier
                        WHERE threshold <= c.rp) rv
),
n AS (
    SELECT p.*, GREATEST(CASE WHEN p.due THEN -1 ELSE p.cur_th END, p.pts_th, p.fl_th)
        AS new_th
    FROM p
),
t AS (
    SELECT n.*, nt.id AS new_id FROM n LEFT JOIN loyalty_tier nt ON nt.threshold = n.new_th
    WHERE n.new_th <> n.cur_th OR (n.due AND n.cur_th <> -1) OR n.old_wp <> n.wp
),
changes AS (
    INSERT INTO loyalty_tierchange (member_id, from_tier_id, to_tier_id, reason,
        window_points, changed_at)
    SELECT member_id, cur_id, new_id,
        CASE WHEN new_th > cur_th THEN
                CASE WHEN fl_th = new_th AND pts_th < new_th THEN 'manual' ELSE 'upgrade' END
             WHEN floor_gone THEN 'floor_expired' ELSE 'downgrade' END,
        wp, %(now)s
    FROM t WHERE new_th <> cur_th
),
floors AS (
    UPDATE loyalty_member SET tier_floor_id = NULL, tier_floor_expires_at = NULL
    WHERE tier_floor_expires_at <= %(now)s AND id NOT IN (SELECT member_id FROM t)
)
UPDATE loyalty_member m SET
    tier_id = t.new_id,
    tier_qualified_at = CASE WHEN t.new_th = -1 THEN NULL
        WHEN t.new_th <> t.cur_th OR (t.due AND t.pts_th >= t.new_th) THEN %(now)s
        ELSE t.tier_qualified_at END,
    tier_review_at = CASE WHEN t.new_th = -1 THEN NULL
        WHEN t.pts_th >= t.new_th AND (t.new_th <> t.cur_th OR t.due) THEN %(review)s
        WHEN t.new_th <> t.cur_th OR t.due THEN %(now)s
        ELSE t.tier_review_at END,
    window_points = t.wp, window_points_at = %(now)s,
    tier_floor_id = CASE WHEN m.tier_floor_expires_at <= %(now)s THEN NULL
        ELSE m.tier_floor_id END,
    tier_floor_expires_at = CASE WHEN m.tier_floor_expires_at <= %(now)s THEN NULL
        ELSE m.tier_floor_expires_at END
FROM t WHERE m.id = t.member_id
"""


def _baseline_nightly() -> None:
    _run(BASELINE_ACTIVATE, {"now": NOW})
    _run(BASELINE_EXPIRE, {"now": NOW})


def _baseline_tiers() -> None:
    from loyalty.models import LoyaltyProgram
    from loyalty.services import clock

    program = LoyaltyProgram.current()
    _run(
        BASELINE_TIERS,
        {
            "now": NOW,
            "start": clock.window_start(program, NOW),
            "previous": clock.previous_window_start(program, NOW),
            "review": clock.next_review(program, NOW),
        },
    )


def _product_nightly() -> None:
    from loyalty.services import lots_activate, lots_expire

    lots_activate(now=NOW)
    lots_expire(now=NOW)


def _product_tiers() -> None:
    from loyalty.services import tiers_recalculate

    tiers_recalculate(now=NOW)


# --- timing and comparing -------------------------------------------------------------------


def _fingerprint() -> dict:
    """What both contenders must leave behind, as comparable numbers."""
    expired = _one(
        "SELECT count(*), COALESCE(SUM(points), 0), COALESCE(SUM(hashtext(idempotency_key)), 0) "
        "FROM loyalty_ledgerentry WHERE kind = 'expire'"
    )
    allocations = _one("SELECT count(*), COALESCE(SUM(points), 0) FROM loyalty_lotallocation")
    members = _one(
        "SELECT SUM(balance), SUM(pending), "
        "SUM(hashtext(id || ':' || balance || ':' || pending || ':' || COALESCE(tier_id, 0) "
        "|| ':' || window_points || ':' || COALESCE(tier_floor_id, 0))::bigint), "
        "SUM(hashtext(id || ':' || COALESCE(tier_review_at::text, '-') || ':' "
        "|| COALESCE(tier_qualified_at::text, '-'))::bigint) FROM loyalty_member"
    )
    lots = _one(
        "SELECT SUM(hashtext(id || ':' || state || ':' || remaining)::bigint) FROM loyalty_lot"
    )
    changes = dict(
        _all("SELECT reason, count(*) FROM loyalty_tierchange GROUP BY reason ORDER BY reason")
    )
    return {
        "expired": expired,
        "allocations": allocations,
        "members": members,
        "lots": lots,
        "changes": changes,
    }


def _all(sql: str) -> list:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(sql)
        return cursor.fetchall()


def _timed(job) -> tuple[float, float, dict]:
    """(nightly seconds, tiers seconds, fingerprint) of one run of ``job``'s two steps,
    rolled back."""
    from django.db import transaction

    nightly, tiers = job
    result: dict = {}
    try:
        with transaction.atomic():
            started = time.perf_counter()
            nightly()
            result["nightly"] = time.perf_counter() - started
            started = time.perf_counter()
            tiers()
            result["tiers"] = time.perf_counter() - started
            result["fingerprint"] = _fingerprint()
            raise Rollback
    except Rollback:
        pass
    return result["nightly"], result["tiers"], result["fingerprint"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--lots-per-account", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--keep", action="store_true", help="keep the benchmark database")
    args = parser.parse_args()

    base_url = fresh_database(BENCH_DB)
    import django

    django.setup()
    from django.db import connections

    try:
        lots = _seed(args.accounts, args.lots_per_account)
        product = (_product_nightly, _product_tiers)
        baseline = (_baseline_nightly, _baseline_tiers)
        _, _, product_print = _timed(product)  # warm-up
        _, _, baseline_print = _timed(baseline)
        mismatches = sum(product_print[key] != baseline_print[key] for key in product_print)
        for key in product_print:
            if product_print[key] != baseline_print[key]:
                print(
                    f"mismatch in {key}: product {product_print[key]} "
                    f"baseline {baseline_print[key]}"
                )
        runs: dict[str, list[float]] = {k: [] for k in ("pn", "pt", "bn", "bt")}
        for i in range(args.repeat):
            order = [("p", product), ("b", baseline)]
            for name, job in order if i % 2 == 0 else reversed(order):
                night, tiers, _ = _timed(job)
                runs[name + "n"].append(night)
                runs[name + "t"].append(tiers)
                print(
                    f"  {'product' if name == 'p' else 'baseline'}: nightly {night:.2f}s, "
                    f"tiers {tiers:.2f}s",
                    flush=True,
                )
        med = {k: statistics.median(v) for k, v in runs.items()}
        ratio = max(med["pn"] / med["bn"], med["pt"] / med["bt"])
        changes = sum(product_print["changes"].values())
        print(
            f"nightly_s={med['pn']:.2f} nightly_baseline_s={med['bn']:.2f} "
            f"tiers_s={med['pt']:.2f} tiers_baseline_s={med['bt']:.2f} lots={lots} "
            f"expired={product_print['expired'][0]} changes={changes} "
            f"mismatches={mismatches} ratio={ratio:.2f}"
        )
    finally:
        connections.close_all()
        if not args.keep:
            admin_execute(base_url, f"DROP DATABASE IF EXISTS {BENCH_DB}")


if __name__ == "__main__":
    main()
