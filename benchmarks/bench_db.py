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
