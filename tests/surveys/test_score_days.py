"""Answers per survey, day and score (``ScoreDay``) always equal a count of the answers: every
way an answer is written, moved or removed goes through the database's triggers, on SQLite and
on PostgreSQL (docs/domain/survey-metrics.md, "Reading scores")."""

from __future__ import annotations

import datetime as dt
import io
from collections import Counter

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.db.models.functions import TruncDate

from surveys.models import Response, ScoreDay
from surveys.score_days import (
    PG_DROP,
    SQLITE_DROP,
    score_days_rebuild,
    triggers_ensure,
)
from tests.customers.factories import make_account, make_contact
from tests.surveys.factories import make_answer, make_invitation, make_survey

pytestmark = pytest.mark.django_db


def counted_days() -> Counter:
    """What the triggers kept, without the zeros a removal leaves."""
    return Counter(
        {
            (row.survey_id, row.day, row.score): row.answers
            for row in ScoreDay.objects.all()
            if row.answers
        }
    )


def answers_by_day() -> Counter:
    """The truth: the answers themselves, counted per survey, UTC day and score."""
    rows = (
        Response.objects.filter(score__isnull=False)
        .annotate(day=TruncDate("created_at", tzinfo=dt.UTC))
        .values_list("survey_id", "day", "score")
    )
    return Counter(rows)


def test_an_answer_counts_on_its_utc_day():
    survey = make_survey("nps")
    answer = make_answer(survey, 9, days_ago=3)
    day = answer.created_at.astimezone(dt.UTC).date()
    assert counted_days() == Counter({(survey.pk, day, 9): 1})


def test_an_answer_late_in_the_evening_in_oslo_counts_on_its_utc_day():
    survey = make_survey("csat")
    answer = make_answer(survey, 4)
    oslo = dt.timezone(dt.timedelta(hours=1))
    answer.created_at = dt.datetime(2026, 3, 1, 0, 30, tzinfo=oslo)  # 28 Feb 23:30 UTC
    answer.save()
    assert counted_days() == Counter({(survey.pk, dt.date(2026, 2, 28), 4): 1})


def test_answers_without_a_score_are_not_counted():
    make_answer(make_survey("cli"), None, answers={"recommend": 9, "buy_again": 8, "try_other": 5})
    assert counted_days() == Counter()


def test_changing_a_score_moves_the_count_and_a_comment_edit_does_not():
    survey = make_survey("nps")
    answer = make_answer(survey, 6)
    day = answer.created_at.astimezone(dt.UTC).date()
    answer.score = 10
    answer.save()
    answer.comment = "better now"
    answer.save()
    assert counted_days() == Counter({(survey.pk, day, 10): 1})


def test_bulk_writes_updates_and_deletes_keep_the_counts_equal_to_the_answers():
    nps, ces = make_survey("nps"), make_survey("ces")
    account = make_account()
    for i in range(12):
        make_answer(nps if i % 2 else ces, i % 7, acc=account, days_ago=i % 4)
    person = make_contact(account)
    Response.objects.bulk_create(
        Response(
            invitation=make_invitation(nps, person, days_ago=d),
            survey=nps,
            contact=person,
            account=account,
            score=s,
            created_at=dt.datetime(2026, 1, 1 + d, 12, tzinfo=dt.UTC),
        )
        for d, s in [(0, 10), (0, 10), (1, 3), (2, 7)]
    )
    assert counted_days() == answers_by_day()

    Response.objects.filter(score__lt=3).update(score=5)
    Response.objects.filter(survey=ces).update(created_at=dt.datetime(2025, 6, 1, tzinfo=dt.UTC))
    Response.objects.filter(score=7).update(score=None)
    assert counted_days() == answers_by_day()

    Response.objects.filter(score=10).delete()
    assert counted_days() == answers_by_day()
    account.delete()  # the cascade removes the rest
    assert counted_days() == Counter()


def test_a_rolled_back_import_leaves_no_count_behind():
    survey = make_survey("nps")
    with pytest.raises(RuntimeError), transaction.atomic():
        make_answer(survey, 9)
        raise RuntimeError("the import failed half-way")
    assert counted_days() == Counter()


def test_the_rebuild_recounts_what_a_bypass_lost():
    survey = make_survey("nps")
    for score in (0, 9, 9, 10):
        make_answer(survey, score)
    ScoreDay.objects.all().delete()  # as a restore that bypassed the triggers would leave it
    assert score_days_rebuild() == 3
    assert counted_days() == answers_by_day()


def test_the_rebuild_command_says_how_many_day_rows_it_wrote():
    survey = make_survey("csat")
    make_answer(survey, 5)
    make_answer(survey, 4)
    out = io.StringIO()
    call_command("rebuild_score_days", stdout=out)
    assert out.getvalue().strip() == "score days rebuilt: 2 rows"
    assert counted_days() == answers_by_day()


def test_migrate_puts_back_triggers_a_table_rebuild_dropped_and_recounts():
    """SQLite drops a table's triggers when a migration rebuilds it: the answer written while
    they were missing is counted once ``migrate`` has run."""
    survey = make_survey("nps")
    make_answer(survey, 7)
    with connection.cursor() as cursor:  # what a table rebuild leaves behind
        for statement in {"postgresql": PG_DROP[:3], "sqlite": SQLITE_DROP}[connection.vendor]:
            cursor.execute(statement)
    make_answer(survey, 9)  # not counted: no trigger
    assert sum(counted_days().values()) == 1

    call_command("migrate", verbosity=0)

    assert counted_days() == answers_by_day()
    make_answer(survey, 10)  # counted again by the triggers
    assert counted_days() == answers_by_day()
    assert triggers_ensure() is False  # nothing missing any more
