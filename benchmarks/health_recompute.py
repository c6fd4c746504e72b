"""How long the nightly health recompute takes at a large book, against one hand-written SQL
statement that writes the same scores, and how soon a usage event moves its account's score.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/tenure .venv/bin/python \
        benchmarks/health_recompute.py --accounts 100000

Uses the database ``tenure_bench_health`` (``--database``) next to DATABASE_URL's (that one
is never touched) and keeps it: a later run with the same ``--accounts`` and ``--events-per-account`` reuses the
seed (recorded in the table ``bench_health_seed``); anything else, or ``--reseed``, drops and
seeds it again. The seed, set-based so 100k accounts take minutes, not hours:

- accounts (one in ten younger than 90 days, so the Onboarding profile scores some), every
  lifecycle stage, seats in the traits of most, a card expiring from two months ago to two
  years ahead on most; three contacts each, about half seen in the last 30 days;
- about ``--events-per-account`` usage events each over the last 60 days, COPYed into
  ``customers_usageevent``: one to six product event types, a per-account trend, some accounts
  gone quiet for days or weeks, a few never active, ``payment_failed`` events on one in
  sixteen; then the ``customers_dailyusage`` rollups and ``last_activity_at`` derived from
  them with one ``INSERT … SELECT … GROUP BY`` and one ``UPDATE``, as ingest would have left
  them;
- NPS answers on about a third of the accounts (some twice, so "latest" matters), CSAT answers
  on a quarter (some older than the 90-day window), open tickets on a fifth (and some closed),
  CSM sentiment on a seventh. No churned account and no override: the baseline models neither
  (it stops if it finds one), so every account is scored from its inputs.

Then, in this process with production settings (DEBUG off):

1. the product: ``health_recompute()`` over every account, its default chunking, timed after
   today's snapshots are deleted (both contenders insert, neither updates);
2. the baseline: one SQL statement, generated from the health profiles in the database, that
   computes every input with aggregates in CTEs (the same windows as health.selectors), maps
   each measure to 0–100 with CASE expressions (linear clamp, bands, named choices), takes the
   weighted means over the measures and groups that have data, chooses each account's profile
   as the product does (the first non-default profile whose age/stage segment takes it, in
   priority order, else the default), rounds, bands, upserts ``health_healthsnapshot`` on
   ``(account_id, day)`` and copies score and band onto ``customers_account``. Its components
   are only the group scores; score, band and profile are the product's. It runs with
   ``jit = off``: JIT-compiling its expressions cost more than half its time;
3. the comparison: the product's scores were set aside before the baseline ran; every account
   whose score or band differs (or that only one side scored) is a mismatch;
4. event → score: a real ``celery -A config worker`` (prefork, two processes) on Redis
   (``--redis-url``, database 12), while this process records ``--samples`` usage events, one
   at a time on random accounts, through ``customers.ingest.events_ingest`` (what the API's
   ``POST /api/v1/events`` calls), then polls the account's snapshot for today until its
   ``computed_at`` is later than the write: the path is the ``accounts_touched`` signal, a
   ``HealthDirty`` mark, the debounced ``recompute_health_dirty`` (queued with a 1 s
   countdown) and its recompute.

Rounding, so that mismatches are real differences and not float noise: the baseline computes
in double precision in the same order as health.scoring (each sum left to right over the
profile's measures, a missing measure adding 0.0 to both sums, which changes no bit), so each
group's mean and the total are the same doubles. The score is then rounded as scoring does,
half up on the shortest decimal that reads back as that double (``Decimal(str(total))``):
PostgreSQL's ``float8::text`` is that same shortest form, and ``round(numeric)`` rounds halves
away from zero, which for scores ≥ 0 is half up. The inputs Python rounds (usage trend and
seats used to 0.1, CSAT average to 0.01) use Python's ``round(float, n)``, which rounds the
binary value, so an exact decimal tie such as 0.15 goes the way its nearest double lies; the
baseline finds those ties in integers and asks on which side of the tie the double lies with
an exact (Dekker) product, and rounds a tie that is exactly representable (0.25) to even. So
the expected figure is ``mismatches=0``.

The compared run (1) has the signal rules switched off, since the baseline writes scores
only; the nightly run as it ships — scores, then every risk signal, the alerts they open and
the playbooks those start — is timed once more after the comparison (``with_signals_s``, no
alert left from before, so every alert is opened: the worst case). The event-to-score
samples run with the signals on.

Last line: ``recompute_s=… baseline_s=… with_signals_s=… accounts=… mismatches=…
event_to_score_p50_s=… event_to_score_p95_s=… ratio=…`` with ratio = recompute_s /
baseline_s (targets: ratio ≤ 2, event-to-score p95 ≤ 2 s).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import secrets
import signal
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the project's packages, when run as a script
from benchmarks.bench_db import admin_execute, with_db  # noqa: E402

BENCH_DB = "tenure_bench_health"
SEED_TABLE = "bench_health_seed"
PRODUCT_TABLE = "bench_health_product"
PRODUCT_TYPES = ["login", "feature_used", "page_viewed", "report_run", "data_export", "invite"]
STAGES = ["awareness", "conversion", "purchase", "onboarding", "renewal", "loyalty"]
COPY_BATCH = 200_000
CELERY_KEYS = ("celery", "unacked", "unacked_index", "unacked_mutex")


# --- the database -------------------------------------------------------------------------


def _seeded_with(bench_url: str) -> tuple[int, int] | None:
    """``(accounts, events per account)`` the benchmark database was seeded with, or None
    when it does not exist or its seed never finished."""
    import psycopg

    try:
        with psycopg.connect(bench_url, autocommit=True) as conn:
            row = conn.execute(
                f"SELECT accounts, events_per_account FROM {SEED_TABLE}"  # noqa: S608
            ).fetchone()
    except psycopg.Error:
        return None
    return None if row is None else (row[0], row[1])


def _run(sql: str, params=None) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def _seed(accounts: int, per_account: int) -> None:
    """Everything the default profiles read, for ``accounts`` accounts; see the docstring."""
    from django.core.management import call_command
    from django.db import connection, transaction

    from surveys.models import Survey, SurveyKind

    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    with transaction.atomic():
        _run("SELECT setseed(0.42)")
        _run(
            """
            INSERT INTO customers_account (external_id, name, domain, plan, currency, stage,
                traits, mrr, mrr_base, failed_payments, health_band, created_at, updated_at,
                card_exp_month, card_exp_year)
            SELECT 'hb-' || i, 'Bench ' || i, '', 'Pro', 'USD',
                (%(stages)s::text[])[1 + floor(r_stage * 6)::int],
                CASE WHEN r_seats < 0.7 THEN jsonb_build_object(
                    'seats', seats, 'seats_used', floor(r_used * 1.1 * seats)::int)
                ELSE '{}'::jsonb END,
                0, 0, 0, '',
                CASE WHEN r_age < 0.1 THEN now() - (5 + r_days * 80) * interval '1 day'
                     ELSE now() - (100 + r_days * 900) * interval '1 day' END,
                now(),
                CASE WHEN r_card < 0.8 THEN extract(month FROM card_day)::int END,
                CASE WHEN r_card < 0.8 THEN extract(year FROM card_day)::int END
            FROM (
                SELECT i, random() AS r_stage, random() AS r_seats, random() AS r_used,
                    5 + floor(random() * 96)::int AS seats, random() AS r_age,
                    random() AS r_days, random() AS r_card,
                    current_date + floor(random() * 790 - 60)::int AS card_day
                FROM generate_series(1, %(n)s) AS i
            ) g
            ORDER BY i
            """,
            {"n": accounts, "stages": STAGES},
        )
        _run(
            """
            INSERT INTO customers_contact (account_id, external_id, email, name, role, locale,
                last_seen_at, do_not_survey, traits, created_at, updated_at)
            SELECT id, external_id || '-c' || k, '', '', '', '',
                CASE WHEN r < 0.5 THEN now() - r2 * interval '30 days'
                     WHEN r < 0.85 THEN now() - (30 + r2 * 200) * interval '1 day' END,
                false, '{}', now(), now()
            FROM (
                SELECT a.id, a.external_id, k, random() AS r, random() AS r2
                FROM customers_account a CROSS JOIN generate_series(1, 3) AS k
            ) g
            """
        )
    print(f"  accounts and contacts in {time.perf_counter() - started:.1f}s", flush=True)

    started = time.perf_counter()
    events = _events_copy(per_account)
    print(f"  {events} usage events COPYed in {time.perf_counter() - started:.1f}s", flush=True)

    started = time.perf_counter()
    with transaction.atomic():
        _run(
            """
            INSERT INTO customers_dailyusage (account_id, day, type, count)
            SELECT account_id, (occurred_at AT TIME ZONE 'UTC')::date, type, count(*)
            FROM customers_usageevent GROUP BY 1, 2, 3
            """
        )
        _run(
            """
            UPDATE customers_account a SET last_activity_at = e.last_at
            FROM (SELECT account_id, max(occurred_at) AS last_at FROM customers_usageevent
                  WHERE type <> 'payment_failed' GROUP BY account_id) e
            WHERE a.id = e.account_id
            """
        )
        _run(
            """
            UPDATE customers_account a SET failed_payments = f.n, last_payment_failed_at = f.at
            FROM (SELECT account_id, count(*) AS n, max(occurred_at) AS at
                  FROM customers_usageevent WHERE type = 'payment_failed' GROUP BY account_id) f
            WHERE a.id = f.account_id
            """
        )
    print(f"  rollups and last activity in {time.perf_counter() - started:.1f}s", flush=True)

    started = time.perf_counter()
    with transaction.atomic():
        _run("SELECT setseed(0.24)")
        nps = Survey.objects.create(slug="bench-nps", name="Bench NPS", kind=SurveyKind.NPS)
        csat = Survey.objects.create(slug="bench-csat", name="Bench CSAT", kind=SurveyKind.CSAT)
        # (survey, which contacts answer, how many days back they answered, the score)
        for survey, share, contacts, days, score in [
            (nps, 0.35, "1", "1 + random() * 300", "floor(random() * 11)"),
            (nps, 0.12, "2", "1 + random() * 300", "floor(random() * 11)"),
            (csat, 0.25, "1, 2, 3", "random() * 120", "1 + floor(random() * 5)"),
        ]:
            _run(
                f"""
                INSERT INTO surveys_invitation (survey_id, contact_id, trigger, token_hash,
                    language, scheduled_for, sent_at, created_at)
                SELECT %(survey)s, c.id, 'campaign', 'hb-' || %(survey)s || '-' || c.id, '',
                    now() - ({days}) * interval '1 day', now(), now()
                FROM customers_contact c
                WHERE right(c.external_id, 1) IN ({", ".join(f"'{k}'" for k in contacts)})
                  AND random() < %(share)s
                  AND NOT EXISTS (SELECT 1 FROM surveys_invitation i
                                  WHERE i.survey_id = %(survey)s AND i.contact_id = c.id)
                """,  # noqa: S608 (the literals above are this file's own)
                {"survey": survey.pk, "share": share},
            )
            _run(
                f"""
                INSERT INTO surveys_response (invitation_id, survey_id, contact_id, account_id,
                    score, answers, comment, language, created_at, updated_at, to_announce)
                SELECT i.id, i.survey_id, i.contact_id, c.account_id, {score}, '{{}}', '',
                    'en', i.scheduled_for, i.scheduled_for, 0
                FROM surveys_invitation i JOIN customers_contact c ON c.id = i.contact_id
                WHERE i.survey_id = %(survey)s
                  AND NOT EXISTS (SELECT 1 FROM surveys_response r WHERE r.invitation_id = i.id)
                """,  # noqa: S608
                {"survey": survey.pk},
            )
        _run(
            """
            INSERT INTO customers_ticket (account_id, external_id, subject, priority, status,
                opened_at, closed_at)
            SELECT a.id, a.external_id || '-t' || k, 'Help', 'normal',
                CASE WHEN closed THEN 'closed' ELSE 'open' END, opened,
                CASE WHEN closed THEN LEAST(opened + interval '1 day', now()) END
            FROM (
                SELECT id, external_id, random() AS r FROM customers_account
            ) a
            CROSS JOIN LATERAL (
                SELECT k, now() - random() * interval '60 days' AS opened,
                    random() < 0.3 AS closed
                FROM generate_series(1, 1 + mod(floor(a.r * 20)::int, 5)) AS k
            ) t
            WHERE a.r < 0.2
            """
        )
        _run(
            """
            INSERT INTO health_csmsentiment (account_id, value, note, set_at)
            SELECT id, (ARRAY[0, 50, 100])[1 + floor(random() * 3)::int], '', now()
            FROM customers_account WHERE random() < 0.15
            """
        )
        _run(
            f"CREATE TABLE {SEED_TABLE} (accounts int NOT NULL, "
            "events_per_account int NOT NULL, events bigint NOT NULL, seeded_at timestamptz)"
        )
        _run(
            f"INSERT INTO {SEED_TABLE} VALUES (%s, %s, %s, now())",  # noqa: S608
            [accounts, per_account, events],
        )
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    print(f"  surveys, tickets, sentiment in {time.perf_counter() - started:.1f}s", flush=True)


def _events_copy(per_account: int) -> int:
    """COPY about ``per_account`` usage events per account into customers_usageevent, text
    lines built here (timestamps from a per-minute prefix cache, not datetime objects)."""
    from django.db import connection, transaction

    rng = random.Random(42)
    now = int(time.time())
    received = time.strftime("%Y-%m-%d %H:%M:%S+00", time.gmtime(now))
    minutes: dict[int, str] = {}

    def stamp(at: int) -> str:
        minute = at // 60
        prefix = minutes.get(minute)
        if prefix is None:
            prefix = minutes[minute] = time.strftime("%Y-%m-%d %H:%M:", time.gmtime(at))
        return f"{prefix}{at % 60:02d}+00"

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id, extract(epoch FROM created_at)::bigint FROM customers_account ORDER BY id"
        )
        accounts = cursor.fetchall()
    day = 86400
    total = 0
    lines: list[str] = []
    sql = (
        "COPY customers_usageevent (account_id, type, occurred_at, properties, source, "
        "event_id, received_at) FROM STDIN"
    )
    with transaction.atomic(), connection.cursor() as cursor:
        raw = cursor.cursor  # psycopg's own cursor, for copy()
        with raw.copy(sql) as copy:
            for pk, created in accounts:
                if rng.random() < 0.04:
                    continue  # never active
                oldest = min(60 * day, now - created)  # no event before the account existed
                quiet = 0 if rng.random() < 0.7 else rng.randint(1, 45) * day
                if quiet >= oldest:
                    quiet = 0
                count = max(1, round(per_account * rng.uniform(0.4, 1.6)))
                types = rng.sample(PRODUCT_TYPES, rng.randint(1, len(PRODUCT_TYPES)))
                recent_share = rng.uniform(0.2, 0.8)
                split = min(30 * day, oldest)
                for n in range(count):
                    if split > quiet and rng.random() < recent_share:
                        back = rng.randrange(quiet, split)
                    elif oldest > max(split, quiet):
                        back = rng.randrange(max(split, quiet), oldest)
                    else:
                        back = rng.randrange(quiet, oldest)
                    lines.append(
                        f"{pk}\t{rng.choice(types)}\t{stamp(now - back)}\t{{}}\tbench\t"
                        f"{pk}-{n}\t{received}\n"
                    )
                if rng.random() < 0.0625:  # failed payments in the last 25 days
                    for n in range(rng.randint(1, 3)):
                        back = rng.randrange(0, 25 * day)
                        lines.append(
                            f"{pk}\tpayment_failed\t{stamp(now - back)}\t{{}}\tbench\t"
                            f"{pk}-f{n}\t{received}\n"
                        )
                if len(lines) >= COPY_BATCH:
                    total += len(lines)
                    copy.write("".join(lines))
                    lines = []
            total += len(lines)
            copy.write("".join(lines))
    return total


def _today_reset(day: dt.date) -> None:
    """No snapshot for ``day`` and no score on the accounts, vacuumed: each contender starts
    from the same tables and inserts every row."""
    from django.db import connection

    _run("DELETE FROM health_healthsnapshot WHERE day = %s", [day])
    _run("UPDATE customers_account SET health_score = NULL, health_band = ''")
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE health_healthsnapshot")
        cursor.execute("VACUUM ANALYZE customers_account")


# --- the baseline -------------------------------------------------------------------------


def _py_round(numerator: str, denominator: str, digits: int) -> str:
    """SQL for Python's ``round(numerator / denominator, digits)`` on doubles, for whole
    numbers with 0 < denominator < 2**26; see the module docstring.

    Away from a decimal tie the double and the exact quotient round alike (they differ by far
    less than the quotient's distance to any tie), so exact numeric division decides. At a
    tie ``q2 / (2·10^digits)`` (q2 odd) it depends on the double ``d``: above the tie, up;
    below, down; exactly on it, to the even neighbour. ``d·b − a`` is computed exactly from
    Dekker's split of ``d`` (the products of ≤ 26-bit halves are exact, ``p − a`` is exact by
    Sterbenz), so its sign is the side."""
    s = 10**digits
    return f"""(SELECT CASE
        WHEN mod(2 * {s} * x.a, x.b) <> 0 OR mod((2 * {s} * x.a) / x.b, 2) = 0
            THEN round(x.a::numeric / x.b, {digits})::float8
        ELSE (CASE
            WHEN t.side > 0 OR (t.side = 0 AND mod(((2 * {s} * x.a) / x.b + 1) / 2, 2) = 0)
                THEN (((2 * {s} * x.a) / x.b + 1) / 2)::numeric / {s}
            ELSE (((2 * {s} * x.a) / x.b - 1) / 2)::numeric / {s}
        END)::float8
        END
        FROM (SELECT ({numerator})::bigint AS a, ({denominator})::bigint AS b) x
        CROSS JOIN LATERAL (SELECT x.a::float8 / x.b::float8 AS d) q
        CROSS JOIN LATERAL (SELECT 134217729.0::float8 * q.d AS c) v
        CROSS JOIN LATERAL (SELECT v.c - (v.c - q.d) AS hi) h
        CROSS JOIN LATERAL (SELECT q.d * x.b AS p) m
        CROSS JOIN LATERAL (SELECT sign((m.p - x.a) + ((h.hi * x.b - m.p) + (q.d - h.hi) * x.b))
            AS side) t)"""  # noqa: S608 (built from this file's own fragments and numbers)


def _f(value: float) -> str:
    """A double as an SQL literal that reads back as the same double."""
    return f"({float(value)!r})::float8"


def _measure_sql(measure) -> str:
    """The measure's 0–100 score as SQL over the ``inputs`` columns, NULL without data
    (health.scoring.map_value)."""
    from health import scoring
    from health.models import MeasureKind

    column = f"i.{measure.kind}"
    if measure.mapping == scoring.CHOICES:
        if measure.kind != MeasureKind.LIFECYCLE_STAGE:
            raise SystemExit(
                f"the baseline maps named choices of lifecycle_stage only, not of {measure.kind}"
            )
        cases = " ".join(
            f"WHEN {_quote(name)} THEN {_f(score)}" for name, score in measure.choices.items()
        )
        return f"(CASE {column} {cases} END)"
    if measure.kind == MeasureKind.LIFECYCLE_STAGE:
        return "NULL::float8"  # a stage is no number: map_value gives None
    if measure.mapping == scoring.BANDS:
        cases = " ".join(f"WHEN {column} <= {_f(u)} THEN {_f(s)}" for u, s in measure.bands)
        return f"(CASE WHEN {column} IS NULL THEN NULL {cases} ELSE {_f(measure.above)} END)"
    worst, best = _f(measure.worst), _f(measure.best)
    share = f"({column} - {worst}) / ({best} - {worst})"
    return (
        f"(CASE WHEN {column} IS NULL THEN NULL ELSE "
        f"{_f(100.0)} * LEAST({_f(1.0)}, GREATEST({_f(0.0)}, {share})) END)"
    )


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _weighted_mean_sql(pairs: list[tuple[str, float]]) -> str:
    """health.scoring._weighted_mean in SQL, summing in the same order: a missing value
    (NULL) adds 0.0 to both sums, which leaves every bit of the double as it was."""
    values, weights = "0.0::float8", "0.0::float8"
    for expression, weight in pairs:
        values = f"({values} + COALESCE({expression} * {_f(weight)}, 0.0))"
        weights = f"({weights} + CASE WHEN {expression} IS NULL THEN 0.0 ELSE {_f(weight)} END)"
    return f"(CASE WHEN {weights} > 0 THEN {values} / {weights} END)"


def _days_since(moment: str) -> str:
    """Whole days from ``moment``'s UTC date to the day, at least 0; NULL stays NULL (which
    GREATEST alone would turn into 0)."""
    days = f"%(day)s::date - ({moment} AT TIME ZONE 'UTC')::date"
    return f"(CASE WHEN {moment} IS NOT NULL THEN GREATEST(0, {days})::float8 END)"


def _profile_choice_sql(profiles, *, age: str, stage: str) -> str:
    """health.services._profile_for as a CASE: the first specific profile whose segment
    takes the account (younger than its age limit, in its stages), else the default."""
    default = next((p for p in profiles if p.is_default), None)
    whens = []
    for profile in profiles:
        if profile.is_default:
            continue
        rule = ["TRUE"]
        if profile.max_age_days is not None:
            rule.append(f"{age} < {int(profile.max_age_days)}")
        if profile.stages:
            rule.append(f"{stage} IN ({', '.join(_quote(s) for s in sorted(profile.stages))})")
        whens.append(f"WHEN {' AND '.join(rule)} THEN {profile.pk}")
    return f"(CASE {' '.join(whens)} ELSE {default.pk if default else 'NULL'} END)"


def baseline_sql(profiles) -> str:
    """One statement scoring every account with ``profiles`` (health.services._Profile,
    specific segments first in priority order, the default last) and writing the snapshots
    and the accounts' copies. Parameters: day, start (the day's first instant), end (the next
    day's), since (end − 31 days, as health.selectors), csat_from, recent_from, prior_from,
    tz, now."""
    scored = []
    for profile in profiles:
        groups = []
        for group in profile.spec.groups:
            mean = _weighted_mean_sql([(_measure_sql(m), m.weight) for m in group.measures])
            groups.append((group.name, mean, group.weight))
        group_columns = ", ".join(f"{mean} AS g{n}" for n, (_, mean, _) in enumerate(groups))
        total = _weighted_mean_sql([(f"g.g{n}", w) for n, (_, _, w) in enumerate(groups)])
        components = ", ".join(
            f"{_quote(name)}, round(g.g{n}::numeric, 1)" for n, (name, _, _) in enumerate(groups)
        )
        red, yellow = int(profile.spec.red_max), int(profile.spec.yellow_max)
        scored.append(
            f"""SELECT g.account_id, {profile.pk} AS profile_id, s.score,
                CASE WHEN s.score IS NULL THEN '' WHEN s.score <= {red} THEN 'red'
                     WHEN s.score <= {yellow} THEN 'yellow' ELSE 'green' END AS band,
                jsonb_build_object('groups', jsonb_build_object({components})) AS components
            FROM (SELECT i.account_id, {group_columns} FROM inputs i
                  WHERE i.profile_id = {profile.pk}) g
            CROSS JOIN LATERAL (SELECT round(({total})::text::numeric)::int AS score) s"""  # noqa: S608
        )
    union = "\nUNION ALL\n".join(scored)
    seats_used = _py_round(
        "100 * (a.traits ->> 'seats_used')::bigint", "(a.traits ->> 'seats')::bigint", 1
    )
    product = "type NOT IN ('payment_failed', 'payment_succeeded', 'card_updated')"
    return f"""
WITH usage AS (
    SELECT account_id,
        COALESCE(sum(count) FILTER (WHERE {product} AND day >= %(recent_from)s), 0) AS recent,
        COALESCE(sum(count) FILTER (WHERE {product} AND day < %(recent_from)s), 0) AS prior,
        count(DISTINCT type) FILTER (WHERE {product} AND day >= %(recent_from)s) AS breadth,
        COALESCE(sum(count) FILTER (WHERE type = 'payment_failed' AND day >= %(recent_from)s),
                 0) AS failed
    FROM customers_dailyusage
    WHERE day >= %(prior_from)s AND day <= %(day)s
    GROUP BY account_id
), active AS (
    SELECT account_id, count(*) AS n FROM customers_contact
    WHERE last_seen_at >= %(since)s AND last_seen_at < %(end)s GROUP BY account_id
), nps AS (
    SELECT DISTINCT ON (r.account_id) r.account_id, r.score
    FROM surveys_response r JOIN surveys_survey s ON s.id = r.survey_id
    WHERE s.kind = 'nps' AND r.score IS NOT NULL AND r.created_at < %(end)s
    ORDER BY r.account_id, r.created_at DESC, r.id DESC
), csat AS (
    SELECT r.account_id, sum(r.score) AS total, count(*) AS n
    FROM surveys_response r JOIN surveys_survey s ON s.id = r.survey_id
    WHERE s.kind = 'csat' AND r.score IS NOT NULL
      AND r.created_at >= %(csat_from)s AND r.created_at < %(end)s
    GROUP BY r.account_id
), tickets AS (
    SELECT account_id, count(*) AS n, min(opened_at) AS oldest FROM customers_ticket
    WHERE status = 'open' AND opened_at < %(end)s GROUP BY account_id
), inputs AS MATERIALIZED (
    SELECT a.id AS account_id, x.age_days, a.stage,
        {_profile_choice_sql(profiles, age="x.age_days", stage="a.stage")} AS profile_id,
        {_days_since("a.last_activity_at")} AS days_since_activity,
        COALESCE(ac.n, 0)::float8 AS active_contacts,
        CASE WHEN u.prior > 0 THEN {_py_round("100 * (u.recent - u.prior)", "u.prior", 1)} END
            AS usage_trend,
        COALESCE(u.breadth, 0)::float8 AS usage_breadth,
        CASE WHEN jsonb_typeof(a.traits -> 'seats') = 'number'
              AND jsonb_typeof(a.traits -> 'seats_used') = 'number'
              AND (a.traits ->> 'seats')::numeric > 0
            THEN {seats_used}
        END AS seats_used,
        nps.score::float8 AS nps_latest,
        CASE WHEN csat.n > 0 THEN {_py_round("csat.total", "csat.n", 2)} END AS csat_average,
        COALESCE(t.n, 0)::float8 AS open_tickets,
        {_days_since("t.oldest")} AS oldest_open_ticket_days,
        COALESCE(u.failed, 0)::float8 AS failed_payments,
        CASE WHEN a.card_exp_month BETWEEN 1 AND 12 AND a.card_exp_year > 0
            THEN ((make_date(a.card_exp_year + a.card_exp_month / 12,
                             mod(a.card_exp_month, 12) + 1, 1) - 1) - %(day)s::date)::float8
        END AS card_expiry_days,
        cs.value::float8 AS csm_sentiment,
        NULLIF(a.stage, '') AS lifecycle_stage
    FROM customers_account a
    CROSS JOIN LATERAL (
        SELECT %(day)s::date - (a.created_at AT TIME ZONE %(tz)s)::date AS age_days
    ) x
    LEFT JOIN usage u ON u.account_id = a.id
    LEFT JOIN active ac ON ac.account_id = a.id
    LEFT JOIN nps ON nps.account_id = a.id
    LEFT JOIN csat ON csat.account_id = a.id
    LEFT JOIN tickets t ON t.account_id = a.id
    LEFT JOIN health_csmsentiment cs ON cs.account_id = a.id
), scored AS (
{union}
), written AS (
    INSERT INTO health_healthsnapshot
        (account_id, day, score, band, components, profile_id, source, computed_at)
    SELECT account_id, %(day)s, score, band, components, profile_id, 'computed', %(now)s
    FROM scored
    ON CONFLICT (account_id, day) DO UPDATE SET score = excluded.score,
        band = excluded.band, components = excluded.components,
        profile_id = excluded.profile_id, source = excluded.source,
        computed_at = excluded.computed_at
    RETURNING account_id, score, band
)
UPDATE customers_account a SET health_score = w.score, health_band = w.band
FROM written w WHERE a.id = w.account_id
"""  # noqa: S608 (profiles' numbers and names are quoted by _f and _quote; values are parameters)


def _baseline(day: dt.date) -> float:
    """Run the baseline statement for ``day``; seconds taken (reading the profiles included,
    as the product reads them too)."""
    from django.conf import settings
    from django.db import connection, transaction
    from django.utils import timezone

    from customers.models import Account
    from health.models import HealthOverride
    from health.selectors import CSAT_WINDOW, WINDOW
    from health.services import _profiles

    if Account.objects.filter(churned_at__isnull=False).exists():
        raise SystemExit("the baseline does not freeze churned accounts; the seed has none")
    if HealthOverride.objects.exists():
        raise SystemExit("the baseline does not apply overrides; the seed has none")
    started = time.perf_counter()
    now = timezone.now()
    profiles = _profiles()
    start = timezone.make_aware(dt.datetime.combine(day, dt.time.min))
    end = start + dt.timedelta(days=1)
    recent_from = day - WINDOW + dt.timedelta(days=1)
    params = {
        "day": day,
        "end": end,
        "since": start - WINDOW,
        "csat_from": end - CSAT_WINDOW,
        "recent_from": recent_from,
        "prior_from": recent_from - WINDOW,
        "tz": settings.TIME_ZONE,
        "now": now,
    }
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL extra_float_digits = 1")  # float8::text: shortest exact
        # Compiling this statement's hundreds of CASE expressions took PostgreSQL's JIT 27 s
        # of 47 at 100k accounts; a hand-tuned statement would be run without it.
        cursor.execute("SET LOCAL jit = off")
        cursor.execute(baseline_sql(profiles), params)
    return time.perf_counter() - started


def _mismatches(day: dt.date) -> tuple[int, list[tuple]]:
    """Accounts whose score or band differs between the product's run (set aside) and the
    baseline's (today's snapshots now), and a few of them to look at."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT coalesce(p.account_id, s.account_id), p.score, p.band, s.score, s.band
            FROM {PRODUCT_TABLE} p
            FULL JOIN (SELECT account_id, score, band FROM health_healthsnapshot
                       WHERE day = %s) s ON s.account_id = p.account_id
            WHERE p.account_id IS NULL OR s.account_id IS NULL
               OR p.score IS DISTINCT FROM s.score OR p.band IS DISTINCT FROM s.band
            ORDER BY 1
            """,  # noqa: S608
            [day],
        )
        rows = cursor.fetchall()
        cursor.execute(
            f"""
            SELECT count(*) FROM customers_account a JOIN {PRODUCT_TABLE} p
                ON p.account_id = a.id
            WHERE a.health_score IS DISTINCT FROM p.score OR a.health_band <> p.band
            """  # noqa: S608
        )
        copies = cursor.fetchone()[0]
    if copies:
        print(f"  {copies} accounts' copied score/band differ from their snapshot", flush=True)
    return len(rows), rows[:10]


# --- the product --------------------------------------------------------------------------


def _product(day: dt.date, chunk_size: int) -> float:
    """health_recompute over every account, timed, its scores then set aside."""
    from customers.models import Account
    from health.services import health_recompute

    total = Account.objects.count()
    step = max(total // 10, 1)
    done = [0, step]
    started = time.perf_counter()

    def progress(n: int) -> None:
        done[0] += n
        if done[0] >= done[1]:
            done[1] += step
            print(
                f"  {done[0]}/{total} accounts, {time.perf_counter() - started:.1f}s",
                flush=True,
            )

    health_recompute(day=day, chunk_size=chunk_size, progress=progress)
    seconds = time.perf_counter() - started
    _run(f"DROP TABLE IF EXISTS {PRODUCT_TABLE}")
    _run(
        f"CREATE TABLE {PRODUCT_TABLE} AS SELECT account_id, score, band "  # noqa: S608
        "FROM health_healthsnapshot WHERE day = %s",
        [day],
    )
    return seconds


def _signals(enabled: bool) -> None:
    """Switch the shipped signal rules on or off, starting with no alert, task or playbook
    email left from an earlier run (so the timed run opens them all, the worst case)."""
    from health.models import Alert, PlaybookEmail, PlaybookRun, SignalRule, Task

    PlaybookEmail.objects.all().delete()
    Task.objects.all().delete()
    PlaybookRun.objects.all().delete()
    Alert.objects.all().delete()
    SignalRule.objects.update(enabled=enabled)


def _product_with_signals(day: dt.date, chunk_size: int) -> tuple[float, int]:
    """The nightly run as it ships: scores plus every signal, alert and playbook start."""
    from health.models import Alert
    from health.services import health_recompute

    started = time.perf_counter()
    health_recompute(day=day, chunk_size=chunk_size)
    return time.perf_counter() - started, Alert.objects.count()


# --- event to score -----------------------------------------------------------------------


def _celery_purge(redis_url: str) -> None:
    import redis

    client = redis.Redis.from_url(redis_url)
    try:
        client.delete(*CELERY_KEYS)
    finally:
        client.close()


def _event_to_score(env: dict, samples: int, day: dt.date) -> list[float]:
    """Seconds from recording one usage event to its account's new snapshot, per sample,
    through a real worker (started and stopped here)."""
    from config.celery import app
    from customers.ingest import events_ingest
    from customers.models import Account
    from health.models import HealthSnapshot

    _celery_purge(env["REDIS_URL"])
    worker = subprocess.Popen(
        [
            str(ROOT / ".venv" / "bin" / "celery"),
            "-A",
            "config",
            "worker",
            "--pool=prefork",
            "--concurrency=2",
            "--loglevel=WARNING",
            "-n",
            f"hbench-{uuid.uuid4().hex[:6]}@%h",
        ],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,  # its banner; warnings and errors still show (stderr)
        start_new_session=True,  # its own process group: one killpg stops the pool too
    )
    try:
        deadline = time.monotonic() + 60
        while not app.control.ping(timeout=0.5):
            if worker.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("the celery worker did not start")
        rng = random.Random(7)
        accounts = list(Account.objects.values_list("pk", "external_id"))
        latencies = []
        for n in range(samples):
            pk, external_id = rng.choice(accounts)
            written_at = time.time()
            started = time.perf_counter()
            result = events_ingest(
                items=[
                    {
                        "id": f"live-{uuid.uuid4().hex}",
                        "account": external_id,
                        "type": "feature_used",
                        "timestamp": dt.datetime.now(dt.UTC).isoformat(),
                    }
                ],
                source="bench-live",
            )
            if result["accepted"] != 1:
                raise SystemExit(f"the event was not accepted: {result}")
            while True:
                computed = (
                    HealthSnapshot.objects.filter(account_id=pk, day=day)
                    .values_list("computed_at", flat=True)
                    .first()
                )
                if computed is not None and computed.timestamp() > written_at:
                    break
                if time.perf_counter() - started > 30:
                    raise SystemExit(f"account {pk}'s score did not move within 30 s")
                time.sleep(0.005)
            latencies.append(time.perf_counter() - started)
            if (n + 1) % 10 == 0:
                print(f"  {n + 1}/{samples} samples, last {latencies[-1]:.2f}s", flush=True)
            time.sleep(rng.uniform(0.05, 0.3))  # a pause: the next event queues its own flush
        return latencies
    finally:
        try:
            os.killpg(worker.pid, signal.SIGTERM)
            worker.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait(5)
        except ProcessLookupError:
            pass
        _celery_purge(env["REDIS_URL"])


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


# --- main ---------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--events-per-account", type=int, default=100)
    parser.add_argument("--reseed", action="store_true", help="seed again even if it matches")
    parser.add_argument("--samples", type=int, default=50, help="event-to-score samples")
    parser.add_argument(
        "--chunk-size", type=int, help="the product's chunk (default: health.services')"
    )
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/12")
    parser.add_argument("--database", default=BENCH_DB, help="the benchmark's own database")
    args = parser.parse_args()

    base_url = os.environ.get("DATABASE_URL", "")
    if not base_url.startswith(("postgres://", "postgresql://")):
        raise SystemExit(
            "benchmarks/health_recompute.py measures PostgreSQL: set DATABASE_URL=postgres://… "
            "(its database is not touched; the benchmark makes its own)."
        )
    if args.accounts < 1 or args.events_per_account < 1:
        raise SystemExit("--accounts and --events-per-account must be at least 1")
    if not args.database.replace("_", "").isalnum():
        raise SystemExit("--database: letters, digits and underscores only")
    bench_url = with_db(base_url, args.database)
    wanted = (args.accounts, args.events_per_account)
    reuse = not args.reseed and _seeded_with(bench_url) == wanted
    if not reuse:
        admin_execute(base_url, f"DROP DATABASE IF EXISTS {args.database} WITH (FORCE)")
        admin_execute(base_url, f"CREATE DATABASE {args.database}")
    env = {
        **os.environ,
        "DATABASE_URL": bench_url,
        "REDIS_URL": args.redis_url,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DEBUG": "false",
        "SECRET_KEY": "benchmark-only-" + secrets.token_hex(16),
        "LOG_LEVEL": "WARNING",
        "TENURE_VAR_DIR": str(ROOT / "var" / "bench"),
    }
    os.environ.update(env)
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connections
    from django.utils import timezone

    from health.services import CHUNK_SIZE

    chunk_size = args.chunk_size or CHUNK_SIZE
    try:
        if reuse:
            call_command("migrate", verbosity=0)
            print(f"reusing {args.database}: {args.accounts} accounts already seeded", flush=True)
        else:
            print(
                f"seeding {args.accounts} accounts, ~{args.events_per_account} events each",
                flush=True,
            )
            started = time.perf_counter()
            _seed(*wanted)
            print(f"seeded in {time.perf_counter() - started:.1f}s", flush=True)
        day = timezone.localdate()
        # A seed kept from an earlier day (or an older seed) may close a ticket "tomorrow":
        # the product reads such a ticket as open today, the baseline by its status.
        _run("UPDATE customers_ticket SET closed_at = now() WHERE closed_at > now()")

        _today_reset(day)
        _signals(enabled=False)  # the baseline writes scores only: so does the compared run
        print(f"product: health_recompute(), chunks of {chunk_size}", flush=True)
        recompute_s = _product(day, chunk_size)
        print(f"product: {recompute_s:.2f}s", flush=True)

        _today_reset(day)
        print("baseline: one SQL statement", flush=True)
        baseline_s = _baseline(day)
        print(f"baseline: {baseline_s:.2f}s", flush=True)
        mismatches, examples = _mismatches(day)
        for row in examples:
            print(f"  mismatch: account {row[0]} product {row[1:3]} baseline {row[3:5]}")

        _today_reset(day)
        _signals(enabled=True)
        print("product with signals: scores, alerts and playbook starts", flush=True)
        with_signals_s, alerts = _product_with_signals(day, chunk_size)
        print(f"product with signals: {with_signals_s:.2f}s, {alerts} alerts opened", flush=True)

        print(f"event to score: {args.samples} samples through a celery worker", flush=True)
        latencies = _event_to_score(env, args.samples, day)
        p50, p95 = statistics.median(latencies), _percentile(latencies, 0.95)
        print(
            f"recompute_s={recompute_s:.2f} baseline_s={baseline_s:.2f} "
            f"with_signals_s={with_signals_s:.2f} "
            f"accounts={args.accounts} mismatches={mismatches} "
            f"event_to_score_p50_s={p50:.2f} event_to_score_p95_s={p95:.2f} "
            f"ratio={recompute_s / baseline_s:.2f}",
            flush=True,
        )
    finally:
        connections.close_all()


if __name__ == "__main__":
    main()
