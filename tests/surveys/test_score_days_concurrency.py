"""Concurrent writers never lose a count of ``ScoreDay``: the triggers' upserts run inside each
writer's transaction and wait for one another on PostgreSQL's row locks."""

from __future__ import annotations

import datetime as dt

from django.db import transaction

from surveys.models import Response, ScoreDay
from tests.concurrency import POSTGRES_ONLY, run_together
from tests.customers.factories import make_account, make_contact
from tests.surveys.factories import make_invitation, make_survey

pytestmark = POSTGRES_ONLY

AT = dt.datetime(2026, 11, 3, 9, 30, tzinfo=dt.UTC)


def test_eight_bulk_imports_at_once_count_every_answer():
    survey = make_survey("nps")
    account = make_account()
    person = make_contact(account)
    batches = [[make_invitation(survey, person) for _ in range(22)] for _ in range(8)]

    def import_batch(invitations, reverse: bool):
        # Opposite orders: the counters must still be locked in one order, or this deadlocks.
        rows = [
            Response(
                invitation=inv,
                survey=survey,
                contact=person,
                account=account,
                score=i % 11,
                created_at=AT + dt.timedelta(days=i // 11),
            )
            for i, inv in enumerate(invitations)
        ]
        with transaction.atomic():
            Response.objects.bulk_create(rows[::-1] if reverse else rows)

    run_together(*(lambda b=b, i=i: import_batch(b, i % 2 == 1) for i, b in enumerate(batches)))
    assert Response.objects.count() == 8 * 22
    counted = {(r.day, r.score): r.answers for r in ScoreDay.objects.filter(survey=survey)}
    # Each batch gave every score 0–10 once on each of two days: 8 of each, none lost.
    assert counted == {
        (day, score): 8
        for day in (dt.date(2026, 11, 3), dt.date(2026, 11, 4))
        for score in range(11)
    }
