"""Configuration fails loudly and early, naming the variable that is wrong."""

import pytest
from django.core.exceptions import ImproperlyConfigured

from config import env


def test_it_reads_booleans_strictly(monkeypatch):
    monkeypatch.setenv("DEBUG", "maybe")
    with pytest.raises(ImproperlyConfigured, match="DEBUG='maybe' is not a boolean"):
        env.get_bool("DEBUG", default=True)


def test_it_accepts_common_boolean_spellings(monkeypatch):
    for raw, expected in [("yes", True), ("0", False), ("On", True), ("false", False)]:
        monkeypatch.setenv("DEBUG", raw)
        assert env.get_bool("DEBUG", default=not expected) is expected


def test_it_refuses_a_database_url_with_an_unknown_scheme(monkeypatch, tmp_path):
    monkeypatch.setenv("DATABASE_URL", "postgress://localhost/tenure")
    with pytest.raises(ImproperlyConfigured, match="DATABASE_URL must look like postgres://"):
        env.get_database("DATABASE_URL", tmp_path / "x.sqlite3")


def test_it_falls_back_to_an_embedded_sqlite_file(monkeypatch, tmp_path):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    config = env.get_database("DATABASE_URL", tmp_path / "x.sqlite3")
    assert config["ENGINE"] == "django.db.backends.sqlite3"
    assert config["NAME"] == str(tmp_path / "x.sqlite3")


def test_it_parses_a_postgres_url(monkeypatch, tmp_path):
    monkeypatch.setenv("DATABASE_URL", "postgres://u:p@db.internal:5433/tenure")
    config = env.get_database("DATABASE_URL", tmp_path / "x.sqlite3")
    assert config["ENGINE"] == "django.db.backends.postgresql"
    assert (config["HOST"], config["PORT"], config["NAME"]) == ("db.internal", 5433, "tenure")


def test_it_refuses_a_redis_url_that_is_not_redis(monkeypatch):
    monkeypatch.setenv("REDIS_URL", "http://localhost:6379")
    with pytest.raises(ImproperlyConfigured, match="REDIS_URL must look like redis://"):
        env.get_redis_url("REDIS_URL")


def test_it_refuses_a_non_numeric_integer(monkeypatch):
    monkeypatch.setenv("DATABASE_CONN_MAX_AGE", "sixty")
    with pytest.raises(ImproperlyConfigured, match="is not a whole number"):
        env.get_int("DATABASE_CONN_MAX_AGE", 60)


def test_production_without_a_secret_key_refuses_to_start(settings):
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-c", "import django; from django.conf import settings; settings.DEBUG"],
        env={"DEBUG": "false", "DJANGO_SETTINGS_MODULE": "config.settings", "PATH": "/usr/bin"},
        capture_output=True,
        text=True,
        cwd=str(settings.BASE_DIR),
    )
    assert result.returncode != 0
    assert "SECRET_KEY must be set when DEBUG is off" in result.stderr


def test_it_refuses_a_malformed_connection_age_even_when_sqlite_would_not_use_it(
    monkeypatch, tmp_path
):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("DATABASE_CONN_MAX_AGE", "abc")
    with pytest.raises(ImproperlyConfigured, match="DATABASE_CONN_MAX_AGE='abc'"):
        env.get_database("DATABASE_URL", tmp_path / "x.sqlite3")


def test_a_postgres_url_keeps_connections_for_the_configured_age(monkeypatch, tmp_path):
    monkeypatch.setenv("DATABASE_URL", "postgres://u:p@db.internal:5433/tenure")
    monkeypatch.setenv("DATABASE_CONN_MAX_AGE", "5")
    assert env.get_database("DATABASE_URL", tmp_path / "x.sqlite3")["CONN_MAX_AGE"] == 5


@pytest.mark.parametrize(
    "raw", ["127.0.0.1:8000", "tenure.example.com", "ftp://x.example", "https://"]
)
def test_it_refuses_a_site_url_that_is_not_absolute_http(monkeypatch, raw):
    monkeypatch.setenv("SITE_URL", raw)
    with pytest.raises(ImproperlyConfigured, match="SITE_URL must be an absolute URL"):
        env.get_site_url("SITE_URL", "http://127.0.0.1:8000")


def test_it_drops_the_trailing_slash_of_the_site_url(monkeypatch):
    monkeypatch.setenv("SITE_URL", "https://tenure.example.com/ ")
    assert env.get_site_url("SITE_URL", "") == "https://tenure.example.com"


def test_it_refuses_a_base_currency_that_is_not_a_code(monkeypatch):
    monkeypatch.setenv("TENURE_BASE_CURRENCY", "dollars")
    with pytest.raises(ImproperlyConfigured, match="three-letter currency code; got 'DOLLARS'"):
        env.get_currency("TENURE_BASE_CURRENCY", "USD")
    monkeypatch.setenv("TENURE_BASE_CURRENCY", "nok")
    assert env.get_currency("TENURE_BASE_CURRENCY", "USD") == "NOK"


def test_it_refuses_an_unknown_log_level(monkeypatch):
    monkeypatch.setenv("LOG_LEVEL", "verbose")
    with pytest.raises(ImproperlyConfigured, match="LOG_LEVEL='verbose' must be one of DEBUG"):
        env.get_choice("LOG_LEVEL", "INFO", ["DEBUG", "INFO"])
    monkeypatch.setenv("LOG_LEVEL", "debug")
    assert env.get_choice("LOG_LEVEL", "INFO", ["DEBUG", "INFO"]) == "DEBUG"
