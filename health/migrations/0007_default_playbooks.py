"""The playbooks Tenure ships (health/defaults.py PLAYBOOKS), with their emails in every
language the site speaks."""

from django.db import migrations

from health.defaults import playbooks_create


def create(apps, schema_editor):
    playbooks_create(
        apps.get_model("health", "Playbook"),
        apps.get_model("health", "PlaybookStep"),
        apps.get_model("health", "PlaybookEmailText"),
        using=schema_editor.connection.alias,
    )


class Migration(migrations.Migration):
    dependencies = [("health", "0006_playbooks")]

    operations = [migrations.RunPython(create, migrations.RunPython.noop)]
