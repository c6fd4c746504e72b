"""Accounts whose data changes are scored again soon after, not only at night."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from customers.ingest import accounts_upsert, events_ingest, tickets_upsert
from customers.services import revenue_change_record
from health import receivers, services
from health.models import HealthDirty, HealthSnapshot
from health.services import health_mark_dirty, health_recompute, health_recompute_dirty
from surveys.signals import response_saved
from tests.customers.factories import make_account
from tests.surveys.factories import make_answer, make_survey

pytestmark = pytest.mark.django_db

NOW = "2026-12-01T10:00:00Z"


def marked() -> set[int]:
    return set(HealthDirty.objects.values_list("account_id", flat=True))


def test_new_usage_events_mark_their_accounts_once_the_batch_commits(
    django_capture_on_commit_callbacks,
):
    acme, beta, quiet = make_account("acme"), make_account("beta"), make_account("quiet")

    with django_capture_on_commit_callbacks(execute=True):
        events_ingest(
            items=[
                {"id": "e1", "account": "acme", "type": "login", "timestamp": NOW},
                {"id": "e2", "account": "beta", "type": "login", "timestamp": NOW},
            ],
            source="api",
        )

    assert marked() == {acme.pk, beta.pk}
    assert quiet.pk not in marked()


def test_a_replayed_batch_marks_nothing_new(django_capture_on_commit_callbacks):
    make_account("acme")
    batch = [{"id": "e1", "account": "acme", "type": "login", "timestamp": NOW}]
    events_ingest(items=batch, source="api")
    HealthDirty.objects.all().delete()

    with django_capture_on_commit_callbacks(execute=True):
        events_ingest(items=batch, source="api")

    assert marked() == set()


def test_tickets_revenue_and_account_changes_mark_their_accounts(
    django_capture_on_commit_callbacks,
):
    acme, beta, gamma = make_account("acme"), make_account("beta"), make_account("gamma")

    with django_capture_on_commit_callbacks(execute=True):
        tickets_upsert(items=[{"id": "t1", "account": "acme", "subject": "Help", "opened_at": NOW}])
        revenue_change_record(
            account=beta, mrr=Decimal("100"), effective_at=timezone.now() - dt.timedelta(days=1)
        )
        accounts_upsert(items=[{"id": "gamma", "stage": "renewal"}])

    assert marked() == {acme.pk, beta.pk, gamma.pk}


def test_an_answer_marks_its_account():
    answer = make_answer(make_survey("nps"), 3)

    response_saved.send(sender=None, response_id=answer.pk, created=True)

    assert marked() == {answer.account_id}


def test_the_incremental_recompute_scores_the_marked_accounts_and_clears_their_marks():
    touched, untouched = make_account(), make_account()
    health_mark_dirty(account_ids=[touched.pk])

    assert health_recompute_dirty() == 1

    assert list(HealthSnapshot.objects.values_list("account_id", flat=True)) == [touched.pk]
    assert marked() == set()
    assert untouched.pk not in set(HealthSnapshot.objects.values_list("account_id", flat=True))


def test_a_mark_made_while_it_ran_is_kept_for_the_next_run():
    account = make_account()
    HealthDirty.objects.create(account=account, marked_at=timezone.now() + dt.timedelta(seconds=5))

    assert health_recompute_dirty() == 0
    assert marked() == {account.pk}


def test_killed_mid_way_it_leaves_every_mark_for_the_next_run(monkeypatch):
    accounts = [make_account() for _ in range(3)]
    health_mark_dirty(account_ids=[a.pk for a in accounts])

    def dies(**kwargs):
        raise RuntimeError("worker killed")

    monkeypatch.setattr(services, "health_recompute", dies)
    with pytest.raises(RuntimeError):
        health_recompute_dirty()

    assert marked() == {a.pk for a in accounts}
    assert not HealthSnapshot.objects.exists()


def test_a_full_recompute_killed_half_way_keeps_the_marks(monkeypatch):
    first, second = make_account(), make_account()
    health_mark_dirty(account_ids=[first.pk, second.pk])
    real = services._chunk_snapshots
    calls = []

    def dies_on_the_second_chunk(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("worker killed")
        return real(*args, **kwargs)

    monkeypatch.setattr(services, "_chunk_snapshots", dies_on_the_second_chunk)
    with pytest.raises(RuntimeError):
        health_recompute(chunk_size=1)

    assert marked() == {first.pk, second.pk}
    assert list(HealthSnapshot.objects.values_list("account_id", flat=True)) == [first.pk]


def test_a_full_recompute_covers_the_marks_made_before_it():
    account = make_account()
    health_mark_dirty(account_ids=[account.pk])

    health_recompute()

    assert marked() == set()


def test_in_production_many_changes_queue_one_flush_a_moment_later(monkeypatch, settings):
    from celery import current_app

    from health import tasks

    queued = []
    monkeypatch.setattr(current_app.conf, "task_always_eager", False)
    monkeypatch.setattr(tasks.recompute_health_dirty, "apply_async", lambda **kw: queued.append(kw))
    accounts = [make_account() for _ in range(3)]

    for account in accounts:
        receivers.on_accounts_touched(sender=None, account_ids=[account.pk])

    assert queued == [{"countdown": receivers.FLUSH_DELAY_SECONDS}]
    assert marked() == {a.pk for a in accounts}
    tasks.recompute_health_dirty.run()  # the worker, when the countdown is up
    assert marked() == set()
    receivers.on_accounts_touched(sender=None, account_ids=[accounts[0].pk])
    assert len(queued) == 2  # the flush that ran let the next change queue another


def test_in_the_embedded_mode_marks_wait_for_the_scheduler(django_capture_on_commit_callbacks):
    make_account("acme")

    with django_capture_on_commit_callbacks(execute=True):
        events_ingest(
            items=[{"id": "e1", "account": "acme", "type": "login", "timestamp": NOW}],
            source="api",
        )

    assert not HealthSnapshot.objects.exists()  # nothing scored inline in the request
    from django.core.management import call_command

    call_command("run_scheduled", "--only", "health-recompute-dirty", verbosity=0)
    assert HealthSnapshot.objects.count() == 1
