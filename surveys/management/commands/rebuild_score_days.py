"""Recount the answers per survey, day and score (``ScoreDay``) from the answers.

    python manage.py rebuild_score_days

The triggers keep the counts right on every write; this is for the writes that skip triggers:
a ``TRUNCATE``, or a restore run with ``session_replication_role = replica``. Safe to run at
any time: one transaction, and the answer table takes no writes until it commits.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand

from surveys.score_days import score_days_rebuild


class Command(BaseCommand):
    help = "Recount the answers per survey, day and score from the answers."

    def handle(self, *args, **options):
        rows = score_days_rebuild()
        self.stdout.write(f"score days rebuilt: {rows} rows")
