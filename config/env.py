"""Strict reading of the environment.

django-environ parses values, but it happily turns ``DEBUG=maybe`` into ``False`` and lets a
typo in ``DATABASE_URL`` surface as a confusing driver error much later. These helpers fail at
start-up with a message that names the variable, so a mis-configured deploy never half-starts.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import urlsplit

import environ
from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}

_DATABASE_SCHEMES = {"sqlite", "postgres", "postgresql", "pgsql", "psql"}
_REDIS_SCHEMES = {"redis", "rediss"}

env = environ.Env()


def read_dotenv(path: Path) -> None:
    """Load ``.env`` if present; real environment variables win over the file."""
    if path.is_file():
        environ.Env.read_env(str(path), overwrite=False)


def is_set(name: str) -> bool:
    return bool(os.environ.get(name, "").strip())


def get_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(
        f"{name}={raw!r} is not a boolean; use one of true/false, yes/no, on/off, 1/0."
    )


def get_int(name: str, default: int, *, minimum: int | None = None) -> int:
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not a whole number.") from None
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{name}={value} must be at least {minimum}.")
    return value


def get_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default).strip()


def get_site_url(name: str, default: str) -> str:
    """An absolute http(s) base URL without a trailing slash: survey links and emails are built
    on it, and a missing scheme would only show up as dead links in customers' inboxes."""
    raw = get_str(name, default)
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise ImproperlyConfigured(
            f"{name} must be an absolute URL like https://tenure.example.com; got {raw!r}."
        )
    return raw.rstrip("/")


def get_currency(name: str, default: str) -> str:
    """An ISO 4217 code (three letters)."""
    raw = get_str(name, default).upper()
    if not re.fullmatch(r"[A-Z]{3}", raw):
        raise ImproperlyConfigured(f"{name} must be a three-letter currency code; got {raw!r}.")
    return raw


def get_choice(name: str, default: str, choices: list[str]) -> str:
    """One of ``choices`` (case-insensitive; returned as listed)."""
    raw = get_str(name, default)
    by_upper = {choice.upper(): choice for choice in choices}
    if raw.upper() not in by_upper:
        raise ImproperlyConfigured(f"{name}={raw!r} must be one of {', '.join(choices)}.")
    return by_upper[raw.upper()]


def get_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def get_database(name: str, default_sqlite_path: Path) -> dict:
    """``DATABASE_URL`` or an embedded SQLite file."""
    # Read even when unused, so a malformed value fails now rather than on the day it matters.
    conn_max_age = get_int("DATABASE_CONN_MAX_AGE", 60, minimum=0)
    raw = get_str(name)
    if not raw:
        return {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(default_sqlite_path),
            "OPTIONS": {
                # WAL lets the dev server read while a seed or import writes.
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
            },
        }
    scheme = raw.split("://", 1)[0].lower() if "://" in raw else ""
    if scheme not in _DATABASE_SCHEMES:
        raise ImproperlyConfigured(
            f"{name} must look like postgres://user:password@host:5432/dbname "
            f"(or sqlite:////absolute/path.db); got scheme {scheme or 'none'!r}."
        )
    try:
        config = env.db_url_config(raw)
    except Exception as exc:  # django-environ raises assorted errors on garbage
        raise ImproperlyConfigured(f"{name} could not be parsed: {exc}") from exc
    if config["ENGINE"].endswith("postgresql"):
        config.setdefault("CONN_MAX_AGE", conn_max_age)
        config["CONN_HEALTH_CHECKS"] = True
    return config


def get_redis_url(name: str) -> str:
    raw = get_str(name)
    if raw and raw.split("://", 1)[0].lower() not in _REDIS_SCHEMES:
        raise ImproperlyConfigured(f"{name} must look like redis://host:6379/0; got {raw!r}.")
    return raw


def get_email(name: str, file_path: Path) -> dict:
    raw = get_str(name)
    if not raw:
        return {
            "EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
            "EMAIL_FILE_PATH": str(file_path),
        }
    try:
        config = env.email_url_config(raw)
    except Exception as exc:
        raise ImproperlyConfigured(f"{name} could not be parsed: {exc}") from exc
    return config
