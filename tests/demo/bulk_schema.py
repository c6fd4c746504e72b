"""What the demo's PostgreSQL bulk loading must leave exactly as migrated: the indexes and
constraints of the tables it strips for speed and rebuilds."""

from __future__ import annotations

import pytest
from django.db import connection

postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="bulk loading tricks are PostgreSQL's"
)


def schema_of(models) -> list[tuple]:
    """Every index and constraint (with its definition) of these models' tables."""
    tables = [model._meta.db_table for model in models]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tablename, indexname, indexdef FROM pg_indexes WHERE tablename = ANY(%s) "
            "ORDER BY 1, 2",
            [tables],
        )
        indexes = cursor.fetchall()
        cursor.execute(
            "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid), condeferrable, "
            "condeferred FROM pg_constraint WHERE conrelid::regclass::text = ANY(%s) ORDER BY 1, 2",
            [tables],
        )
        return indexes + cursor.fetchall()
