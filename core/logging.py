"""Logging configuration: one JSON object per line in production, readable text in development.

``LOG_FORMAT=json`` (the production default) writes each record as JSON through
python-json-logger, with ``time``, ``level``, ``logger``, ``message``, ``request_id`` and any
``extra`` fields (the access log adds ``method``, ``path``, ``status``, ``view``,
``duration_ms``). ``LOG_FORMAT=text`` (the development default) writes one plain line.
Settings call ``logging_config``; nothing here imports Django models.
"""

from typing import Literal

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"
JSON_FIELDS = "%(levelname)s %(name)s %(message)s %(request_id)s"

# Attributes Django and Celery add to records that are objects, not facts worth a field.
_DROPPED_EXTRAS = ("request", "server_time")


def json_formatter(**kwargs):
    """python-json-logger's formatter with our field names (``LOGGING`` calls it via ``()``).

    The library is imported only when the configuration is applied.
    """
    from pythonjsonlogger.core import RESERVED_ATTRS
    from pythonjsonlogger.json import JsonFormatter

    return JsonFormatter(
        JSON_FIELDS,
        rename_fields={"levelname": "level", "name": "logger"},
        timestamp="time",  # ISO 8601 in UTC
        reserved_attrs=[*RESERVED_ATTRS, *_DROPPED_EXTRAS],
        json_ensure_ascii=False,
        **kwargs,
    )


def logging_config(*, fmt: Literal["json", "text"] = "text", level: str = "INFO") -> dict:
    """The ``LOGGING`` dict for ``fmt``; every record gets ``request_id`` from its context."""
    if fmt not in ("json", "text"):
        raise ValueError(f"LOG_FORMAT must be 'json' or 'text', not {fmt!r}")
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": "core.request_id.RequestIdFilter"}},
        "formatters": {
            "json": {"()": "core.logging.json_formatter"},
            "text": {"format": TEXT_FORMAT},
        },
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "filters": ["request_id"],
                "formatter": fmt,
            }
        },
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            "weasyprint": {"level": "WARNING"},
            "fontTools": {"level": "WARNING"},
            # One line per request. In development runserver already prints one, so the
            # access log is on only with JSON logs (gunicorn's own access log is then off).
            "chengnuo.access": {"level": "INFO" if fmt == "json" else "WARNING"},
        },
    }
