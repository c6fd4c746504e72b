"""Every API path answers with and without its trailing slash, Segment's own HTTP API paths are
served where its libraries post, anything else under /api/ is a JSON 404 and a wrong method a
JSON 405; gzip and chunked bodies are read, within the same size limit."""

from __future__ import annotations

import gzip
import io
import json
import zlib

import pytest

from customers.models import Account, UsageEvent
from tests.customers.api_client import basic, bearer, post
from tests.customers.factories import make_key

pytestmark = pytest.mark.django_db

INGEST = ["accounts", "contacts", "events", "revenue", "tickets"]
SEGMENT = [
    "/api/v1/segment",
    "/api/v1/segment/identify",
    "/api/v1/segment/group",
    "/api/v1/segment/track",
    "/api/v1/segment/batch",
    "/api/v1/segment/v1/identify",
    "/api/v1/segment/v1/group",
    "/api/v1/segment/v1/track",
    "/api/v1/segment/v1/batch",
    "/v1/identify",
    "/v1/group",
    "/v1/track",
    "/v1/batch",
]
GROUP = {"type": "group", "groupId": "acme", "traits": {"name": "Acme"}}


@pytest.fixture
def key():
    return make_key()


@pytest.mark.parametrize("slash", ["", "/"])
@pytest.mark.parametrize("name", INGEST)
def test_each_ingest_endpoint_answers_both_spellings(client, key, name, slash):
    response = post(client, f"/api/v1/{name}{slash}", {name: []}, headers=bearer(key))

    assert response.status_code == 200, response.content
    assert response.json() == {"accepted": 0, "duplicates": 0, "rejected": []}


@pytest.mark.parametrize("slash", ["", "/"])
@pytest.mark.parametrize("url", SEGMENT)
def test_each_segment_path_answers_both_spellings_with_basic_auth(client, key, url, slash):
    url = url.rstrip("/") + slash
    call = url.rstrip("/").rsplit("/", 1)[-1]
    body = {
        "batch": {"batch": [GROUP]},
        "identify": {"userId": "u1", "traits": {"email": "a@acme.example"}},
        "track": {"userId": "u1", "event": "Signed In", "messageId": "m-1"},
    }.get(call, GROUP)

    response = post(client, url, body, headers=basic(key))

    assert response.status_code == 200, (url, response.content)
    answer = response.json()
    assert answer["accepted"] + answer["duplicates"] + answer["parked"] == 1


@pytest.mark.parametrize(
    "url", ["/api/v1/nope", "/api/v1/nope/", "/api/v2/events", "/api", "/api/v1/", "/v1/page"]
)
@pytest.mark.parametrize("method", ["get", "post"])
def test_unknown_api_paths_are_a_json_404(client, key, url, method):
    response = getattr(client, method)(url, **bearer(key))

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert "/api/v1/docs" in response.json()["detail"]


@pytest.mark.parametrize(
    "url", ["/api/v1/events", "/api/v1/events/", "/v1/batch", "/api/v1/segment"]
)
@pytest.mark.parametrize("method", ["get", "put", "delete"])
def test_a_wrong_method_is_a_json_405_with_allow(client, key, url, method):
    response = getattr(client, method)(url, **bearer(key))

    assert response.status_code == 405
    assert response["Content-Type"] == "application/json"
    assert response["Allow"] == "POST"
    assert response.json() == {"detail": f"{method.upper()} is not allowed here; use POST."}


def test_a_segment_path_without_a_key_is_told_to_use_basic_auth(client):
    response = post(client, "/v1/batch", {"batch": []})

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Basic realm="Tenure"'


# --- bodies -------------------------------------------------------------------------------


def _gzip_post(client, key, data: bytes, encoding: str = "gzip"):
    return client.post(
        "/v1/batch",
        data=data,
        content_type="application/json",
        headers={"Content-Encoding": encoding},
        **basic(key),
    )


def test_a_gzip_body_is_read(client, key):
    body = json.dumps({"batch": [GROUP]}).encode()

    gzipped = _gzip_post(client, key, gzip.compress(body))
    deflated = _gzip_post(client, key, zlib.compress(body), "deflate")

    assert gzipped.status_code == 200, gzipped.content
    assert gzipped.json()["accepted"] == 1
    assert deflated.json()["duplicates"] == 1


def test_a_gzip_bomb_is_a_413_without_inflating_it_whole(client, key):
    bomb = gzip.compress(b"{" + b" " * (50 * 1024 * 1024) + b"}")
    assert len(bomb) < 100_000

    response = _gzip_post(client, key, bomb)

    assert response.status_code == 413
    assert "Decompressed, the gzip body is larger than that" in response.json()["detail"]


@pytest.mark.parametrize(
    ("data", "encoding", "status", "detail"),
    [
        (b"not gzip at all", "gzip", 400, "The body is not valid gzip data"),
        (gzip.compress(b'{"batch": []}')[:-12], "gzip", 400, "The gzip body is cut short."),
        (b"{}", "br", 415, "Content-Encoding 'br' is not supported: send gzip or none."),
    ],
)
def test_a_bad_or_unknown_encoding_is_refused_clearly(client, key, data, encoding, status, detail):
    response = _gzip_post(client, key, data, encoding)

    assert response.status_code == status
    assert response.json()["detail"].startswith(detail)


def _chunked(client, key, body: bytes, *, terminated: bool = True):
    extra = {
        "CONTENT_TYPE": "application/json",
        "HTTP_TRANSFER_ENCODING": "chunked",
        "wsgi.input": io.BytesIO(body),
    }
    if terminated:  # what gunicorn says when it has de-chunked the body
        extra["wsgi.input_terminated"] = True
    return client.generic("POST", "/v1/batch", b"", **extra, **basic(key))


def test_a_chunked_body_without_content_length_is_read(client, key):
    body = json.dumps({"batch": [GROUP]}).encode()

    response = _chunked(client, key, body)

    assert response.status_code == 200, response.content
    assert response.json()["accepted"] == 1


def test_a_chunked_body_keeps_the_size_limit(client, key):
    response = _chunked(client, key, b"{" + b" " * (1024 * 1024 + 10) + b"}")

    assert response.status_code == 413
    assert not Account.objects.exists()


def test_a_chunked_body_a_server_did_not_read_is_a_411_not_an_empty_body(client, key):
    response = _chunked(client, key, b'{"batch": []}', terminated=False)

    assert response.status_code == 411
    assert "Content-Length" in response.json()["detail"]
    assert not UsageEvent.objects.exists()
