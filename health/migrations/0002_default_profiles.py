"""The profiles Tenure ships (health/defaults.py): a standard one for every account and an
onboarding one for accounts younger than 90 days. Admins edit them freely."""

from django.db import migrations

from health.defaults import profiles_create


def create(apps, schema_editor):
    profiles_create(
        apps.get_model("health", "HealthProfile"),
        apps.get_model("health", "MeasureGroup"),
        apps.get_model("health", "Measure"),
        using=schema_editor.connection.alias,
    )


def remove(apps, schema_editor):
    apps.get_model("health", "HealthProfile").objects.filter(
        name__in=["Standard", "Onboarding"]
    ).delete()


class Migration(migrations.Migration):
    dependencies = [("health", "0001_initial")]

    operations = [migrations.RunPython(create, remove)]
