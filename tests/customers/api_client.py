"""Talking to the ingest API in tests: auth headers, JSON posts and event items. The
builders of rows are in tests.customers.factories."""

from __future__ import annotations

import base64
import json
from typing import Any

from django.test import Client


def bearer(key: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {key}"}


def basic(key: str, password: str = "") -> dict[str, str]:
    token = base64.b64encode(f"{key}:{password}".encode()).decode()
    return {"HTTP_AUTHORIZATION": f"Basic {token}"}


def post(client: Client, path: str, body: Any, *, headers: dict[str, str] | None = None):
    """POST JSON (or raw bytes/str as given) to the API."""
    data = body if isinstance(body, (bytes, str)) else json.dumps(body)
    return client.post(path, data=data, content_type="application/json", **(headers or {}))


def event(event_id: str, account: str | None, *, type: str = "login", at: str, **extra) -> dict:
    item = {"id": event_id, "type": type, "timestamp": at, **extra}
    if account is not None:
        item["account"] = account
    return item
