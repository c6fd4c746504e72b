"""Admins set up health in the Django admin: every page opens, and bad input gets a message."""

from __future__ import annotations

import pytest
from django.urls import reverse

from health.models import HealthProfile, Measure, MeasureGroup
from tests.customers.factories import make_account

pytestmark = pytest.mark.django_db


def test_every_health_admin_page_opens(admin_client_):
    profile = HealthProfile.objects.get(name="Standard")
    measure = Measure.objects.filter(group__profile=profile).first()
    make_account()

    for url in [
        reverse("admin:health_healthprofile_changelist"),
        reverse("admin:health_healthprofile_change", args=[profile.pk]),
        reverse("admin:health_measure_changelist"),
        reverse("admin:health_measure_change", args=[measure.pk]),
        reverse("admin:health_healthsnapshot_changelist"),
        reverse("admin:health_healthoverride_add"),
        reverse("admin:health_csmsentiment_add"),
    ]:
        assert admin_client_.get(url).status_code == 200, url


def test_a_linear_measure_whose_ends_are_equal_is_refused_with_a_message(admin_client_):
    group = MeasureGroup.objects.filter(profile__name="Standard").first()

    response = admin_client_.post(
        reverse("admin:health_measure_add"),
        {
            "group": group.pk,
            "kind": "open_tickets",
            "weight": "1",
            "mapping": "linear",
            "worst": "3",
            "best": "3",
            "bands": "[]",
            "above": "0",
            "choices": "{}",
        },
    )

    assert response.status_code == 200
    assert "Best must differ from worst." in response.text
    assert not Measure.objects.filter(group=group, kind="open_tickets", worst=3).exists()


def test_bands_that_do_not_rise_are_refused_with_a_message(admin_client_):
    group = MeasureGroup.objects.filter(profile__name="Standard").first()

    response = admin_client_.post(
        reverse("admin:health_measure_add"),
        {
            "group": group.pk,
            "kind": "open_tickets",
            "weight": "1",
            "mapping": "bands",
            "bands": "[[5, 10], [2, 50]]",
            "above": "0",
            "choices": "{}",
        },
    )

    assert response.status_code == 200
    assert "Upper bounds must rise from band to band." in response.text


def test_a_profile_whose_yellow_starts_below_red_is_refused(admin_client_):
    profile = HealthProfile.objects.get(name="Standard")
    data = {
        "name": "Standard",
        "description": "",
        "priority": "100",
        "is_default": "on",
        "stages": "[]",
        "red_max": "80",
        "yellow_max": "60",
        "groups-TOTAL_FORMS": "0",
        "groups-INITIAL_FORMS": "0",
    }

    response = admin_client_.post(
        reverse("admin:health_healthprofile_change", args=[profile.pk]), data
    )

    assert response.status_code == 200
    assert "Yellow must start above red." in response.text
    profile.refresh_from_db()
    assert (profile.red_max, profile.yellow_max) == (50, 75)


def test_every_signal_and_playbook_admin_page_opens(admin_client_):
    from health.models import Alert, Playbook, PlaybookStep, SignalRule

    account = make_account()
    alert = Alert.objects.create(account=account, kind="inactive", severity="high", reason="x")
    playbook = Playbook.objects.get(name="We miss you")
    email_step = PlaybookStep.objects.filter(playbook=playbook, kind="email").first()
    for url in [
        reverse("admin:health_signalrule_changelist"),
        reverse("admin:health_signalrule_change", args=[SignalRule.objects.first().pk]),
        reverse("admin:health_alert_changelist"),
        reverse("admin:health_alert_change", args=[alert.pk]),
        reverse("admin:health_playbook_changelist"),
        reverse("admin:health_playbook_change", args=[playbook.pk]),
        reverse("admin:health_playbookstep_change", args=[email_step.pk]),
        reverse("admin:health_task_changelist"),
        reverse("admin:health_playbookemail_changelist"),
        reverse("admin:health_emailoptout_changelist"),
    ]:
        assert admin_client_.get(url).status_code == 200, url


def test_a_signal_rule_without_its_threshold_or_event_types_is_refused_with_a_message(
    admin_client_,
):
    from health.models import SignalRule

    rule = SignalRule.objects.get(kind="data_export")
    url = reverse("admin:health_signalrule_change", args=[rule.pk])
    form = {
        "enabled": "on",
        "severity": "medium",
        "threshold": "",
        "window_days": "7",
        "bands": "[]",
    }

    no_types = admin_client_.post(url, form | {"event_types": "[]"})
    assert no_types.status_code == 200
    assert "Give a list of event types" in no_types.text

    inactive = SignalRule.objects.get(kind="inactive")
    no_threshold = admin_client_.post(
        reverse("admin:health_signalrule_change", args=[inactive.pk]),
        form | {"event_types": '["login"]'},
    )
    assert "This signal needs one." in no_threshold.text
    rule.refresh_from_db()
    inactive.refresh_from_db()
    assert rule.event_types == ["data_export", "Data Exported"] and inactive.threshold == 30


def test_a_playbook_whose_trigger_lacks_its_setting_is_refused_with_a_message(admin_client_):
    from health.models import Playbook

    response = admin_client_.post(
        reverse("admin:health_playbook_add"),
        {
            "name": "Half a play",
            "enabled": "on",
            "trigger": "stage_change",
            "stage": "",
            "min_alert_days": "0",
            "churned_within_days": "30",
            "steps-TOTAL_FORMS": "0",
            "steps-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 200
    assert "This trigger needs it." in response.text
    assert not Playbook.objects.filter(name="Half a play").exists()
