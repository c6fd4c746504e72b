"""Ledger entries record the debt a clawback leaves and the repayments of it."""

from django.conf import settings
from django.db import migrations, models

# SQLite alters a table by rebuilding it, which drops its triggers: the immutability trigger of
# 0002 is put back after the rebuild (PostgreSQL keeps it through ALTER TABLE).
SQLITE_TRIGGER = """
CREATE TRIGGER IF NOT EXISTS loyalty_entry_immutable BEFORE UPDATE ON loyalty_ledgerentry
BEGIN
    SELECT RAISE(ABORT, 'loyalty ledger entries are immutable (UPDATE refused)');
END;
"""


def sqlite_trigger_back(apps, schema_editor) -> None:
    if schema_editor.connection.vendor == "sqlite":
        schema_editor.execute(SQLITE_TRIGGER, params=None)


class Migration(migrations.Migration):

    dependencies = [
        ('loyalty', '0002_ledger_immutable'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name='ledgerentry',
            name='loyalty_entry_points_nonzero',
        ),
        migrations.AddField(
            model_name='ledgerentry',
            name='debt',
            field=models.IntegerField(default=0, help_text="Debt this entry records (a clawback the balance could not cover, > 0) or repays (< 0); the member's debt is the sum."),
        ),
        migrations.AddConstraint(
            model_name='ledgerentry',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('points', 0), _negated=True), models.Q(('debt', 0), _negated=True), _connector='OR'), name='loyalty_entry_moves_something'),
        ),
        migrations.RunPython(sqlite_trigger_back, migrations.RunPython.noop),
]
