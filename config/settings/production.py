"""Production: DEBUG off, every secret from the environment, hardened cookies and headers.

Required: DJANGO_SECRET_KEY, FIELD_ENCRYPTION_KEYS, ID_HASH_KEY, LEDGER_HMAC_KEY,
EXPORT_SIGNING_KEY, DJANGO_ALLOWED_HOSTS, DATABASE_URL, CELERY_BROKER_URL.
"""

from config.devkeys import KEY_NAMES

from .base import *  # noqa: F403
from .base import DATABASES, LOG_LEVEL, apply_keys, env, logging_config

DEBUG = False
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS")
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])
apply_keys(globals(), {name: env.str(name) for name in KEY_NAMES})

DATABASES["default"].setdefault("CONN_MAX_AGE", 60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True

SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SESSION_COOKIE_HTTPONLY = True
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
STORAGES = {  # noqa: F405
    **STORAGES,  # noqa: F405
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.ManifestStaticFilesStorage",
    },
}

CHENGNUO_DEMO_DATA_ALLOWED = False
CHENGNUO_PRODUCTION = True

# Operations (docs/production.md): JSON logs by default; probes and metrics answer over plain
# HTTP on the internal address (load balancers and Prometheus do not follow the redirect).
LOG_FORMAT = env.str("LOG_FORMAT", default="json")
LOGGING = logging_config(fmt=LOG_FORMAT, level=LOG_LEVEL)
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
