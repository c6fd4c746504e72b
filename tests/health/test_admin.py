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
