"""Answers per survey, UTC day and score (``ScoreDay``), kept by triggers on the answers.

The triggers go in first, then the existing answers are counted under a lock on the answer
table, so no answer is missed or counted twice while this runs.
"""

import django.db.models.deletion
from django.db import migrations, models

from surveys import score_days


def install(apps, schema_editor):
    score_days.triggers_create(schema_editor)
    score_days.score_days_rebuild(
        response_model=apps.get_model("surveys", "Response"),
        score_day_model=apps.get_model("surveys", "ScoreDay"),
    )


def uninstall(apps, schema_editor):
    score_days.triggers_drop(schema_editor)


class Migration(migrations.Migration):

    dependencies = [
        ('surveys', '0007_response_rate_indexes'),
    ]

    operations = [
        migrations.CreateModel(
            name='ScoreDay',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('day', models.DateField()),
                ('score', models.SmallIntegerField()),
                ('answers', models.IntegerField(default=0)),
                ('survey', models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='surveys.survey')),
            ],
            options={
                'constraints': [models.UniqueConstraint(fields=('survey', 'day', 'score'), name='score_day_unique')],
            },
        ),
        migrations.RunPython(install, uninstall),
    ]
