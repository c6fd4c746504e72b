"""Builders for the ingest and API tests: plain functions (not fixtures) so they never collide
with fixtures that other test modules in this folder define."""

from __future__ import annotations

import base64
import itertools
import json
from typing import Any

from django.test import Client

from customers.models import Account, Contact
from customers.services import api_key_create

SCRIPT = "<script>alert(1)</script>"
_ids = itertools.count(1)


def make_key(name: str = "test sync") -> str:
    _api_key, key = api_key_create(name=name)
    return key


def bearer(key: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {key}"}


def basic(key: str, password: str = "") -> dict[str, str]:
    token = base64.b64encode(f"{key}:{password}".encode()).decode()
    return {"HTTP_AUTHORIZATION": f"Basic {token}"}


def post(client: Client, path: str, body: Any, *, headers: dict[str, str] | None = None):
    """POST JSON (or raw bytes/str as given) to the API."""
    data = body if isinstance(body, (bytes, str)) else json.dumps(body)
    return client.post(path, data=data, content_type="application/json", **(headers or {}))


def make_account(external_id: str | None = None, **fields) -> Account:
    n = next(_ids)
    fields.setdefault("name", f"Ingest account {n}")
    return Account.objects.create(external_id=external_id or f"ing-acc-{n}", **fields)


def make_contact(account: Account, external_id: str | None = None, **fields) -> Contact:
    n = next(_ids)
    return Contact.objects.create(
        account=account, external_id=external_id or f"ing-con-{n}", **fields
    )


def event(event_id: str, account: str | None, *, type: str = "login", at: str, **extra) -> dict:
    item = {"id": event_id, "type": type, "timestamp": at, **extra}
    if account is not None:
        item["account"] = account
    return item
