"""Who may change whose accounts: the book is the team's (docs/architecture.md, "Roles").

A CSM may add notes and move the lifecycle stage of any account, not only those they own, as
in Gainsight-style teams where a colleague covers a holiday or a renewal call; the timeline
names who did it. Viewers read everything and change nothing.
"""

from __future__ import annotations

import pytest
from django.urls import reverse

from accounts.roles import Role
from customers.models import Note, StageChange
from tests.customers.factories import make_account

pytestmark = pytest.mark.django_db


@pytest.fixture
def colleagues_account(make_user):
    owner = make_user(Role.CSM, "owner@example.com", "Olive Owner")
    return make_account(name="Covered Co", owner=owner, stage="onboarding")


def test_a_csm_may_note_on_another_csms_account_and_is_named_as_its_author(
    csm_client, csm_user, colleagues_account
):
    response = csm_client.post(
        reverse("customers:account_note_create", args=[colleagues_account.pk]),
        {"body": "Covered the QBR while Olive was away."},
    )

    assert response.status_code == 302
    note = Note.objects.get(account=colleagues_account)
    assert (note.author, note.body) == (csm_user, "Covered the QBR while Olive was away.")


def test_a_csm_may_move_the_stage_of_another_csms_account_and_is_named_on_the_move(
    csm_client, csm_user, colleagues_account
):
    response = csm_client.post(
        reverse("customers:account_stage_change", args=[colleagues_account.pk]),
        {"stage": "renewal"},
    )

    assert response.status_code == 302
    colleagues_account.refresh_from_db()
    assert colleagues_account.stage == "renewal"
    move = StageChange.objects.get(account=colleagues_account)
    assert (move.from_stage, move.to_stage, move.changed_by) == ("onboarding", "renewal", csm_user)
    assert colleagues_account.owner.email == "owner@example.com"  # ownership is not taken over


def test_a_viewer_may_change_nobodys_account(viewer_client, colleagues_account):
    note = viewer_client.post(
        reverse("customers:account_note_create", args=[colleagues_account.pk]), {"body": "x"}
    )
    stage = viewer_client.post(
        reverse("customers:account_stage_change", args=[colleagues_account.pk]),
        {"stage": "renewal"},
    )

    assert (note.status_code, stage.status_code) == (403, 403)
    assert not Note.objects.exists()
    assert not StageChange.objects.exists()
