"""Segment's official libraries, configured with only their host and write key, deliver to a
live Tenure: the Python one (a dev dependency) and the Node one (tests/segment_node, installed
with npm at test time). Both post to <host>/v1/batch; the identify goes out before the group,
in a request of its own, as it does in Segment's usual order, and is kept until the group
creates the contact.

The Node test skips, saying why, where node or npm is missing; in CI (CI=true) that fails.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from customers.models import Account, Contact, ParkedMessage, UsageEvent
from tests.customers.factories import make_key

pytestmark = pytest.mark.django_db(transaction=True)

NODE_DIR = Path(__file__).resolve().parent.parent / "segment_node"


def _assert_delivered(user: str, email: str, name: str, account: str, account_name: str) -> None:
    contact = Contact.objects.get(external_id=user)
    assert (contact.email, contact.name, contact.traits) == (email, name, {"seat": "admin"})
    assert contact.account == Account.objects.get(external_id=account, name=account_name)
    stored = UsageEvent.objects.get(contact=contact)
    assert (stored.source, stored.type, stored.properties) == (
        "segment",
        "Report Exported",
        {"format": "csv"},
    )
    assert not ParkedMessage.objects.exists()


@pytest.mark.parametrize("gzip", [False, True], ids=["plain", "gzip"])
def test_the_python_library_with_only_host_and_write_key(live_server, gzip):
    from segment.analytics import Client

    errors: list[Exception] = []
    analytics = Client(
        write_key=make_key("segment python"),
        host=live_server.url,
        gzip=gzip,
        on_error=lambda error, batch: errors.append(error),
    )
    try:
        analytics.identify("py-u1", {"email": "ada@py.example", "name": "Ada Py", "seat": "admin"})
        analytics.flush()
        assert ParkedMessage.objects.get().waiting_id == "py-u1"
        analytics.group("py-u1", "py-acme", {"name": "Py Acme"})
        analytics.track("py-u1", "Report Exported", {"format": "csv"})
        analytics.flush()
    finally:
        analytics.join()

    assert errors == []
    _assert_delivered("py-u1", "ada@py.example", "Ada Py", "py-acme", "Py Acme")


def _node_or_skip() -> str:
    """node, with @segment/analytics-node installed beside the script; a skip (a failure in
    CI) saying what is missing otherwise."""

    def missing(reason: str) -> None:
        if os.environ.get("CI"):
            pytest.fail(f"{reason}; CI must run the Segment Node library test")
        pytest.skip(reason)

    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        missing("node and npm are needed to drive @segment/analytics-node")
    if not (NODE_DIR / "node_modules" / "@segment" / "analytics-node").is_dir():
        install = subprocess.run(
            [npm, "install", "--no-package-lock", "--no-audit", "--no-fund"],
            cwd=NODE_DIR,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        if install.returncode != 0:
            missing(f"npm install in {NODE_DIR} failed: {install.stderr[-500:]}")
    return node


def test_the_node_library_with_only_host_and_write_key(live_server):
    node = _node_or_skip()

    sent = subprocess.run(
        [node, "send.js"],
        cwd=NODE_DIR,
        env={**os.environ, "TENURE_HOST": live_server.url, "TENURE_WRITE_KEY": make_key()},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert sent.returncode == 0, sent.stdout + sent.stderr
    report = json.loads(sent.stdout.strip().splitlines()[-1])
    assert report["errors"] == []
    assert {(r["url"], r["status"]) for r in report["requests"]} == {
        (f"{live_server.url}/v1/batch", 200)
    }
    assert len(report["requests"]) == 2  # the identify alone, then the group and the track
    _assert_delivered("node-u1", "ada@node.example", "Ada Node", "node-acme", "Node Acme")
