"""Campaigns that target a saved segment: the audience is worked out at each run from the
segment's rules (including surveys' own NPS field), set-based; the admin shows the choice and
refuses a segment audience without a segment; a segment in use cannot be deleted."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import IntegrityError, transaction
from django.db.models import ProtectedError

from customers.models import Account, Segment
from customers.services import segment_delete
from surveys.models import Campaign, Invitation
from surveys.services import campaign_run
from tests.customers.factories import make_account, make_contact
from tests.surveys.factories import make_answer, make_survey

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
PRO = [{"field": "plan", "operator": "equals", "value": "Pro"}]


def segment(rules=PRO, name: str = "Pro") -> Segment:
    return Segment.objects.create(name=name, rules=rules)


def campaign(seg: Segment | None, **fields) -> Campaign:
    fields.setdefault("starts_at", T0)
    fields.setdefault("survey", make_survey(fatigue_days=0))
    return Campaign.objects.create(name="Segment NPS", audience="segment", segment=seg, **fields)


def invited() -> set[int]:
    return set(Invitation.objects.values_list("contact_id", flat=True))


def test_a_segment_campaign_invites_the_contacts_of_the_accounts_that_match_at_the_run():
    pro, starter = make_account(plan="Pro"), make_account(plan="Starter")
    in_pro = [make_contact(pro), make_contact(pro)]
    make_contact(starter)
    run = campaign_run(campaign_id=campaign(segment()).pk, now=T0)
    assert run.invited == 2
    assert invited() == {c.pk for c in in_pro}


def test_the_segment_is_resolved_at_each_run_not_when_the_campaign_was_made():
    seg = segment()
    early = make_account(plan="Pro")
    first_contact = make_contact(early)
    recurring = campaign(seg, repeat_every_months=1)
    campaign_run(campaign_id=recurring.pk, now=T0)
    assert invited() == {first_contact.pk}

    Account.objects.filter(pk=early.pk).update(plan="Starter")  # it leaves the segment
    late = make_account(plan="Pro")  # another joins
    late_contact = make_contact(late)
    recurring.refresh_from_db()
    campaign_run(campaign_id=recurring.pk, now=recurring.next_run_at)
    second_run = set(
        Invitation.objects.filter(campaign_run__run_at=recurring.next_run_at).values_list(
            "contact_id", flat=True
        )
    )
    assert second_run == {late_contact.pk}


def test_churned_accounts_stay_out_even_when_the_segment_matches_them():
    kept = make_contact(make_account(plan="Pro"))
    make_contact(make_account(plan="Pro", churned_at=T0 - dt.timedelta(days=1)))
    campaign_run(campaign_id=campaign(segment()).pk, now=T0)
    assert invited() == {kept.pk}


def test_a_segment_on_the_latest_nps_category_targets_the_detractors():
    nps = make_survey("nps")
    unhappy, happy = make_account(), make_account()
    make_answer(nps, 3, acc=unhappy, days_ago=5)
    make_answer(nps, 10, acc=happy, days_ago=5)
    ask = make_contact(unhappy)
    make_contact(happy)
    detractors = segment([{"field": "nps_category", "operator": "equals", "value": "detractor"}])
    target = campaign(detractors)
    campaign_run(campaign_id=target.pk, now=T0)
    asked = set(Invitation.objects.filter(campaign=target).values_list("contact_id", flat=True))
    assert asked == {ask.pk}


def test_the_audience_is_read_with_a_bounded_number_of_queries(django_assert_max_num_queries):
    for n in range(30):
        make_contact(make_account(plan="Pro" if n % 2 else "Starter"))
    target = campaign(segment())
    with django_assert_max_num_queries(12):
        run = campaign_run(campaign_id=target.pk, now=T0)
    assert run.invited == 15


def test_a_segment_whose_rules_no_longer_read_invites_nobody_rather_than_everyone(caplog):
    make_contact(make_account(plan="Pro"))
    broken = segment([{"field": "loyalty_tier", "operator": "equals", "value": "gold"}])
    run = campaign_run(campaign_id=campaign(broken).pk, now=T0)
    assert run.invited == 0 and invited() == set()
    assert "rules that no longer read" in caplog.text


def test_the_database_refuses_a_segment_audience_without_a_segment():
    with pytest.raises(IntegrityError), transaction.atomic():
        campaign(None)


def test_a_segment_a_campaign_targets_cannot_be_deleted():
    seg = segment()
    campaign(seg)
    with pytest.raises(ProtectedError):
        segment_delete(segment=seg)
    assert Segment.objects.filter(pk=seg.pk).exists()


def test_other_audiences_are_unchanged_by_segments():
    everyone = [make_contact(make_account(plan="Pro")), make_contact(make_account(plan="X"))]
    segment()
    plain = Campaign.objects.create(survey=make_survey(), name="All", starts_at=T0)
    campaign_run(campaign_id=plain.pk, now=T0)
    assert invited() == {c.pk for c in everyone}


# --- the admin ---------------------------------------------------------------------------------

ADD = "/admin/surveys/campaign/add/"


def admin_data(survey, **fields) -> dict:
    data = {
        "survey": survey.pk,
        "name": "Pro NPS",
        "audience": "segment",
        "segment": "",
        "sample_percent": 100,
        "spread_days": 0,
        "repeat_every_months": "",
        "starts_at_0": "2026-03-02",
        "starts_at_1": "09:00:00",
        "status": "scheduled",
        "created_at_0": "2026-03-01",
        "created_at_1": "09:00:00",
        "runs-TOTAL_FORMS": "0",
        "runs-INITIAL_FORMS": "0",
        "runs-MIN_NUM_FORMS": "0",
        "runs-MAX_NUM_FORMS": "1000",
    }
    return data | fields


def test_the_campaign_admin_offers_the_segment_audience(admin_client_):
    seg = segment()
    page = admin_client_.get(ADD)
    assert page.status_code == 200
    assert '<option value="segment">Contacts of accounts in a segment</option>' in page.text
    assert f'<option value="{seg.pk}">Pro</option>' in page.text


def test_the_campaign_admin_saves_a_segment_audience(admin_client_):
    seg, survey = segment(), make_survey()
    response = admin_client_.post(ADD, admin_data(survey, segment=seg.pk))
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert Campaign.objects.get().segment == seg


def test_the_campaign_admin_refuses_a_segment_audience_without_a_segment(admin_client_):
    response = admin_client_.post(ADD, admin_data(make_survey()))
    assert response.status_code == 200
    assert "Choose the segment whose accounts to survey." in response.text
    assert Campaign.objects.count() == 0


def test_the_campaign_admin_refuses_a_segment_with_another_audience(admin_client_):
    seg = segment()
    response = admin_client_.post(ADD, admin_data(make_survey(), audience="all", segment=seg.pk))
    assert response.status_code == 200
    assert "A segment is used only with the audience" in response.text
    assert Campaign.objects.count() == 0
