"""What every benchmark does to its PostgreSQL server: make and drop its own database next to
the one ``DATABASE_URL`` names (that one is never touched)."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit


def with_db(url: str, name: str) -> str:
    """``url`` pointing at database ``name`` instead."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))


def admin_execute(base_url: str, sql: str) -> None:
    """Run ``sql`` outside any transaction on the server's ``postgres`` database (CREATE and
    DROP DATABASE cannot run inside one)."""
    import psycopg

    parts = urlsplit(base_url)
    with psycopg.connect(
        host=parts.hostname or "127.0.0.1",
        port=parts.port or 5432,
        user=parts.username or "postgres",
        password=parts.password,
        dbname="postgres",
        autocommit=True,
    ) as conn:
        conn.execute(sql)


def fresh_database(name: str) -> str:
    """Point this process at a new, empty database ``name`` on DATABASE_URL's PostgreSQL
    server (dropped first if a run left it), with benchmark-only settings; returns the
    original URL, to drop ``name`` through at the end."""
    import os
    import sys

    base_url = os.environ.get("DATABASE_URL", "")
    if not base_url.startswith("postgres"):
        sys.exit("Set DATABASE_URL to a PostgreSQL server: the figure is about PostgreSQL.")
    admin_execute(base_url, f"DROP DATABASE IF EXISTS {name}")
    admin_execute(base_url, f"CREATE DATABASE {name}")
    os.environ["DATABASE_URL"] = with_db(base_url, name)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("DEBUG", "false")
    os.environ.setdefault("SECRET_KEY", "benchmark-only-secret-key-not-for-production-use-xx")
    return base_url
