"""Recomputing health: the day's snapshot per account, from the database's own data."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from customers.models import TicketStatus
from health.models import HealthOverride, HealthProfile, HealthSnapshot
from health.selectors import change_since, health_history
from health.services import health_override_create, health_recompute
from health.tasks import recompute_health_all
from tests.customers.factories import make_account, make_contact, make_ticket
from tests.health.factories import make_profile

pytestmark = pytest.mark.django_db

TODAY = dt.date(2026, 6, 15)
NOON = timezone.make_aware(dt.datetime(2026, 6, 15, 12))


@pytest.fixture
def simple_profile():
    """Activity (weight 2): days since activity, 30 → 0 days scores 0 → 100.
    Support (weight 1): open tickets, none 100, up to 2 scores 50, more 0."""
    HealthProfile.objects.all().delete()
    return make_profile(
        is_default=True,
        groups={
            "Activity": (2, [("days_since_activity", 1, {"worst": 30, "best": 0})]),
            "Support": (
                1,
                [("open_tickets", 1, {"mapping": "bands", "bands": [[0, 100], [2, 50]]})],
            ),
        },
    )


def active_account(days_ago: int, **fields):
    fields.setdefault("created_at", NOON - dt.timedelta(days=400))
    return make_account(last_activity_at=NOON - dt.timedelta(days=days_ago), **fields)


def test_tenure_ships_a_standard_and_an_onboarding_profile():
    standard = HealthProfile.objects.get(is_default=True)
    onboarding = HealthProfile.objects.get(name="Onboarding")

    assert standard.name == "Standard"
    assert onboarding.max_account_age_days == 90
    assert {g.name for g in standard.groups.all()} == {
        "Activity",
        "Usage",
        "Voice of the customer",
        "Billing",
        "Relationship",
    }


def test_a_young_account_is_scored_with_the_onboarding_profile_and_an_old_one_with_the_standard():
    young = make_account(created_at=NOON - dt.timedelta(days=20))
    old = make_account(created_at=NOON - dt.timedelta(days=200))

    health_recompute(day=TODAY)

    profiles = dict(HealthSnapshot.objects.values_list("account_id", "profile__name"))
    assert profiles == {young.pk: "Onboarding", old.pk: "Standard"}


def test_the_score_comes_from_the_accounts_own_data(simple_profile):
    account = active_account(6)
    make_ticket(account, status=TicketStatus.OPEN, opened_at=NOON - dt.timedelta(days=9))

    health_recompute(day=TODAY)

    # Activity: 6 days of 30 → 80. Support: 1 open ticket → 50.
    # Score = (80 × 2 + 50 × 1) / 3 = 70, yellow.
    snapshot = HealthSnapshot.objects.get(account=account, day=TODAY)
    assert (snapshot.score, snapshot.band, snapshot.source) == (70, "yellow", "computed")
    assert snapshot.components["groups"] == {"Activity": 80.0, "Support": 50.0}


def test_a_rerun_on_the_same_day_replaces_the_snapshot(simple_profile):
    account = active_account(6)
    ticket = make_ticket(account, status=TicketStatus.OPEN, opened_at=NOON - dt.timedelta(days=9))
    health_recompute(day=TODAY)
    ticket.status, ticket.closed_at = TicketStatus.CLOSED, NOON
    ticket.save()

    health_recompute(day=TODAY)
    health_recompute(day=TODAY)

    # Support now 100: (80 × 2 + 100) / 3 = 86.67 → 87, green; still one snapshot.
    assert list(HealthSnapshot.objects.values_list("score", "band")) == [(87, "green")]


def test_an_override_in_force_replaces_the_score_and_keeps_the_computed_one(
    simple_profile, csm_user
):
    account = active_account(6)
    make_ticket(account, status=TicketStatus.OPEN, opened_at=NOON - dt.timedelta(days=9))
    health_override_create(
        account=account,
        score=20,
        reason="Champion left; renewal at risk",
        expires_at=timezone.now() + dt.timedelta(days=14),
        user=csm_user,
    )

    health_recompute(day=TODAY)

    snapshot = HealthSnapshot.objects.get(account=account, day=TODAY)
    assert (snapshot.score, snapshot.band, snapshot.source) == (20, "red", "override")
    assert snapshot.components["override"]["computed_score"] == 70
    assert snapshot.components["override"]["reason"] == "Champion left; renewal at risk"


def test_an_expired_override_no_longer_counts(simple_profile):
    account = active_account(6)
    HealthOverride.objects.create(
        account=account,
        score=20,
        reason="old news",
        expires_at=timezone.now() - dt.timedelta(minutes=1),
        created_at=timezone.now() - dt.timedelta(days=10),
    )

    health_recompute(day=TODAY)

    # Activity 80, no open ticket → Support 100: (160 + 100) / 3 = 86.67 → 87.
    assert HealthSnapshot.objects.get(account=account).score == 87


def test_an_override_needs_a_reason_and_a_future_end(csm_user):
    account = make_account()
    with pytest.raises(Exception, match="Say why"):
        health_override_create(
            account=account, score=10, reason="  ", expires_at=timezone.now() + dt.timedelta(1)
        )
    with pytest.raises(Exception, match="end in the future"):
        health_override_create(
            account=account, score=10, reason="x", expires_at=timezone.now() - dt.timedelta(1)
        )
    assert not HealthOverride.objects.exists()


def test_a_churned_account_is_frozen_at_its_last_score(simple_profile):
    account = active_account(6, churned_at=NOON - dt.timedelta(days=3))
    HealthSnapshot.objects.create(
        account=account, day=TODAY - dt.timedelta(days=4), score=44, band="red"
    )

    health_recompute(day=TODAY)

    snapshot = HealthSnapshot.objects.get(account=account, day=TODAY)
    assert (snapshot.score, snapshot.band, snapshot.source) == (44, "red", "frozen")


def test_an_account_with_no_data_gets_no_score(simple_profile):
    account = make_account(created_at=NOON - dt.timedelta(days=400))  # never active, no tickets

    health_recompute(day=TODAY)

    # Open tickets is data (none: 100); days since activity is missing and left out.
    assert HealthSnapshot.objects.get(account=account).score == 100


def test_the_work_per_chunk_does_not_grow_with_its_accounts(simple_profile):
    def queries_for(count: int) -> int:
        accounts = [active_account(3) for _ in range(count)]
        for account in accounts:
            make_contact(account, last_seen_at=NOON)
        with CaptureQueriesContext(connection) as captured:
            health_recompute(account_ids=[a.pk for a in accounts], day=TODAY, chunk_size=1000)
        return len(captured)

    assert queries_for(5) == queries_for(40)


def test_the_nightly_job_scores_every_account_through_its_range_tasks(simple_profile):
    accounts = [active_account(1) for _ in range(3)]

    ranges = recompute_health_all(day=TODAY.isoformat())

    assert ranges == 1
    assert set(HealthSnapshot.objects.values_list("account_id", flat=True)) == {
        a.pk for a in accounts
    }


def test_the_command_recomputes_one_account_by_its_external_id(simple_profile, capsys):
    account = active_account(6, external_id="acme")
    active_account(2)

    call_command("recompute_health", "--account", "acme", "--day", TODAY.isoformat())

    assert list(HealthSnapshot.objects.values_list("account_id", flat=True)) == [account.pk]
    assert "Wrote 1 health snapshots." in capsys.readouterr().out
    with pytest.raises(CommandError, match="No account has external id 'nobody'"):
        call_command("recompute_health", "--account", "nobody")


def test_why_it_changed_names_the_measures_that_moved(simple_profile):
    account = active_account(13)  # 6 days before the first run's day
    ticket = make_ticket(account, status=TicketStatus.OPEN, opened_at=NOON - dt.timedelta(days=9))
    health_recompute(day=TODAY - dt.timedelta(days=7))
    ticket.status, ticket.closed_at = TicketStatus.CLOSED, NOON
    ticket.save()
    account.last_activity_at = NOON - dt.timedelta(days=6)  # active again: still 6 days ago
    account.save(update_fields=["last_activity_at"])
    health_recompute(day=TODAY)

    change = change_since(health_history(account_id=account.pk, until=TODAY), days=7)

    assert (change["from"], change["to"], change["by"]) == (70, 87, 17)
    assert change["measures"] == [{"kind": "open_tickets", "from": 50.0, "to": 100.0, "by": 50.0}]


def test_todays_score_is_copied_onto_the_account_for_the_portfolio(simple_profile):
    account = make_account(last_activity_at=timezone.now() - dt.timedelta(days=6))

    health_recompute(day=TODAY)  # another day: the account keeps what it had
    account.refresh_from_db()
    assert (account.health_score, account.health_band) == (None, "")

    health_recompute()  # today

    account.refresh_from_db()
    # Activity: 6 days → 80; Support: no ticket → 100. (160 + 100) / 3 = 86.67 → 87.
    assert (account.health_score, account.health_band) == (87, "green")


def test_the_inputs_read_the_latest_nps_answer_and_the_csat_average():
    from health.selectors import health_inputs
    from tests.surveys.factories import make_answer, make_survey

    account, other = make_account(), make_account()
    nps, csat = make_survey("nps"), make_survey("csat")
    make_answer(nps, 10, acc=account, days_ago=40)
    make_answer(nps, 3, acc=account, days_ago=2)
    make_answer(nps, 9, acc=other, days_ago=1)
    make_answer(csat, 4, acc=account, days_ago=10)
    make_answer(csat, 2, acc=account, days_ago=20)
    make_answer(csat, 5, acc=account, days_ago=200)  # outside the 90 days

    inputs = health_inputs(account_ids=[account.pk, other.pk], day=timezone.localdate())

    assert inputs[account.pk]["nps_latest"] == 3
    assert inputs[account.pk]["csat_average"] == 3.0  # (4 + 2) / 2
    assert inputs[other.pk]["nps_latest"] == 9
    assert "csat_average" not in inputs[other.pk]


def test_a_range_recompute_scores_every_account_with_an_id_in_the_range_and_no_other():
    first, middle, last, outside = (active_account(d) for d in (1, 5, 9, 2))

    written = health_recompute(id_range=(first.pk, last.pk), day=TODAY, chunk_size=2)

    assert written == 3
    assert set(HealthSnapshot.objects.values_list("account_id", flat=True)) == {
        first.pk,
        middle.pk,
        last.pk,
    }
    scored = dict(HealthSnapshot.objects.values_list("account_id", "components"))
    days = {
        pk: next(
            m["value"]
            for m in components["measures"].values()
            if m["kind"] == "days_since_activity"
        )
        for pk, components in scored.items()
    }
    assert days == {first.pk: 1, middle.pk: 5, last.pk: 9}, "each chunk read its own accounts"
    assert outside.pk not in days
