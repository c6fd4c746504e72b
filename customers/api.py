"""The ingest API, mounted at ``/api/v1/`` (django-ninja: typed schemas and an OpenAPI
document at ``/api/v1/openapi.json``, browsable at ``/api/v1/docs``).

Bodies are read with orjson and checked item by item in :mod:`customers.ingest` rather than
by ninja's request models: a batch answers which items it refused and why while the valid
ones land, and one bad event must not turn a 1000-event batch into a 422. The pydantic
models below describe the bodies in the OpenAPI document.

Authentication: ``Authorization: Bearer <key>``. The Segment-compatible endpoints under
``/api/v1/segment/`` also take HTTP Basic auth with the key as user name, as Segment sends it.
A key in the query string is refused: URLs end up in logs.

Segment's own HTTP API paths (``/v1/batch``, ``/v1/identify``, ``/v1/track``, ``/v1/group``)
are served at the site's root, where the official libraries post when given only a host, and
under ``/api/v1/segment/`` (docs/segment.md). Every path is served with and without a trailing
slash, and everything under ``/api/`` answers JSON, a 404 and a 405 included.
"""

from __future__ import annotations

import functools
import zlib
from collections.abc import Callable
from typing import Any

import orjson
from django.contrib.auth.decorators import login_not_required, login_required
from django.core.exceptions import RequestDataTooBig
from django.db import IntegrityError, OperationalError
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import URLPattern, path
from django.views.decorators.csrf import csrf_exempt
from ninja import Field, NinjaAPI, Router, Schema
from ninja.errors import AuthenticationError, HttpError
from ninja.security import HttpBasicAuth, HttpBearer

from customers import ingest
from customers.ingest import fields
from customers.services import API_KEY_PREFIX, api_key_authenticate

MAX_ITEMS = 1000
MAX_BODY_BYTES = 1024 * 1024
ATTEMPTS = 3  # a batch that lost a race with an identical one is re-run: it then finds its rows
KEY_PARAMETERS = {"key", "api_key", "apikey", "token", "access_token", "write_key", "writekey"}


# --- authentication -----------------------------------------------------------------------


def _refuse_key_in_url(request: HttpRequest) -> None:
    for name, values in request.GET.lists():  # every value: ?k=<key>&k=1 hides the first
        if name.lower() in KEY_PARAMETERS or any(
            value.strip().startswith(API_KEY_PREFIX) for value in values
        ):
            raise HttpError(
                400,
                "Send the API key in the Authorization header (Authorization: Bearer <key>), "
                "never in the URL: URLs end up in logs and browser history.",
            )


class BearerKey(HttpBearer):
    def __call__(self, request: HttpRequest) -> Any:
        _refuse_key_in_url(request)
        return super().__call__(request)

    def authenticate(self, request: HttpRequest, token: str) -> Any:
        return api_key_authenticate(key=token.strip())


class SegmentBasicKey(HttpBasicAuth):
    """Segment sends the write key as the Basic user name with an empty password."""

    def __call__(self, request: HttpRequest) -> Any:
        _refuse_key_in_url(request)
        return super().__call__(request)

    def authenticate(self, request: HttpRequest, username: str, password: str) -> Any:
        return api_key_authenticate(key=username.strip())


# --- bodies, for the OpenAPI document ------------------------------------------------------


class RejectedOut(Schema):
    index: int = Field(description="Position of the item in the request, from 0.")
    error: str = Field(description='"field: reason"', examples=["timestamp: must carry a timezone"])


class IngestResultOut(Schema):
    accepted: int = Field(description="Items created or changed.")
    duplicates: int = Field(description="Items already there, unchanged (a replay).")
    rejected: list[RejectedOut]


class SegmentResultOut(IngestResultOut):
    parked: int = Field(
        description=(
            "Messages kept because the account or contact they name does not exist yet (a new "
            "user's identify before its group): applied when it appears, given up after 30 "
            "days. Nothing answered 200 is lost; rejected lists only what can never be applied."
        )
    )


class ErrorOut(Schema):
    detail: str


class AccountIn(Schema):
    id: str = Field(description="Your id for the account.")
    name: str | None = Field(None, description="Required when the account is new.")
    domain: str | None = None
    plan: str | None = None
    currency: str | None = Field(None, description="ISO 4217; fixed once revenue is recorded.")
    owner_email: str | None = Field(None, description="An active CSM or admin in Tenure.")
    stage: str | None = Field(None, examples=["onboarding"])
    renewal_date: str | None = Field(None, examples=["2026-03-31"])
    traits: dict[str, Any] | None = Field(None, description="Merged into the stored traits.")
    card_exp_month: int | None = None
    card_exp_year: int | None = None


class ContactIn(Schema):
    id: str
    account: str | None = Field(None, description="Account id; required for a new contact.")
    email: str | None = None
    name: str | None = None
    role: str | None = None
    locale: str | None = Field(None, examples=["nb"])
    birthday: str | None = Field(None, examples=["1990-04-01"])
    do_not_survey: bool | None = Field(None, description="An opt-out is lifted only in Tenure.")
    traits: dict[str, Any] | None = None


class EventIn(Schema):
    id: str = Field(description="Your event id: re-sending it stores nothing new.")
    account: str | None = Field(None, description="Account id; may be left out with contact.")
    contact: str | None = None
    type: str = Field(examples=["login", "feature_used", "payment_failed", "card_updated"])
    timestamp: str = Field(examples=["2025-05-01T12:00:00Z"], description="ISO 8601 with offset.")
    properties: dict[str, Any] | None = Field(
        None, description="card_updated may carry exp_month and exp_year."
    )


class RevenueIn(Schema):
    id: str = Field(description="Your id for this change; history is append-only.")
    account: str
    mrr: str | float = Field(examples=["99.50"], description="In the account's currency.")
    effective_at: str = Field(examples=["2025-05-01T00:00:00Z"])
    kind: str | None = Field(None, description="Inferred from the MRR before when left out.")
    plan: str | None = None
    currency: str | None = Field(None, description="Must be the account's currency if sent.")


class TicketIn(Schema):
    id: str
    account: str | None = Field(None, description="Required for a new ticket.")
    contact: str | None = None
    subject: str | None = Field(None, description="Required for a new ticket.")
    priority: str | None = Field(None, examples=["high"])
    status: str | None = Field(None, examples=["closed"])
    opened_at: str | None = Field(None, description="Required for a new ticket.")
    closed_at: str | None = None


class AccountsBatch(Schema):
    accounts: list[AccountIn] = Field(max_length=MAX_ITEMS)


class ContactsBatch(Schema):
    contacts: list[ContactIn] = Field(max_length=MAX_ITEMS)


class EventsBatch(Schema):
    events: list[EventIn] = Field(max_length=MAX_ITEMS)


class RevenueBatch(Schema):
    revenue: list[RevenueIn] = Field(max_length=MAX_ITEMS)


class TicketsBatch(Schema):
    tickets: list[TicketIn] = Field(max_length=MAX_ITEMS)


class SegmentMessage(Schema):
    """A Segment message, with Segment's own field names (userId, groupId, messageId)."""

    type: str | None = Field(None, description="identify, group or track (in a batch).")
    userId: str | None = None
    groupId: str | None = None
    event: str | None = None
    messageId: str | None = None
    timestamp: str | None = None
    traits: dict[str, Any] | None = None
    properties: dict[str, Any] | None = None
    context: dict[str, Any] | None = Field(None, description="context.groupId names the account.")


class SegmentBatch(Schema):
    batch: list[SegmentMessage] = Field(max_length=MAX_ITEMS)
    context: dict[str, Any] | None = None


BODY_MODELS = [
    AccountsBatch,
    ContactsBatch,
    EventsBatch,
    RevenueBatch,
    TicketsBatch,
    SegmentMessage,
    SegmentBatch,
]


class IngestAPI(NinjaAPI):
    def get_openapi_schema(self, **kwargs: Any) -> Any:
        """Ninja documents the bodies it parses; ours are parsed by hand, so add them."""
        schema = super().get_openapi_schema(**kwargs)
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        for model in BODY_MODELS:
            body = model.model_json_schema(ref_template="#/components/schemas/{model}")
            components.update(body.pop("$defs", {}))
            components[model.__name__] = body
        return schema


def _body(model: type[Schema]) -> dict:
    ref = {"$ref": f"#/components/schemas/{model.__name__}"}
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": ref}}}}


RESPONSES = {
    200: IngestResultOut,
    400: ErrorOut,
    401: ErrorOut,
    411: ErrorOut,
    413: ErrorOut,
    415: ErrorOut,
    422: ErrorOut,
    503: ErrorOut,
}
SEGMENT_RESPONSES = {**RESPONSES, 200: SegmentResultOut}

api = IngestAPI(
    title="Tenure ingest API",
    version="1",
    description=(
        "Send accounts, contacts, usage events, revenue changes and tickets from your "
        "product and billing systems. Authenticate with `Authorization: Bearer <key>` "
        "(create keys in the admin or with `manage.py create_api_key NAME`). Every batch "
        f"takes at most {MAX_ITEMS} items and {MAX_BODY_BYTES:,} bytes, is checked item by "
        "item, and answers how many items were accepted, how many were duplicates (already "
        "there: re-sending a batch is safe) and which were rejected, with why."
    ),
    urls_namespace="api-v1",
    auth=BearerKey(),
    # The docs and schema are for the team wiring data in: behind the login like every page.
    docs_decorator=login_required,
)


def _is_segment(request: HttpRequest) -> bool:
    return request.path.startswith("/v1/") or request.path.startswith("/api/v1/segment")


@api.exception_handler(AuthenticationError)
def _unauthorized(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    if _is_segment(request):
        detail = (
            "Missing, unknown or revoked API key. Send it as HTTP Basic auth: the key as the "
            "user name and an empty password (or as Authorization: Bearer <key>)."
        )
        challenge = 'Basic realm="Tenure"'
    else:
        detail = "Missing, unknown or revoked API key. Send it as Authorization: Bearer <key>."
        challenge = 'Bearer realm="Tenure"'
    response = _json({"detail": detail}, status=401)
    response["WWW-Authenticate"] = challenge
    return response


# --- reading and answering ----------------------------------------------------------------


def _json(data: Any, *, status: int = 200) -> HttpResponse:
    return HttpResponse(orjson.dumps(data), content_type="application/json", status=status)


def _too_large(what: str) -> HttpError:
    return HttpError(
        413,
        f"{what}; a request takes at most {MAX_ITEMS} items and {MAX_BODY_BYTES:,} bytes "
        "(1 MB). Split it into smaller batches.",
    )


def _read_raw(request: HttpRequest) -> bytes:
    """The body as sent, at most MAX_BODY_BYTES. A chunked body has no Content-Length: a WSGI
    server that de-chunks it (gunicorn) says so with ``wsgi.input_terminated`` and the input
    is read to its end; under ASGI the body is already whole."""
    chunked = "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower()
    environ = getattr(request, "environ", None)
    if chunked and environ is not None and not request.META.get("CONTENT_LENGTH"):
        if not environ.get("wsgi.input_terminated"):
            raise HttpError(
                411,
                "This server cannot read a chunked body: send a Content-Length header (or "
                "run Tenure behind gunicorn, which reads chunked bodies).",
            )
        body = environ["wsgi.input"].read(MAX_BODY_BYTES + 1)
        if len(body) > MAX_BODY_BYTES:
            raise _too_large("The chunked body is larger than that")
        return body
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        raise HttpError(400, "The Content-Length header is not a number.") from None
    if length > MAX_BODY_BYTES:
        raise _too_large(f"The body is {length:,} bytes")
    try:
        body = request.body
    except RequestDataTooBig:
        raise _too_large("The body is too large") from None
    if len(body) > MAX_BODY_BYTES:
        raise _too_large(f"The body is {len(body):,} bytes")
    return body


# zlib's window bits: 16 + MAX_WBITS reads gzip, MAX_WBITS zlib-wrapped deflate.
CONTENT_ENCODINGS = {"gzip": 16 + zlib.MAX_WBITS, "x-gzip": 16 + zlib.MAX_WBITS}
CONTENT_ENCODINGS["deflate"] = zlib.MAX_WBITS


def _decoded(request: HttpRequest, body: bytes) -> bytes:
    """The body with its Content-Encoding (gzip, as Segment's Python library sends with
    gzip=True, or deflate) undone. The decompressed size has the same limit as a plain body,
    checked while inflating: a small gzip bomb gets a 413 without ever being held whole."""
    encoding = request.META.get("HTTP_CONTENT_ENCODING", "").strip().lower()
    if encoding in ("", "identity"):
        return body
    if encoding not in CONTENT_ENCODINGS:
        raise HttpError(
            415, f"Content-Encoding {encoding[:20]!r} is not supported: send gzip or none."
        )
    inflater = zlib.decompressobj(CONTENT_ENCODINGS[encoding])
    try:
        inflated = inflater.decompress(body, MAX_BODY_BYTES + 1)
    except zlib.error as error:
        raise HttpError(400, f"The body is not valid {encoding} data ({error}).") from None
    if len(inflated) > MAX_BODY_BYTES or inflater.unconsumed_tail:
        raise _too_large(f"Decompressed, the {encoding} body is larger than that")
    if not inflater.eof:
        raise HttpError(400, f"The {encoding} body is cut short.")
    return inflated


def _read_json(request: HttpRequest) -> Any:
    body = _decoded(request, _read_raw(request))
    if not body.strip():
        raise HttpError(400, "The body is empty: send a JSON object.")
    try:
        return fields.json_loads(body)  # integers beyond 64 bits stay exact
    except orjson.JSONDecodeError as error:
        raise HttpError(400, f"The body is not valid JSON: {error}.") from None


def _read_object(request: HttpRequest, example: str) -> dict:
    data = _read_json(request)
    if not isinstance(data, dict):
        raise HttpError(422, f"body: must be a JSON object like {example}")
    return data


def _read_items(request: HttpRequest, key: str) -> list:
    return _items_of(_read_object(request, f'{{"{key}": [...]}}'), key)


def _items_of(data: dict, key: str) -> list:
    if key not in data:
        raise HttpError(422, f"{key}: is required (a list of at most {MAX_ITEMS} items)")
    items = data[key]
    if not isinstance(items, list):
        raise HttpError(422, f"{key}: must be a list")
    if len(items) > MAX_ITEMS:
        raise _too_large(f"{key} has {len(items):,} items")
    return items


def _ingest(write: Callable[[], ingest.IngestResult]) -> ingest.IngestResult:
    """Run one request's writes (one transaction), again if it lost a race: everything is
    keyed by ids, so a re-run finds what the winner wrote and counts it as duplicates."""
    for attempt in range(1, ATTEMPTS + 1):
        try:
            return write()
        except (IntegrityError, OperationalError) as error:
            if attempt == ATTEMPTS:
                raise HttpError(
                    503,
                    "The database was busy with the same records; nothing from this request "
                    "was saved. Send it again.",
                ) from error
    raise AssertionError("unreachable")


def _answer(result: ingest.IngestResult) -> HttpResponse:
    return _json(result)


# --- endpoints ----------------------------------------------------------------------------


@api.post(
    "/accounts",
    response=RESPONSES,
    openapi_extra=_body(AccountsBatch),
    summary="Create or update accounts by id",
    tags=["ingest"],
)
def accounts(request: HttpRequest) -> HttpResponse:
    items = _read_items(request, "accounts")
    return _answer(_ingest(lambda: ingest.accounts_upsert(items=items, source="api")))


@api.post(
    "/contacts",
    response=RESPONSES,
    openapi_extra=_body(ContactsBatch),
    summary="Create or update contacts by id",
    tags=["ingest"],
)
def contacts(request: HttpRequest) -> HttpResponse:
    items = _read_items(request, "contacts")
    return _answer(_ingest(lambda: ingest.contacts_upsert(items=items, source="api")))


@api.post(
    "/events",
    response=RESPONSES,
    openapi_extra=_body(EventsBatch),
    summary="Store usage events (idempotent by id)",
    tags=["ingest"],
)
def events(request: HttpRequest) -> HttpResponse:
    items = _read_items(request, "events")
    return _answer(_ingest(lambda: ingest.events_ingest(items=items, source="api")))


@api.post(
    "/revenue",
    response=RESPONSES,
    openapi_extra=_body(RevenueBatch),
    summary="Append dated MRR changes",
    tags=["ingest"],
)
def revenue(request: HttpRequest) -> HttpResponse:
    items = _read_items(request, "revenue")
    return _answer(_ingest(lambda: ingest.revenue_changes_record(items=items)))


@api.post(
    "/tickets",
    response=RESPONSES,
    openapi_extra=_body(TicketsBatch),
    summary="Create or update support tickets by id",
    tags=["ingest"],
)
def tickets(request: HttpRequest) -> HttpResponse:
    items = _read_items(request, "tickets")
    return _answer(_ingest(lambda: ingest.tickets_upsert(items=items)))


# --- Segment ------------------------------------------------------------------------------

segment = Router(auth=[SegmentBasicKey(), BearerKey()], tags=["segment"])


def _segment_single(request: HttpRequest, kind: str | None) -> HttpResponse:
    message = _read_object(request, '{"userId": "…", "traits": {…}}')
    result = _ingest(lambda: ingest.segment_ingest(messages=[message], kind=kind))
    if result["rejected"]:
        return _json({"detail": result["rejected"][0]["error"], **result}, status=400)
    return _answer(result)


@segment.post(
    "",
    response=SEGMENT_RESPONSES,
    openapi_extra=_body(SegmentMessage),
    summary="Segment webhook: any one identify, group or track message, by its type",
)
def segment_any(request: HttpRequest) -> HttpResponse:
    """Segment's webhook destination posts every call to one URL; its ``type`` says which."""
    return _segment_single(request, None)


@segment.post(
    "/identify",
    response=SEGMENT_RESPONSES,
    openapi_extra=_body(SegmentMessage),
    summary="Segment identify: create or update a contact",
    description="Also served as /v1/identify, at the site's root and under /api/v1/segment/.",
)
def segment_identify(request: HttpRequest) -> HttpResponse:
    return _segment_single(request, "identify")


@segment.post(
    "/group",
    response=SEGMENT_RESPONSES,
    openapi_extra=_body(SegmentMessage),
    summary="Segment group: create or update an account",
    description="Also served as /v1/group, at the site's root and under /api/v1/segment/.",
)
def segment_group(request: HttpRequest) -> HttpResponse:
    return _segment_single(request, "group")


@segment.post(
    "/track",
    response=SEGMENT_RESPONSES,
    openapi_extra=_body(SegmentMessage),
    summary="Segment track: store a usage event",
    description="Also served as /v1/track, at the site's root and under /api/v1/segment/.",
)
def segment_track(request: HttpRequest) -> HttpResponse:
    return _segment_single(request, "track")


@segment.post(
    "/batch",
    response=SEGMENT_RESPONSES,
    openapi_extra=_body(SegmentBatch),
    summary="Segment batch: identify, group and track messages together",
    description=(
        "Also served as /v1/batch, at the site's root and under /api/v1/segment/: where "
        "Segment's Python and Node libraries post when given only the host."
    ),
)
def segment_batch(request: HttpRequest) -> HttpResponse:
    data = _read_object(request, '{"batch": [...]}')
    messages = _items_of(data, "batch")
    shared = data.get("context")
    if isinstance(shared, dict):
        messages = [
            {**m, "context": {**shared, **(m.get("context") or {})}} if isinstance(m, dict) else m
            for m in messages
        ]
    return _answer(_ingest(lambda: ingest.segment_ingest(messages=messages)))


api.add_router("/segment/", segment)


# --- URLs ---------------------------------------------------------------------------------
# Included from config/urls.py. The API authenticates every request by key, not by session,
# so it is exempt from the login wall (and, being ninja, from CSRF); the docs and schema keep
# their own login_required.
#
# Every path answers with and without its trailing slash (no APPEND_SLASH redirect, which a
# POST cannot follow), and what Django would answer as an HTML 404 or 405 is JSON here.

SEGMENT_HTTP_API = ("batch", "identify", "track", "group")  # Segment's /v1/<call> paths


def _json_errors(view: Callable) -> Callable:
    """Ninja answers a wrong method with a bare 405 and its root raises Http404: say both in
    JSON, keeping the Allow header."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            response = view(request, *args, **kwargs)
        except Http404:
            return not_found(request)
        if response.status_code == 405 and "json" not in response.get("Content-Type", ""):
            allowed = response.get("Allow", "")
            answer = _json(
                {"detail": f"{request.method} is not allowed here; use {allowed}."}, status=405
            )
            answer["Allow"] = allowed
            return answer
        return response

    return login_not_required(wrapper)


@csrf_exempt
@login_not_required
def not_found(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    """Any other path under /api/ (and /v1/): a JSON 404 rather than the site's HTML page."""
    return _json(
        {
            "detail": f"No API endpoint at {request.path}. The endpoints and their paths are "
            "listed at /api/v1/docs."
        },
        status=404,
    )


def _both_spellings(patterns: list[URLPattern]) -> list[URLPattern]:
    spelled = []
    for pattern in patterns:
        spelled.append(pattern)
        route = str(pattern.pattern)
        if route:
            other = route[:-1] if route.endswith("/") else f"{route}/"
            spelled.append(path(other, pattern.callback))  # unnamed: reverse() gives one
    return spelled


_ninja_patterns = [path(str(p.pattern), _json_errors(p.callback), name=p.name) for p in api.urls[0]]
_callbacks = {str(p.pattern): p.callback for p in _ninja_patterns}

app_name = "api-v1"
urlpatterns = _both_spellings(
    [
        *_ninja_patterns,
        # Segment's Python library appends /v1/batch to its host, so a host of
        # https://…/api/v1/segment posts here.
        *(
            path(f"segment/v1/{call}", _callbacks[f"segment/{call}"], name=f"segment-v1-{call}")
            for call in SEGMENT_HTTP_API
        ),
    ]
)
# At the site's root (config/urls.py mounts these at /v1/): where both official libraries
# post when their host is just the site, as it is for Segment's own api.segment.io.
segment_http_api_urlpatterns = _both_spellings(
    [path(call, _callbacks[f"segment/{call}"], name=call) for call in SEGMENT_HTTP_API]
)
