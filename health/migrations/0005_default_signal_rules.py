"""The signal rules Tenure ships (health/defaults.py SIGNAL_RULES), one per signal."""

from django.db import migrations

from health.defaults import signal_rules_create


def create(apps, schema_editor):
    signal_rules_create(
        apps.get_model("health", "SignalRule"), using=schema_editor.connection.alias
    )


class Migration(migrations.Migration):
    dependencies = [("health", "0004_alerts")]

    operations = [migrations.RunPython(create, migrations.RunPython.noop)]
