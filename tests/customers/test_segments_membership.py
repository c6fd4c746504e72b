"""Segment membership for playbooks: the refresh diffs who matches against the stored members
(enter, leave, a rerun changes nothing), announces entries after commit, and the beat task
refreshes every segment. Also the admin, which reads rules with the same parser."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import OperationalError, transaction

from customers import tasks
from customers.models import Account, Segment, SegmentMember
from customers.services import segment_memberships_refresh, segment_save
from customers.signals import segment_entered
from tests.customers.factories import make_account

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)
PRO = [{"field": "plan", "operator": "equals", "value": "Pro"}]


@pytest.fixture
def heard():
    """What segment_entered announced, as (segment_id, account_ids) pairs."""
    calls: list[tuple[int, list[int]]] = []

    def receiver(sender, segment_id, account_ids, **kwargs):
        calls.append((segment_id, account_ids))

    segment_entered.connect(receiver, dispatch_uid="test-heard")
    yield calls
    segment_entered.disconnect(dispatch_uid="test-heard")


def members(segment: Segment) -> dict[int, dt.datetime]:
    return dict(
        SegmentMember.objects.filter(segment=segment).values_list("account_id", "entered_at")
    )


def test_a_new_segments_first_refresh_records_its_members_and_announces_nobody(
    heard, django_capture_on_commit_callbacks
):
    a, b = make_account(plan="Pro"), make_account(plan="Pro")
    make_account(plan="Starter")
    pro = Segment.objects.create(name="Pro", rules=PRO)

    with django_capture_on_commit_callbacks(execute=True):
        entered = segment_memberships_refresh(segment_id=pro.pk, now=T0)

    assert entered == []
    assert members(pro) == {a.pk: T0, b.pk: T0}
    assert heard == []


def test_accounts_that_start_matching_enter_with_the_time_and_are_announced_after_commit(
    heard, django_capture_on_commit_callbacks
):
    make_account(plan="Pro")
    pro = Segment.objects.create(name="Pro", rules=PRO)
    segment_memberships_refresh(segment_id=pro.pk, now=T0)
    a, b = make_account(plan="Pro"), make_account(plan="Pro")
    later = T0 + dt.timedelta(minutes=15)

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        entered = segment_memberships_refresh(segment_id=pro.pk, now=later)
    assert heard == []  # not before the commit
    for callback in callbacks:
        callback()

    assert entered == sorted([a.pk, b.pk])
    assert members(pro)[a.pk] == later and members(pro)[b.pk] == later
    assert heard == [(pro.pk, sorted([a.pk, b.pk]))]


def test_a_rerun_with_nothing_changed_enters_nobody_and_keeps_the_entry_times(
    heard, django_capture_on_commit_callbacks
):
    a = make_account(plan="Pro")
    pro = Segment.objects.create(name="Pro", rules=PRO)
    segment_memberships_refresh(segment_id=pro.pk, now=T0)

    with django_capture_on_commit_callbacks(execute=True):
        again = segment_memberships_refresh(segment_id=pro.pk, now=T0 + dt.timedelta(hours=1))

    assert again == []
    assert members(pro) == {a.pk: T0}
    assert heard == []


def test_leavers_are_removed_and_newcomers_enter_in_one_refresh(
    heard, django_capture_on_commit_callbacks
):
    stays, leaves = make_account(plan="Pro"), make_account(plan="Pro")
    pro = Segment.objects.create(name="Pro", rules=PRO)
    segment_memberships_refresh(segment_id=pro.pk, now=T0)
    Account.objects.filter(pk=leaves.pk).update(plan="Starter")
    joins = make_account(plan="Pro")
    later = T0 + dt.timedelta(minutes=15)

    with django_capture_on_commit_callbacks(execute=True):
        entered = segment_memberships_refresh(segment_id=pro.pk, now=later)

    assert entered == [joins.pk]
    assert members(pro) == {stays.pk: T0, joins.pk: later}
    assert heard == [(pro.pk, [joins.pk])]


def test_an_account_that_left_and_came_back_enters_again():
    account = make_account(plan="Pro")
    pro = Segment.objects.create(name="Pro", rules=PRO)
    segment_memberships_refresh(segment_id=pro.pk, now=T0)
    Account.objects.filter(pk=account.pk).update(plan="Starter")
    assert segment_memberships_refresh(segment_id=pro.pk, now=T0 + dt.timedelta(hours=1)) == []
    Account.objects.filter(pk=account.pk).update(plan="Pro")
    back = T0 + dt.timedelta(hours=2)
    assert segment_memberships_refresh(segment_id=pro.pk, now=back) == [account.pk]
    assert members(pro) == {account.pk: back}


def test_changing_the_rules_diffs_against_the_old_members():
    pro_account, starter = make_account(plan="Pro"), make_account(plan="Starter")
    segment = Segment.objects.create(name="S", rules=PRO)
    segment_memberships_refresh(segment_id=segment.pk, now=T0)
    segment_save(
        segment=segment,
        name="S",
        rules=[{"field": "plan", "operator": "one_of", "value": "Pro, Starter"}],
    )
    assert segment_memberships_refresh(segment_id=segment.pk, now=T0) == [starter.pk]
    assert set(members(segment)) == {pro_account.pk, starter.pk}


def test_a_refresh_is_undone_whole_when_its_transaction_rolls_back(heard):
    make_account(plan="Pro")
    pro = Segment.objects.create(name="Pro", rules=PRO)
    with pytest.raises(RuntimeError), transaction.atomic():
        segment_memberships_refresh(segment_id=pro.pk, now=T0)
        raise RuntimeError("the caller failed after the refresh")
    assert members(pro) == {}
    assert heard == []


def test_a_deleted_segment_refreshes_to_nothing():
    assert segment_memberships_refresh(segment_id=999999) == []


def test_the_task_refreshes_every_segment_skipping_one_that_no_longer_reads(caplog):
    a, b = make_account(plan="Pro"), make_account(plan="Starter")
    pro = Segment.objects.create(name="Pro", rules=PRO)
    starter = Segment.objects.create(
        name="Starter", rules=[{"field": "plan", "operator": "equals", "value": "Starter"}]
    )
    broken = Segment.objects.create(
        name="Old", rules=[{"field": "loyalty_tier", "operator": "equals", "value": "x"}]
    )

    assert tasks.refresh_segment_memberships.delay().get() == 0  # first refresh: recorded
    assert set(members(pro)) == {a.pk} and set(members(starter)) == {b.pk}
    assert members(broken) == {}
    assert f"segment {broken.pk} not refreshed" in caplog.text
    make_account(plan="Pro")
    assert tasks.refresh_segment_memberships.delay().get() == 1
    assert tasks.refresh_segment_memberships.delay().get() == 0  # idempotent


def test_the_task_is_acked_late_and_retries_only_transient_errors():
    task = tasks.refresh_segment_memberships
    assert task.acks_late is True
    assert task.autoretry_for == (OperationalError,)
    assert task.max_retries == 5


def test_the_beat_runs_the_refresh_every_15_minutes_with_an_expiry():
    from config.celery import app

    entry = app.conf.beat_schedule["customers-refresh-segment-memberships"]
    assert entry["task"] == "customers.tasks.refresh_segment_memberships"
    assert entry["schedule"] == 15 * 60
    assert 0 < entry["options"]["expires"] < 15 * 60


# --- the admin ---------------------------------------------------------------------------------


def test_the_admin_saves_rules_in_canonical_form_with_the_creator(admin_client_, admin_user):
    response = admin_client_.post(
        "/admin/customers/segment/add/",
        {
            "name": "Big",
            "description": "",
            "match": "all",
            "rules": '[{"field": "mrr", "operator": ">=", "value": 1500}]',
        },
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    saved = Segment.objects.get()
    assert saved.rules == [{"field": "mrr", "operator": "gte", "value": "1500.00"}]
    assert saved.created_by == admin_user


def test_the_admin_refuses_bad_rules_with_the_parsers_message(admin_client_):
    response = admin_client_.post(
        "/admin/customers/segment/add/",
        {
            "name": "Bad",
            "match": "all",
            "rules": '[{"field": "stage", "operator": "contains", "value": "x"}]',
        },
    )
    assert response.status_code == 200
    assert "Rule 1: Lifecycle stage cannot use “contains”" in response.text
    assert Segment.objects.count() == 0


def test_the_admin_lists_and_opens_segments(admin_client_):
    pro = Segment.objects.create(name="Pro", rules=PRO)
    assert admin_client_.get("/admin/customers/segment/").status_code == 200
    assert admin_client_.get(f"/admin/customers/segment/{pro.pk}/change/").status_code == 200
