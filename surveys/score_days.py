"""The triggers that keep ``ScoreDay`` (answers per survey, UTC day and score) equal to the
answers themselves, and the rebuild that recounts it from scratch.

Why triggers and not a receiver or the answer service: answers are written by the answer
service, the CSV and API imports, the demo's COPY, test factories, ``QuerySet.update`` and
cascades. Only the database sees all of them, and it moves the counts inside the writing
transaction, so a rolled-back import leaves no trace and two workers cannot lose an increment.

- PostgreSQL: one trigger per statement with transition tables, so a COPY or a bulk insert of
  10,000 answers is one grouped upsert, not 10,000. Rows are upserted in key order, so two
  concurrent bulk writes lock the same counters in the same order and cannot deadlock.
- SQLite (embedded mode, small books): one trigger per row. A migration that rebuilds the
  answer table drops them; ``triggers_ensure`` runs after every ``migrate`` and puts them back.

An update only moves counts when the score, the day or the survey changed. On SQLite the
trigger does not even fire otherwise; on PostgreSQL (where a trigger with transition tables
cannot name columns) every UPDATE statement runs the function, which joins the old and new rows
and writes nothing: for the one-row updates the product makes, a fraction of a millisecond; a
500k-row comment-only UPDATE took 2.1 s instead of 1.0 s. A count can reach 0 and stay: readers
sum, so a zero adds nothing.
"""

from __future__ import annotations

import datetime as dt

from django.db import connection, transaction
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.models import Count
from django.db.models.functions import TruncDate

PG_CREATE = [
    """
CREATE OR REPLACE FUNCTION surveys_score_days_add() RETURNS trigger AS $$
BEGIN
    INSERT INTO surveys_scoreday (survey_id, day, score, answers)
    SELECT survey_id, (created_at AT TIME ZONE 'UTC')::date, score, count(*)
    FROM new_rows WHERE score IS NOT NULL
    GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
    ON CONFLICT (survey_id, day, score)
    DO UPDATE SET answers = surveys_scoreday.answers + EXCLUDED.answers;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql
""",
    """
CREATE OR REPLACE FUNCTION surveys_score_days_remove() RETURNS trigger AS $$
BEGIN
    UPDATE surveys_scoreday AS counted SET answers = counted.answers - gone.n
    FROM (
        SELECT survey_id, (created_at AT TIME ZONE 'UTC')::date AS day, score, count(*) AS n
        FROM old_rows WHERE score IS NOT NULL
        GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
    ) AS gone
    WHERE counted.survey_id = gone.survey_id AND counted.day = gone.day
      AND counted.score = gone.score;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql
""",
    """
CREATE OR REPLACE FUNCTION surveys_score_days_move() RETURNS trigger AS $$
BEGIN
    INSERT INTO surveys_scoreday (survey_id, day, score, answers)
    SELECT survey_id, day, score, sum(delta)
    FROM (
        SELECT o.survey_id, (o.created_at AT TIME ZONE 'UTC')::date AS day, o.score, -1 AS delta
        FROM old_rows o JOIN new_rows n ON n.id = o.id
        WHERE o.score IS NOT NULL
          AND (o.score, o.created_at, o.survey_id) IS DISTINCT FROM
              (n.score, n.created_at, n.survey_id)
        UNION ALL
        SELECT n.survey_id, (n.created_at AT TIME ZONE 'UTC')::date, n.score, 1
        FROM old_rows o JOIN new_rows n ON n.id = o.id
        WHERE n.score IS NOT NULL
          AND (o.score, o.created_at, o.survey_id) IS DISTINCT FROM
              (n.score, n.created_at, n.survey_id)
    ) AS moved
    GROUP BY 1, 2, 3 HAVING sum(delta) <> 0 ORDER BY 1, 2, 3
    ON CONFLICT (survey_id, day, score)
    DO UPDATE SET answers = surveys_scoreday.answers + EXCLUDED.answers;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql
""",
    """
CREATE TRIGGER surveys_score_days_insert AFTER INSERT ON surveys_response
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION surveys_score_days_add()
""",
    """
CREATE TRIGGER surveys_score_days_delete AFTER DELETE ON surveys_response
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION surveys_score_days_remove()
""",
    """
CREATE TRIGGER surveys_score_days_update AFTER UPDATE ON surveys_response
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION surveys_score_days_move()
""",
]
PG_DROP = [
    "DROP TRIGGER IF EXISTS surveys_score_days_insert ON surveys_response",
    "DROP TRIGGER IF EXISTS surveys_score_days_delete ON surveys_response",
    "DROP TRIGGER IF EXISTS surveys_score_days_update ON surveys_response",
    "DROP FUNCTION IF EXISTS surveys_score_days_add()",
    "DROP FUNCTION IF EXISTS surveys_score_days_remove()",
    "DROP FUNCTION IF EXISTS surveys_score_days_move()",
]

# Django stores SQLite datetimes as UTC text ("2026-12-05 22:49:27.123456"): date() is its day.
SQLITE_CREATE = [
    """
CREATE TRIGGER IF NOT EXISTS surveys_score_days_insert AFTER INSERT ON surveys_response
WHEN NEW.score IS NOT NULL
BEGIN
    INSERT INTO surveys_scoreday (survey_id, day, score, answers)
    VALUES (NEW.survey_id, date(NEW.created_at), NEW.score, 1)
    ON CONFLICT (survey_id, day, score) DO UPDATE SET answers = answers + 1;
END
""",
    """
CREATE TRIGGER IF NOT EXISTS surveys_score_days_delete AFTER DELETE ON surveys_response
WHEN OLD.score IS NOT NULL
BEGIN
    UPDATE surveys_scoreday SET answers = answers - 1
    WHERE survey_id = OLD.survey_id AND day = date(OLD.created_at) AND score = OLD.score;
END
""",
    """
CREATE TRIGGER IF NOT EXISTS surveys_score_days_update
AFTER UPDATE OF score, created_at, survey_id ON surveys_response
WHEN OLD.score IS NOT NEW.score OR OLD.created_at IS NOT NEW.created_at
    OR OLD.survey_id IS NOT NEW.survey_id
BEGIN
    UPDATE surveys_scoreday SET answers = answers - 1
    WHERE survey_id = OLD.survey_id AND day = date(OLD.created_at) AND score = OLD.score;
    INSERT INTO surveys_scoreday (survey_id, day, score, answers)
    SELECT NEW.survey_id, date(NEW.created_at), NEW.score, 1 WHERE NEW.score IS NOT NULL
    ON CONFLICT (survey_id, day, score) DO UPDATE SET answers = answers + 1;
END
""",
]
SQLITE_DROP = [
    "DROP TRIGGER IF EXISTS surveys_score_days_insert",
    "DROP TRIGGER IF EXISTS surveys_score_days_delete",
    "DROP TRIGGER IF EXISTS surveys_score_days_update",
]


# Idempotent on both databases: PostgreSQL drops the triggers before creating them again.
_CREATE = {"postgresql": [*PG_DROP[:3], *PG_CREATE], "sqlite": SQLITE_CREATE}


def triggers_create(schema_editor: BaseDatabaseSchemaEditor) -> None:
    """Install the triggers (idempotent on both databases)."""
    for statement in _CREATE.get(schema_editor.connection.vendor, []):
        schema_editor.execute(statement, params=None)


def triggers_drop(schema_editor: BaseDatabaseSchemaEditor) -> None:
    vendor = schema_editor.connection.vendor
    for statement in {"postgresql": PG_DROP, "sqlite": SQLITE_DROP}.get(vendor, []):
        schema_editor.execute(statement, params=None)


TRIGGER_NAMES = (
    "surveys_score_days_insert",
    "surveys_score_days_delete",
    "surveys_score_days_update",
)


def _triggers_present(cursor) -> set[str]:
    if connection.vendor == "postgresql":
        cursor.execute(
            "SELECT tgname FROM pg_trigger "
            "WHERE tgrelid = 'surveys_response'::regclass AND NOT tgisinternal"
        )
    else:
        cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")
    return {row[0] for row in cursor.fetchall()} & set(TRIGGER_NAMES)


def triggers_ensure(sender=None, **kwargs) -> bool:
    """After every ``migrate`` (``post_migrate``): put back any trigger a migration dropped,
    then recount, since answers written meanwhile were not counted. SQLite rebuilds a table
    for many schema changes and the rebuild drops its triggers; this mends that for every
    future migration instead of relying on its author to remember. Returns whether anything
    was missing."""
    if connection.vendor not in ("postgresql", "sqlite"):
        return False
    tables = connection.introspection.table_names()
    if "surveys_scoreday" not in tables or "surveys_response" not in tables:
        return False  # migrated to before the day counts existed
    with connection.cursor() as cursor:
        if _triggers_present(cursor) == set(TRIGGER_NAMES):
            return False
    with transaction.atomic(), connection.cursor() as cursor:
        # Plain statements, not a schema editor: SQLite refuses one inside a transaction.
        for statement in _CREATE.get(connection.vendor, []):
            cursor.execute(statement)
    score_days_rebuild()
    return True


def score_days_rebuild(*, response_model=None, score_day_model=None) -> int:
    """Recount every survey's days from the answers, in one transaction: for a restore that
    bypassed the triggers (``TRUNCATE``, ``session_replication_role = replica``) and for the
    migration that introduced the table. Returns the number of day rows written. The answer
    table is locked against writes meanwhile, so no answer lands between the count and the
    swap. The models are parameters so the migration can pass its historical ones."""
    if response_model is None or score_day_model is None:
        from surveys.models import Response, ScoreDay

        response_model, score_day_model = Response, ScoreDay
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                table = response_model._meta.db_table
                cursor.execute(f"LOCK TABLE {table} IN SHARE MODE")
        score_day_model.objects.all().delete()
        counted = (
            response_model.objects.filter(score__isnull=False)
            .annotate(day=TruncDate("created_at", tzinfo=dt.UTC))
            .values("survey_id", "day", "score")
            .annotate(n=Count("pk"))
            .order_by()
        )
        rows = [
            score_day_model(
                survey_id=row["survey_id"], day=row["day"], score=row["score"], answers=row["n"]
            )
            for row in counted.iterator(chunk_size=5000)
        ]
        score_day_model.objects.bulk_create(rows, batch_size=5000)
    return len(rows)
