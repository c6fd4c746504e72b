"""API keys: hashed at rest, shown once, refused when missing, wrong, revoked or put in a
URL; the API sits outside the login wall and CSRF because the key is its authentication."""

from __future__ import annotations

import datetime as dt
import hashlib
import io

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.utils import timezone

from customers.models import ApiKey, UsageEvent
from customers.services import api_key_create, api_key_revoke
from tests.customers.api_client import basic, bearer, event, post
from tests.customers.factories import make_account, make_key

pytestmark = pytest.mark.django_db

EVENTS = "/api/v1/events"


@pytest.fixture
def acme():
    return make_account("acme")


def one_event(event_id: str = "e1") -> dict:
    return {"events": [event(event_id, "acme", at="2025-05-01T09:00:00Z")]}


def test_a_valid_key_in_the_header_is_accepted_without_a_session_or_csrf_token(acme):
    key = make_key()
    client = Client(enforce_csrf_checks=True)

    response = post(client, EVENTS, one_event(), headers=bearer(key))

    assert response.status_code == 200
    assert response.json() == {"accepted": 1, "duplicates": 0, "rejected": []}


def test_a_request_without_a_key_is_refused_and_told_how_to_send_one(client, acme):
    response = post(client, EVENTS, one_event())

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="Tenure"'
    assert response.json() == {
        "detail": "Missing, unknown or revoked API key. Send it as Authorization: Bearer <key>."
    }
    assert not UsageEvent.objects.exists()


def test_a_wrong_key_and_a_session_login_are_both_refused(csm_client, acme):
    make_key()

    wrong = post(csm_client, EVENTS, one_event(), headers=bearer("tk_not-a-real-key"))
    session_only = post(csm_client, EVENTS, one_event())

    assert (wrong.status_code, session_only.status_code) == (401, 401)
    assert not UsageEvent.objects.exists()


def test_a_revoked_key_stops_working_at_once(client, acme):
    api_key, key = api_key_create(name="old sync")
    assert post(client, EVENTS, one_event("before"), headers=bearer(key)).status_code == 200

    api_key_revoke(api_key=api_key)
    response = post(client, EVENTS, one_event("after"), headers=bearer(key))

    assert response.status_code == 401
    assert list(UsageEvent.objects.values_list("event_id", flat=True)) == ["before"]


@pytest.mark.parametrize(
    "query",
    [
        "api_key={key}",
        "key={key}",
        "token={key}",
        "access_token={key}",
        "anything={key}",
        "k={key}&k=1",  # hidden behind a second value
        "k=%20{key}",  # or a leading space
    ],
)
def test_a_key_in_the_query_string_is_refused_even_with_a_valid_header(client, acme, query):
    key = make_key()

    response = post(client, f"{EVENTS}?{query.format(key=key)}", one_event(), headers=bearer(key))

    assert response.status_code == 400
    assert "Authorization header" in response.json()["detail"]
    assert "never in the URL" in response.json()["detail"]
    assert not UsageEvent.objects.exists()


def test_only_the_hash_of_a_key_is_stored():
    api_key, key = api_key_create(name="billing sync")

    assert key.startswith("tk_") and len(key) > 40
    assert api_key.key_hash == hashlib.sha256(key.encode()).hexdigest()
    assert api_key.prefix == key[:10]
    stored = ApiKey.objects.filter(pk=api_key.pk).values().get()
    assert key not in {str(value) for value in stored.values()}


def test_last_use_is_written_at_most_once_a_minute(client, acme):
    api_key, key = api_key_create(name="sync")

    post(client, EVENTS, one_event("a"), headers=bearer(key))
    api_key.refresh_from_db()
    first = api_key.last_used_at
    post(client, EVENTS, one_event("b"), headers=bearer(key))
    api_key.refresh_from_db()
    assert first is not None and api_key.last_used_at == first

    long_ago = timezone.now() - dt.timedelta(minutes=2)
    ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=long_ago)
    post(client, EVENTS, one_event("c"), headers=bearer(key))
    api_key.refresh_from_db()
    assert api_key.last_used_at > long_ago + dt.timedelta(minutes=1)


def test_segment_endpoints_take_the_key_as_the_basic_auth_user_name(client, acme):
    key = make_key()
    track = {
        "userId": None,
        "event": "Signed In",
        "messageId": "m1",
        "timestamp": "2025-05-01T09:00:00Z",
        "context": {"groupId": "acme"},
    }

    ok = post(client, "/api/v1/segment/track", track, headers=basic(key))
    wrong = post(client, "/api/v1/segment/track", track, headers=basic("tk_wrong"))
    missing = post(client, "/api/v1/segment/track", track)

    assert ok.status_code == 200
    assert (wrong.status_code, missing.status_code) == (401, 401)
    assert missing["WWW-Authenticate"] == 'Basic realm="Tenure"'
    assert "key as the user name and an empty password" in missing.json()["detail"]
    assert UsageEvent.objects.get().source == "segment"


def test_create_api_key_prints_the_key_once_and_it_works(client, acme):
    out, err = io.StringIO(), io.StringIO()

    call_command("create_api_key", "warehouse sync", stdout=out, stderr=err)

    key = out.getvalue().strip()
    api_key = ApiKey.objects.get()
    assert api_key.name == "warehouse sync"
    assert api_key.key_hash == hashlib.sha256(key.encode()).hexdigest()
    assert "will not be shown again" in err.getvalue()
    assert key not in err.getvalue()
    assert post(client, EVENTS, one_event(), headers=bearer(key)).status_code == 200


def test_create_api_key_refuses_a_blank_name():
    with pytest.raises(CommandError, match="name"):
        call_command("create_api_key", "   ", stdout=io.StringIO(), stderr=io.StringIO())
    assert not ApiKey.objects.exists()


def test_the_admin_shows_a_new_key_once_and_keeps_only_its_hash(admin_client_, client, acme):
    response = admin_client_.post(
        "/admin/customers/apikey/add/", {"name": "<b>crm</b> sync"}, follow=True
    )

    assert response.status_code == 200
    api_key = ApiKey.objects.get()
    assert api_key.created_by.email == "admin@example.com"
    shown = [str(m) for m in response.context["messages"]]
    key = next(word for m in shown for word in m.split() if word.startswith("tk_"))
    assert api_key.key_hash == hashlib.sha256(key.encode()).hexdigest()
    assert b"&lt;b&gt;crm&lt;/b&gt; sync" in response.content  # the name is escaped
    assert post(client, EVENTS, one_event(), headers=bearer(key)).status_code == 200

    page = admin_client_.get(f"/admin/customers/apikey/{api_key.pk}/change/")
    assert key.encode() not in page.content


def test_the_admin_revokes_keys_with_an_action(admin_client_, client, acme):
    api_key, key = api_key_create(name="sync")

    response = admin_client_.post(
        "/admin/customers/apikey/",
        {"action": "revoke", "_selected_action": [api_key.pk]},
        follow=True,
    )

    assert response.status_code == 200
    api_key.refresh_from_db()
    assert api_key.revoked_at is not None
    assert post(client, EVENTS, one_event(), headers=bearer(key)).status_code == 401


def test_csms_cannot_reach_the_key_admin(csm_client):
    response = csm_client.get("/admin/customers/apikey/")

    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]
