"""Configuration fails loudly and early, naming the variable that is wrong."""

import subprocess
import sys

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


def settings_of(base_dir, environment: dict, *names: str) -> subprocess.CompletedProcess:
    """Load the settings in a fresh process with only ``environment`` set and print
    ``names``' values, one repr a line: start-up checks run on import, once per process."""
    code = "from django.conf import settings\n" + "".join(
        f"print(repr(getattr(settings, {name!r}, None)))\n" for name in names
    )
    return subprocess.run(
        [sys.executable, "-c", code],
        env={"DJANGO_SETTINGS_MODULE": "config.settings", "PATH": "/usr/bin", **environment},
        capture_output=True,
        text=True,
        cwd=str(base_dir),
    )


def test_production_without_a_secret_key_refuses_to_start(settings):
    result = settings_of(settings.BASE_DIR, {"DEBUG": "false"}, "DEBUG")
    assert result.returncode != 0
    assert "SECRET_KEY must be set when DEBUG is off" in result.stderr


def test_naming_a_public_host_without_setting_debug_refuses_to_start(settings):
    result = settings_of(settings.BASE_DIR, {"ALLOWED_HOSTS": "tenure.example.com"}, "DEBUG")
    assert result.returncode != 0
    assert "ALLOWED_HOSTS names hosts beyond this machine but DEBUG is not set" in result.stderr

    on_purpose = {"ALLOWED_HOSTS": "tenure.example.com", "DEBUG": "true"}
    assert settings_of(settings.BASE_DIR, on_purpose, "DEBUG").stdout == "True\n"
    local = {"ALLOWED_HOSTS": "127.0.0.1,localhost"}
    assert settings_of(settings.BASE_DIR, local, "DEBUG").stdout == "True\n"


def test_production_keeps_browsers_on_https_except_for_the_health_check(settings):
    production = {"DEBUG": "false", "SECRET_KEY": "x" * 50, "ALLOWED_HOSTS": "tenure.example.com"}
    names = ["SECURE_SSL_REDIRECT", "SECURE_REDIRECT_EXEMPT", "SECURE_HSTS_SECONDS"]
    names += ["SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE", "MESSAGE_STORAGE"]

    result = settings_of(settings.BASE_DIR, production, *names)

    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "True",
        "['^healthz$']",
        "31536000",
        "True",
        "True",
        "'django.contrib.messages.storage.session.SessionStorage'",
    ]
    plain_http = {**production, "SECURE_COOKIES": "false"}
    assert settings_of(settings.BASE_DIR, plain_http, "SECURE_HSTS_SECONDS").stdout == "0\n"


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


def test_the_embedded_site_url_follows_the_port_it_is_served_on(settings):
    result = settings_of(settings.BASE_DIR, {"PORT": "8790"}, "SITE_URL")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["'http://127.0.0.1:8790'"]


def test_a_site_url_that_is_set_wins_over_the_port(settings):
    environment = {"PORT": "8790", "SITE_URL": "https://tenure.example.com"}
    result = settings_of(settings.BASE_DIR, environment, "SITE_URL")
    assert result.stdout.split() == ["'https://tenure.example.com'"]
