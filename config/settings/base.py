"""Settings shared by every mode. Environment variables choose everything that differs.

- ``DATABASE_URL``: PostgreSQL in production (``postgres://user@host:5432/name``);
  unset means SQLite in the checkout (``db.sqlite3``).
- ``CELERY_BROKER_URL``: Redis or RabbitMQ in production; unset means kombu's filesystem
  transport under ``var/broker`` (no server needed).
- ``CACHE_URL``: a shared cache (Redis) for rate limits across processes.
- Keys: ``DJANGO_SECRET_KEY``, ``FIELD_ENCRYPTION_KEYS`` (comma-separated Fernet keys, newest
  first), ``ID_HASH_KEY``, ``LEDGER_HMAC_KEY``, ``EXPORT_SIGNING_KEY``.
"""

from pathlib import Path

import environ
from django.utils.translation import gettext_lazy as _

from core.logging import logging_config

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    # Staff two-factor sign-in: TOTP authenticators and recovery codes (static tokens).
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "simple_history",
    "core",
    "accounts",
    "credit",
    "pledges",
    "verification",
    "oversight",
]

MIDDLEWARE = [
    # First: every answer, redirects and refusals included, has a request id and is counted.
    "core.request_id.RequestIdMiddleware",
    "core.metrics.PrometheusMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # Staff sessions reach nothing but the second-factor step until it is passed.
    "accounts.middleware.StaffTwoFactorMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    "core.middleware.RequestContextMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "pledges:home"
LOGOUT_REDIRECT_URL = "pledges:home"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.template.context_processors.csp",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "core.context_processors.roles",
                "core.context_processors.display_mode",
            ],
        },
    },
]


def sqlite_database(path: Path) -> dict:
    """SQLite tuned for concurrent requests: WAL, IMMEDIATE transactions, a busy timeout."""
    return {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": str(path),
        "OPTIONS": {
            "transaction_mode": "IMMEDIATE",
            "timeout": 30,
            "init_command": (
                "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=30000;"
            ),
        },
    }


if env.str("DATABASE_URL", default=""):
    DATABASES = {"default": env.db("DATABASE_URL")}
    if DATABASES["default"]["ENGINE"].endswith("postgresql"):
        DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
        DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
        if env.bool("DB_POOL", default=False):
            # Django's psycopg pool (needs psycopg-pool) instead of one persistent connection
            # per process: useful with threaded workers. Pooling excludes CONN_MAX_AGE.
            DATABASES["default"]["CONN_MAX_AGE"] = 0
            DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
                "min_size": env.int("DB_POOL_MIN_SIZE", default=1),
                "max_size": env.int("DB_POOL_MAX_SIZE", default=4),
                "timeout": env.int("DB_POOL_TIMEOUT", default=10),
            }
else:
    DATABASES = {"default": sqlite_database(BASE_DIR / "db.sqlite3")}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", _("Simplified Chinese")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "staticfiles"
MEDIA_ROOT = VAR_DIR / "media"
MEDIA_URL = "media/"
PRIVATE_ROOT = env.path("PRIVATE_ROOT", default=str(VAR_DIR / "private"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # Signatures, scans, evidence and rendered PDFs: outside the web root, served only
    # through views that check who is asking.
    "private": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(PRIVATE_ROOT), "base_url": None},
    },
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
DATA_UPLOAD_MAX_MEMORY_SIZE = 12 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

CACHE_URL = env.str("CACHE_URL", default="")
if CACHE_URL:
    CACHES = {"default": env.cache("CACHE_URL")}
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
        }
    }

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "core.api.Pagination",
    "PAGE_SIZE": 20,
    "DEFAULT_SCHEMA_CLASS": "core.schema.AutoSchema",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "EXCEPTION_HANDLER": "core.api.exception_handler",
    "DEFAULT_THROTTLE_RATES": {
        "verify": "60/min",
        "otp": "10/hour",
        "public_form": "10/hour",
    },
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Chengnuo API",
    "DESCRIPTION": "Pledges in place of certificates (证明事项告知承诺制).",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # Several models call a field "status", "channel" or "kind": name each choice set.
    "ENUM_NAME_OVERRIDES": {
        "PledgeChannelEnum": "pledges.models.Channel",
        "PledgeStatusEnum": "pledges.models.PledgeStatus",
        "ComplaintChannelEnum": "oversight.models.ComplaintChannel",
        "ComplaintStatusEnum": "oversight.models.ComplaintStatus",
        "CheckTaskStatusEnum": "verification.models.TaskStatus",
        "CreditRecordKindEnum": "credit.models.RecordKind",
    },
}

# Celery: acks late, one message at a time, time limits, tasks safe to run twice.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://")
_broker_dir = VAR_DIR / "broker"
if CELERY_BROKER_URL.startswith("filesystem://"):
    for sub in ("queue", "processed", "control"):
        (_broker_dir / sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
else:
    # Above the longest task's hard limit, so a slow task is not delivered twice.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = 300
CELERY_TASK_TIME_LIMIT = 360
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True

EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="chengnuo@localhost")

# Logs: ``LOG_FORMAT=json`` (production's default) or ``text``; a request id on every line.
LOG_FORMAT = env.str("LOG_FORMAT", default="text")
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOGGING = logging_config(fmt=LOG_FORMAT, level=LOG_LEVEL)
# Workers log through LOGGING too (same format, request ids), not Celery's own set-up.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

# Operations (docs/production.md): who may read /metrics (addresses or networks).
METRICS_ALLOWED_IPS = env.str("METRICS_ALLOWED_IPS", default="127.0.0.1,::1")

# Queues per kind of work, opt-in: the embedded default runs one worker that consumes the
# default queue only, so routing stays off unless CELERY_ROUTE_BY_KIND=1 (then run a worker
# per queue, or one with ``-Q default,print,credit,draws,reports``).
CELERY_ROUTE_BY_KIND = env.bool("CELERY_ROUTE_BY_KIND", default=False)
if CELERY_ROUTE_BY_KIND:
    CELERY_TASK_DEFAULT_QUEUE = "default"
    CELERY_TASK_ROUTES = {
        "pledges.tasks.*": {"queue": "print"},
        "credit.*": {"queue": "credit"},
        "verification.*": {"queue": "draws"},
        "oversight.*": {"queue": "reports"},
        "core.*": {"queue": "default"},
    }

# ---- Chengnuo -------------------------------------------------------------------------
# Pluggable backends.
CHENGNUO_SMS_BACKEND = env.str("CHENGNUO_SMS_BACKEND", default="core.sms.ConsoleSMSBackend")
CHENGNUO_REAL_NAME_BACKEND = env.str(
    "CHENGNUO_REAL_NAME_BACKEND", default="accounts.realname.LocalRegistryBackend"
)
# One-time codes (registration, password reset).
CHENGNUO_OTP_TTL_SECONDS = 300
CHENGNUO_OTP_MAX_ATTEMPTS = 5
# Failed logins allowed per username and IP within the window.
CHENGNUO_LOGIN_FAILURE_LIMIT = 5
CHENGNUO_LOGIN_FAILURE_WINDOW_SECONDS = 15 * 60
# Drawn signatures: PNG or JPEG data URI, at most this many bytes once decoded.
CHENGNUO_SIGNATURE_MAX_BYTES = 200 * 1024
# Printed pledge forms: copies and which of them mask the ID number (DOMAIN.md §1).
CHENGNUO_FORM_COPIES = env.int("CHENGNUO_FORM_COPIES", default=2)
# Demo data (accounts with a shared password) is refused under production settings.
CHENGNUO_DEMO_DATA_ALLOWED = True
CHENGNUO_PRODUCTION = False
# Public site address used in QR codes on printed forms.
CHENGNUO_PUBLIC_BASE_URL = env.str("CHENGNUO_PUBLIC_BASE_URL", default="http://127.0.0.1:8000")


# ---- Security and privacy (issue 7; docs/security.md) ----------------------------------
from django.utils.csp import CSP  # noqa: E402

# Sessions end after this much inactivity (every request renews them); staff sooner.
SESSION_COOKIE_AGE = env.int("CHENGNUO_SESSION_IDLE_SECONDS", default=30 * 60)
SESSION_SAVE_EVERY_REQUEST = True
SESSION_COOKIE_HTTPONLY = True
CHENGNUO_STAFF_SESSION_IDLE_SECONDS = env.int(
    "CHENGNUO_STAFF_SESSION_IDLE_SECONDS", default=15 * 60
)
# Staff two-factor sign-in (django-otp): the password step is good for this long.
CHENGNUO_TWO_FACTOR_PENDING_SECONDS = 300
CHENGNUO_RECOVERY_CODE_COUNT = 10
OTP_TOTP_ISSUER = "Chengnuo"
OTP_ADMIN_HIDE_SENSITIVE_DATA = True
# Content Security Policy (Django's own middleware): no inline script or style without the
# per-response nonce, nothing from other origins, no framing.
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF, CSP.NONCE],
    "img-src": [CSP.SELF, "data:"],
    "font-src": [CSP.SELF],
    "connect-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.NONE],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
}


def _rate(name: str, default: str) -> str | None:
    """A DRF rate from the environment; ``off`` turns that throttle off."""
    value = env.str(name, default=default).strip()
    return None if value.lower() in ("", "off", "none") else value


# The API per token (authenticated) and per address (anonymous): fixed windows, O(1) each.
# Counters in the shared cache when there is one; else in each process's memory (a round
# trip to the file cache costs ~1.8 ms a request, locmem ~0.03 ms).
CACHES["throttle"] = (
    dict(CACHES["default"])
    if CACHE_URL
    else {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
        "LOCATION": "chengnuo-throttle",
    }
)
REST_FRAMEWORK["DEFAULT_THROTTLE_CLASSES"] = [
    "core.throttling.TokenRateThrottle",
    "core.throttling.AnonymousRateThrottle",
]
REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"].update(
    {
        "user": _rate("CHENGNUO_API_RATE_USER", "10000/min"),
        "anon": _rate("CHENGNUO_API_RATE_ANON", "2000/min"),
    }
)

# Agents' authorisation scans (代办授权书): PDF, JPEG or PNG up to this size.
CHENGNUO_AGENT_SCAN_MAX_BYTES = env.int("CHENGNUO_AGENT_SCAN_MAX_BYTES", default=5 * 1024 * 1024)

# How long a window clerk's lookup of a resident by ID number opens that resident's online
# pledges to the clerk (docs/access.md): a working day.
CHENGNUO_WINDOW_SERVICE_HOURS = env.int("CHENGNUO_WINDOW_SERVICE_HOURS", default=8)

# Retention (days) per record type; None keeps for ever. ``CHENGNUO_RETENTION_DAYS`` overrides
# entries, e.g. ``notifications=365,one_time_codes=2``. The audit log and the credit ledger
# are never in this table: the one is append-only, the other holds only hashes.
CHENGNUO_RETENTION = {
    "notifications": 730,
    "one_time_codes": 1,
    "idempotent_requests": 7,
    "background_jobs": 90,
    "withdrawn_pledge_contacts": 3 * 365,
    "agent_authorisation_scans": 5 * 365,
}
for _item in env.list("CHENGNUO_RETENTION_DAYS", default=[]):
    _name, _, _days = _item.partition("=")
    CHENGNUO_RETENTION[_name.strip()] = (
        None if _days.strip().lower() in ("", "none", "keep") else int(_days)
    )


def _key_list(name: str) -> list[str]:
    return [k.strip() for k in env.str(name, default="").split(",") if k.strip()]


def apply_keys(namespace: dict, values: dict[str, str]) -> None:
    """Put key material into the settings module namespace.

    ``*_FALLBACKS`` (comma-separated, from the environment) are older keys still accepted
    for verifying while a rotation runs; the first key signs. See docs/security.md.
    """
    namespace["SECRET_KEY"] = values["DJANGO_SECRET_KEY"]
    namespace["SECRET_KEY_FALLBACKS"] = _key_list("DJANGO_SECRET_KEY_FALLBACKS")
    namespace["FIELD_ENCRYPTION_KEYS"] = [
        k.strip() for k in values["FIELD_ENCRYPTION_KEYS"].split(",") if k.strip()
    ]
    namespace["ID_HASH_KEY"] = values["ID_HASH_KEY"]
    namespace["LEDGER_HMAC_KEY"] = values["LEDGER_HMAC_KEY"]
    namespace["LEDGER_HMAC_KEY_FALLBACKS"] = _key_list("LEDGER_HMAC_KEY_FALLBACKS")
    namespace["EXPORT_SIGNING_KEY"] = values["EXPORT_SIGNING_KEY"]
    namespace["EXPORT_SIGNING_KEY_FALLBACKS"] = _key_list("EXPORT_SIGNING_KEY_FALLBACKS")
