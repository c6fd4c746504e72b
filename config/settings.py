"""Django settings for Tenure.

One codebase, two ways to run: with nothing configured Tenure is an embedded single-process
site (SQLite under ``var/``, eager Celery tasks, file email); with ``DATABASE_URL`` and
``REDIS_URL`` it is a production deployment (PostgreSQL, Redis broker and cache, Celery worker
and beat). Every variable is documented in ``.env.example``.
"""

from __future__ import annotations

from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from config import env

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env.get_str("TENURE_VAR_DIR") or BASE_DIR / "var")
env.read_dotenv(BASE_DIR / ".env")
# The embedded database, outgoing mail and collected static files all live here.
for _sub in ("", "mail", "static"):
    (VAR_DIR / _sub).mkdir(parents=True, exist_ok=True)

DEBUG = env.get_bool("DEBUG", default=True)
SECRET_KEY = env.get_str("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
    SECRET_KEY = "insecure-embedded-development-key-do-not-use-in-production"  # noqa: S105

LOCAL_HOSTS = ["127.0.0.1", "localhost", "[::1]"]
ALLOWED_HOSTS = env.get_list("ALLOWED_HOSTS", LOCAL_HOSTS if DEBUG else [])
if DEBUG and not env.is_set("DEBUG") and set(ALLOWED_HOSTS) - set(LOCAL_HOSTS):
    # Fail closed: a deploy that names its public host but forgot DEBUG would otherwise serve
    # debug pages signed with the embedded key above.
    raise ImproperlyConfigured(
        "ALLOWED_HOSTS names hosts beyond this machine but DEBUG is not set: set DEBUG=false "
        "(and SECRET_KEY) for production, or DEBUG=true to serve them with debug pages."
    )
CSRF_TRUSTED_ORIGINS = env.get_list("CSRF_TRUSTED_ORIGINS", [])
# How many trusted proxies stand before the web processes (the TLS proxy: 1). The client
# address the log-in and reset throttles count is then the one the nearest proxy saw.
TENURE_PROXY_HOPS = env.get_int("TENURE_PROXY_HOPS", 0, minimum=0)
# Survey links and emails are built on SITE_URL; left unset, it follows the port `make run`
# serves on (PORT), so a second instance on another port links to itself, not to :8000.
SITE_URL = env.get_site_url("SITE_URL", f"http://127.0.0.1:{env.get_int('PORT', 8000, minimum=1)}")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "template_partials",
    "accounts",
    "customers",
    "surveys",
    "metrics",
    "health",
    "loyalty",
    "demo",  # builds on the domain apps above; none of them imports it
    "ninja",  # the API docs page then uses its bundled Swagger UI, not a CDN
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "config.middleware.HtmxVaryMiddleware",
]

# Content-Security-Policy on every response (django-csp). Scripts come only from our own static
# files: no inline code, no eval (htmx is told not to use it, charts are drawn from JSON by
# static scripts). Styles allow inline because plotly.js writes <style> rules and style
# attributes as it draws; that lets no script run. docs/architecture.md, "Content-Security-Policy".
SELF = "'self'"
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF, "'unsafe-inline'"],
        "img-src": [SELF, "data:"],
        "font-src": [SELF, "data:"],
        "connect-src": [SELF],
        "object-src": ["'none'"],
        "base-uri": [SELF],
        "frame-ancestors": ["'none'"],
        "form-action": [SELF],
    }
}

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
            ],
            "builtins": ["template_partials.templatetags.partials"],
        },
    }
]

DATABASES = {"default": env.get_database("DATABASE_URL", VAR_DIR / "tenure.sqlite3")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # The survey invitations' covering index (INCLUDE) is a PostgreSQL speed-up; SQLite builds
    # the same index without the extra column, which is all the embedded mode needs.
    SILENCED_SYSTEM_CHECKS = ["models.W040"]

REDIS_URL = env.get_redis_url("REDIS_URL")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "tenure",
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "accounts:login"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en"
LANGUAGES = [
    ("en", "English"),
    ("nb", "Norsk bokmål"),
    ("sv", "Svenska"),
    ("zh-hans", "简体中文"),
    ("ru", "Русский"),
]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATICFILES_FINDERS = [
    "django.contrib.staticfiles.finders.FileSystemFinder",
    "django.contrib.staticfiles.finders.AppDirectoriesFinder",
    "config.staticfiles.PlotlyFinder",
]
WHITENOISE_USE_FINDERS = DEBUG

MEDIA_ROOT = VAR_DIR / "media"

_email = env.get_email("EMAIL_URL", VAR_DIR / "mail")
EMAIL_BACKEND = _email.pop("EMAIL_BACKEND")
for _key, _value in _email.items():
    globals()[_key] = _value
PASSWORD_RESET_TIMEOUT = 60 * 60 * 3  # a reset link works for three hours
DEFAULT_FROM_EMAIL = env.get_str("DEFAULT_FROM_EMAIL", "Tenure <tenure@localhost>")

# Celery: eager in the embedded mode so a fresh clone needs no broker; JSON only, so a task
# payload is always a plain id that a worker on another version can still read.
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_TASK_ALWAYS_EAGER = env.get_bool("CELERY_TASK_ALWAYS_EAGER", default=not REDIS_URL)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
CELERY_TIMEZONE = "UTC"
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}

SESSION_COOKIE_HTTPONLY = True
# Messages live in the session, not a cookie: one of them carries a new API key, shown once.
MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage"
CSRF_COOKIE_HTTPONLY = False  # htmx reads nothing from it: the token travels in hx-headers.
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
if not DEBUG:
    SESSION_COOKIE_SECURE = env.get_bool("SECURE_COOKIES", default=True)
    CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
    # Behind a TLS-terminating proxy that sets (and overwrites) X-Forwarded-Proto.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    if SESSION_COOKIE_SECURE:  # served over HTTPS: keep it that way
        SECURE_SSL_REDIRECT = env.get_bool("SECURE_SSL_REDIRECT", default=True)
        SECURE_REDIRECT_EXEMPT = [r"^healthz$"]  # load balancers probe over plain HTTP
        SECURE_HSTS_SECONDS = env.get_int("SECURE_HSTS_SECONDS", 365 * 24 * 3600, minimum=0)

TENURE_BASE_CURRENCY = env.get_currency("TENURE_BASE_CURRENCY", "USD")

LOG_LEVELS = ["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.get_choice("LOG_LEVEL", "INFO", LOG_LEVELS)},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
