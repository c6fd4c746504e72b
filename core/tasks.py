"""Celery options every app's tasks share, so "retry only named transient errors, with backoff
and jitter, acknowledged late" is written once."""

from __future__ import annotations

from django.db import OperationalError

# A deadlock, a serialization failure or a lost connection: worth a retry. Anything else is a
# bug or bad data, and retrying would only repeat it.
TRANSIENT_DB_ERRORS: tuple[type[BaseException], ...] = (OperationalError,)

RETRY_TRANSIENT = {
    "acks_late": True,
    "autoretry_for": TRANSIENT_DB_ERRORS,
    "retry_backoff": True,
    "retry_backoff_max": 300,
    "retry_jitter": True,
    "max_retries": 5,
}
