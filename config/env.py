"""Strict reading of the environment.

django-environ parses values, but it happily turns ``DEBUG=maybe`` into ``False`` and lets a
typo in ``DATABASE_URL`` surface as a confusing driver error much later. These helpers fail at
start-up with a message that names the variable, so a mis-configured deploy never half-starts.
"""

from __future__ import annotations

import os
from pathlib import Path

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


def get_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def get_database(name: str, default_sqlite_path: Path) -> dict:
    """``DATABASE_URL`` or an embedded SQLite file."""
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
        config.setdefault("CONN_MAX_AGE", get_int("DATABASE_CONN_MAX_AGE", 60, minimum=0))
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
