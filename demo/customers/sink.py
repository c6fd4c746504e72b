"""Writing the demo rows in bulk: COPY on PostgreSQL, ``executemany`` on SQLite, and on
PostgreSQL loading empty tables without their secondary indexes and foreign keys."""

from __future__ import annotations

import datetime as dt
import json
import queue
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import connection

from customers.models import (
    Account,
    Contact,
    DailyUsage,
    Note,
    RevenueChange,
    StageChange,
    Ticket,
    UsageEvent,
)
from demo.customers.catalogue import DAY, DEMO_SOURCE, FIXED_KINDS
from demo.customers.story import Clock

# --- writing --------------------------------------------------------------------------------------

ACCOUNT_COLUMNS = [
    "id",
    "external_id",
    "name",
    "domain",
    "plan",
    "currency",
    "owner_id",
    "stage",
    "renewal_date",
    "traits",
    "mrr",
    "mrr_base",
    "card_exp_month",
    "card_exp_year",
    "failed_payments",
    "last_payment_failed_at",
    "last_activity_at",
    "created_at",
    "updated_at",
]
CONTACT_COLUMNS = [
    "id",
    "account_id",
    "external_id",
    "email",
    "name",
    "role",
    "locale",
    "birthday",
    "do_not_survey",
    "traits",
    "last_seen_at",
    "created_at",
    "updated_at",
]
REVENUE_COLUMNS = [
    "account_id",
    "external_id",
    "kind",
    "effective_at",
    "mrr",
    "currency",
    "mrr_base",
    "plan",
    "created_at",
]
STAGE_COLUMNS = ["account_id", "from_stage", "to_stage", "changed_by_id", "source", "changed_at"]
TICKET_COLUMNS = [
    "account_id",
    "contact_id",
    "external_id",
    "subject",
    "priority",
    "status",
    "opened_at",
    "closed_at",
]
NOTE_COLUMNS = ["account_id", "author_id", "body", "created_at"]
EVENT_COLUMNS = [
    "account_id",
    "contact_id",
    "occurred_at",
    "received_at",
    "source",
    "type",
    "properties",
    "event_id",
]
DAILY_COLUMNS = ["account_id", "day", "type", "count"]
# Loaded without secondary indexes when empty (PostgreSQL). Account comes last: its indexes
# are rebuilt after the revenue derivation has updated every row.
BULK_MODELS = [RevenueChange, Contact, UsageEvent, DailyUsage, StageChange, Ticket, Note, Account]


def copy_text(value: str) -> str:
    """Escape for COPY's text format (backslash first)."""
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r")


@dataclass
class Batch:
    """One chunk's rows, parents first. ``rows`` hold Python values; ``rendered`` rows already
    in the sink's load format (COPY text lines, or tuples for SQLite); ``binary`` Python
    values of each column's own type (for JSON, its text or a value to serialise), which
    PostgreSQL gets in COPY's binary format: several times cheaper to encode than text when
    rows carry timestamps. Public, with :func:`demo_sink`, for other apps' demo seeders."""

    rows: list[tuple[Any, list[str], list]] = field(default_factory=list)
    rendered: list[tuple[Any, list[str], list]] = field(default_factory=list)
    binary: list[tuple[Any, list[str], list]] = field(default_factory=list)


class Sink:
    """Where rows go: COPY on PostgreSQL, executemany on SQLite.

    Ids of accounts and contacts are allocated here, not by the database, so a chunk can be
    rendered without a round trip; the tables are locked against other writers meanwhile.
    Timestamps are rendered as text in the database's own format from two lookup tables.
    """

    tz_suffix = ""

    def __init__(self, clock: Clock | None = None):
        self.cursor = connection.cursor()
        self.dates: list[str] = []
        self.hms: list[str] = []
        if clock is not None:  # only rendered rows need them; other apps' rows are values
            days = clock.now // DAY + 2
            self.dates = [(clock.d0 + dt.timedelta(days=d)).isoformat() for d in range(days)]
            suffix = self.tz_suffix
            self.hms = [
                f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}{suffix}" for s in range(DAY)
            ]
        self.next_id: dict[Any, int] = {}

    def start(self, models: Iterable) -> None:
        for model in models:
            self.next_id[model] = self._highest_id(model) + 1

    def allocate(self, model, count: int) -> int:
        first = self.next_id[model]
        self.next_id[model] += count
        return first

    def submit(self, batch: Batch) -> None:
        raise NotImplementedError

    def finish(self) -> None:
        """Wait for everything submitted to be written."""

    def close(self) -> None:
        """After a successful load: hand id allocation back to the database."""

    def _highest_id(self, model) -> int:
        raise NotImplementedError


class PostgresSink(Sink):
    """COPY from a writer thread, so the server loads one chunk while Python renders the next.
    The thread uses the psycopg connection of this transaction; the main thread does not touch
    it until :meth:`finish`."""

    tz_suffix = "+00"
    kind_text = [copy_text(f"{DEMO_SOURCE}\t{t}\t{p}") for t, p in FIXED_KINDS]

    def __init__(self, clock: Clock | None = None):
        super().__init__(clock)
        connection.ensure_connection()
        self.raw = connection.connection
        self.queue: queue.Queue = queue.Queue(maxsize=2)
        self.error: BaseException | None = None
        self.thread: threading.Thread | None = None
        self.column_types: dict[tuple[str, tuple[str, ...]], list[int]] = {}

    def _highest_id(self, model) -> int:
        table = model._meta.db_table
        self.cursor.execute(f"LOCK TABLE {table} IN EXCLUSIVE MODE")
        self.cursor.execute(
            f"SELECT GREATEST((SELECT COALESCE(MAX(id), 0) FROM {table}), "  # noqa: S608
            f"(SELECT last_value FROM {self._sequence(table)}))"
        )
        return self.cursor.fetchone()[0]

    def _sequence(self, table: str) -> str:
        self.cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [table])
        return self.cursor.fetchone()[0]

    def submit(self, batch: Batch) -> None:
        if self.thread is None:
            self.thread = threading.Thread(target=self._write_all, name="seed-demo-copy")
            self.thread.start()
        while True:
            self._raise_writer_error()
            try:
                self.queue.put(batch, timeout=0.5)
                return
            except queue.Full:
                continue

    def finish(self) -> None:
        if self.thread is not None:
            self.queue.put(None)
            self.thread.join()
            self.thread = None
        self._raise_writer_error()

    def close(self) -> None:
        """Move the id sequences past the ids allocated here."""
        for model, next_id in self.next_id.items():
            sequence = self._sequence(model._meta.db_table)
            self.cursor.execute(
                "SELECT setval(%s, GREATEST(%s, 1), %s)", [sequence, next_id - 1, next_id > 1]
            )

    def _raise_writer_error(self) -> None:
        error, self.error = self.error, None
        if error is not None:
            raise error

    def _write_all(self) -> None:
        from psycopg.types.json import set_json_dumps

        try:
            with connection.wrap_database_errors, self.raw.cursor() as cursor:
                set_json_dumps(_json_text, cursor)  # binary JSON columns: text as it is
                while (batch := self.queue.get()) is not None:
                    for model, columns, rows in batch.rows:
                        if rows:
                            with cursor.copy(self._copy_sql(model, columns)) as copy:
                                for row in rows:
                                    copy.write_row(row)
                    for model, columns, lines in batch.rendered:
                        if lines:
                            with cursor.copy(self._copy_sql(model, columns)) as copy:
                                for start in range(0, len(lines), 20_000):
                                    copy.write("".join(lines[start : start + 20_000]))
                    for model, columns, rows in batch.binary:
                        if rows:
                            types = self._column_types(cursor, model._meta.db_table, columns)
                            sql = f"{self._copy_sql(model, columns)} (FORMAT BINARY)"
                            with cursor.copy(sql) as copy:
                                copy.set_types(types)
                                for row in rows:
                                    copy.write_row(row)
        except BaseException as error:  # handed to the main thread, which raises it
            self.error = error
            while self.queue.get() is not None:  # let the producer finish or fail fast
                pass

    def _column_types(self, cursor, table: str, columns: list[str]) -> list[int]:
        """The columns' type oids, from the catalog: binary COPY applies no casts."""
        key = (table, tuple(columns))
        if key not in self.column_types:
            cursor.execute(
                "SELECT attname, atttypid FROM pg_attribute "
                "WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped",
                [table],
            )
            oids = dict(cursor.fetchall())
            self.column_types[key] = [oids[column] for column in columns]
        return self.column_types[key]

    @staticmethod
    def _copy_sql(model, columns: list[str]) -> str:
        return f"COPY {model._meta.db_table} ({', '.join(columns)}) FROM STDIN"


def _json_text(value: Any) -> str:
    """JSON for a binary COPY: text is taken as JSON already (what SQLite stores), so a row
    can carry a constant instead of a value serialised again for every row."""
    return value if isinstance(value, str) else json.dumps(value)


class SqliteSink(Sink):
    def _highest_id(self, model) -> int:
        table = model._meta.db_table
        self.cursor.execute(f"SELECT COALESCE(MAX(id), 0) FROM {table}")  # noqa: S608
        highest = self.cursor.fetchone()[0]
        self.cursor.execute("SELECT seq FROM sqlite_sequence WHERE name = %s", [table])
        row = self.cursor.fetchone()
        return max(highest, row[0] if row else 0)

    def submit(self, batch: Batch) -> None:
        for model, columns, rows in [*batch.rows, *batch.binary]:
            self._insert(model, columns, [tuple(map(self._adapt, row)) for row in rows])
        for model, columns, rows in batch.rendered:
            self._insert(model, columns, rows)

    def _insert(self, model, columns: list[str], rows: list[tuple]) -> None:
        if rows:
            marks = ", ".join(["%s"] * len(columns))
            table = model._meta.db_table
            sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"  # noqa: S608
            self.cursor.executemany(sql, rows)

    @staticmethod
    def _adapt(value):
        """What Django's SQLite backend stores: naive UTC text timestamps, text decimals."""
        if isinstance(value, dt.datetime):
            return value.astimezone(dt.UTC).replace(tzinfo=None).isoformat(" ")
        if isinstance(value, dt.date):
            return value.isoformat()
        if isinstance(value, Decimal):
            return str(value)
        if isinstance(value, dict | list):
            return json.dumps(value)
        return value


def demo_sink(clock: Clock | None = None) -> Sink:
    """The bulk writer for this database (COPY on PostgreSQL, executemany on SQLite), for
    this module and for other apps' demo seeders. ``clock`` only for rows rendered as text."""
    if connection.vendor == "postgresql":
        return PostgresSink(clock)
    return SqliteSink(clock)


def _postgres_strip(cursor, table: str) -> list[str]:
    """Drop a table's secondary indexes, unique constraints and foreign keys; return the
    statements that recreate them exactly as the catalog describes them now."""
    cursor.execute(
        """
        SELECT c.conname, pg_get_constraintdef(c.oid), c.contype
        FROM pg_constraint c
        WHERE c.conrelid = %s::regclass AND c.contype IN ('u', 'f')
          AND NOT (c.contype = 'u' AND EXISTS (
            SELECT 1 FROM pg_constraint r WHERE r.contype = 'f' AND r.conindid = c.conindid
          ))
        ORDER BY c.contype DESC, c.conname
        """,
        [table],
    )
    constraints = cursor.fetchall()
    cursor.execute(
        """
        SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid)
        FROM pg_index i
        WHERE i.indrelid = %s::regclass AND NOT i.indisprimary
          AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)
        ORDER BY 1
        """,
        [table],
    )
    indexes = cursor.fetchall()
    quote = connection.ops.quote_name
    for name, _ in indexes:
        cursor.execute(f"DROP INDEX {name}")
    for name, _, _ in constraints:
        cursor.execute(f"ALTER TABLE {quote(table)} DROP CONSTRAINT {quote(name)}")
    add = f"ALTER TABLE {quote(table)} ADD CONSTRAINT"
    restore = [f"{add} {quote(name)} {sql}" for name, sql, kind in constraints if kind == "u"]
    restore += [sql for _, sql in indexes]
    restore += [f"{add} {quote(name)} {sql}" for name, sql, kind in constraints if kind == "f"]
    return restore


def postgres_prepare(cursor, models: Iterable = BULK_MODELS) -> dict[str, list[str]]:
    """Strip the tables that are empty for a bulk load; returns how to restore each (other
    apps' demo seeders use it for theirs).

    Constraints are made immediate for the load: checks queued by earlier work in this
    transaction (a flush of old demo data) run now, since PostgreSQL refuses to alter a table
    with pending trigger events, and tables that already hold rows, which keep their indexes
    and foreign keys, are checked row by row instead of queueing millions of deferred checks
    in the server's memory until commit.
    """
    cursor.execute("SET LOCAL maintenance_work_mem = '256MB'")
    cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    restore = {}
    for model in models:
        table = model._meta.db_table
        cursor.execute(f"SELECT EXISTS (SELECT 1 FROM {table})")  # noqa: S608
        if not cursor.fetchone()[0]:
            restore[table] = _postgres_strip(cursor, table)
    return restore
