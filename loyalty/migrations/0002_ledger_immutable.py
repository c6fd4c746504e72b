"""Ledger entries can never be changed, and never deleted except with their member.

The models refuse it in Python; these triggers refuse it for any SQL. On PostgreSQL a delete is
let through only when the transaction has set ``tenure.loyalty_purge`` (done by the Member
pre_delete receiver, so deleting an account still cascades). SQLite has no session settings, so
there only updates are refused.
"""

from django.db import migrations

PG_CREATE = [
    """
CREATE OR REPLACE FUNCTION loyalty_entry_immutable() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE'
       AND coalesce(current_setting('tenure.loyalty_purge', true), '') = 'on' THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION USING
        MESSAGE = 'loyalty ledger entries are immutable (' || TG_OP || ' refused)',
        ERRCODE = 'integrity_constraint_violation';
END;
$$ LANGUAGE plpgsql
""",
    """
CREATE TRIGGER loyalty_entry_immutable
    BEFORE UPDATE OR DELETE ON loyalty_ledgerentry
    FOR EACH ROW EXECUTE FUNCTION loyalty_entry_immutable()
""",
]
PG_DROP = [
    "DROP TRIGGER IF EXISTS loyalty_entry_immutable ON loyalty_ledgerentry",
    "DROP FUNCTION IF EXISTS loyalty_entry_immutable()",
]
SQLITE_CREATE = """
CREATE TRIGGER loyalty_entry_immutable BEFORE UPDATE ON loyalty_ledgerentry
BEGIN
    SELECT RAISE(ABORT, 'loyalty ledger entries are immutable (UPDATE refused)');
END;
"""
SQLITE_DROP = "DROP TRIGGER IF EXISTS loyalty_entry_immutable;"


def create(apps, schema_editor) -> None:
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        for statement in PG_CREATE:
            schema_editor.execute(statement, params=None)
    elif vendor == "sqlite":
        schema_editor.execute(SQLITE_CREATE, params=None)


def drop(apps, schema_editor) -> None:
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        for statement in PG_DROP:
            schema_editor.execute(statement, params=None)
    elif vendor == "sqlite":
        schema_editor.execute(SQLITE_DROP, params=None)


class Migration(migrations.Migration):
    dependencies = [("loyalty", "0001_initial")]

    operations = [migrations.RunPython(create, drop)]
