"""Keys and ID numbers never reach a log line.

``install()`` (called from ``CoreConfig.ready`` in every process: web, worker, beat, commands)
wraps the log-record factory, so every record is cleaned when it is made, whichever handler,
formatter or library later writes it (Celery replaces the root handlers in a worker, so a
handler filter alone would miss those lines). The message is rendered once, the known key
values (``SECRET_KEY`` and its fallbacks, the field-encryption keys, the ID-hash, ledger and
export keys) are replaced by ``[redacted]``, and anything shaped like a resident ID number
(18 characters: 17 digits and a digit or X) is masked as on screen (``110105********002X``).
An exception's text is rendered and cleaned the same way.
"""

import logging
import re
import traceback

from django.conf import settings

REDACTED = "[redacted]"
KEY_SETTINGS = (
    "SECRET_KEY",
    "SECRET_KEY_FALLBACKS",
    "FIELD_ENCRYPTION_KEYS",
    "ID_HASH_KEY",
    "LEDGER_HMAC_KEY",
    "LEDGER_HMAC_KEY_FALLBACKS",
    "EXPORT_SIGNING_KEY",
    "EXPORT_SIGNING_KEY_FALLBACKS",
)
# Not inside a longer run of letters or digits (a hash, a token): that is not an ID number.
ID_NUMBER_SHAPE = re.compile(r"(?<![0-9A-Za-z])([0-9]{6})[0-9]{8}([0-9]{3}[0-9Xx])(?![0-9A-Za-z])")
# Shorter values are not worth scanning for (and would redact ordinary words).
MIN_SECRET_LENGTH = 12


def _secrets() -> list[str]:
    values = []
    if not settings.configured:
        return values
    for name in KEY_SETTINGS:
        value = getattr(settings, name, None)
        for item in value if isinstance(value, list | tuple) else [value]:
            if isinstance(item, str) and len(item) >= MIN_SECRET_LENGTH:
                values.append(item)
    # Longest first, so a key that contains another is replaced whole.
    return sorted(set(values), key=len, reverse=True)


def redact(text: str) -> str:
    """``text`` with key values replaced and ID-number-shaped strings masked."""
    if not text:
        return text
    for secret in _secrets():
        if secret in text:
            text = text.replace(secret, REDACTED)
    return ID_NUMBER_SHAPE.sub(lambda m: m.group(1) + "*" * 8 + m.group(2)[-4:], text)


class RedactingFilter(logging.Filter):
    """The same cleaning as a handler filter, for ``LOGGING`` configurations that want it."""

    def filter(self, record: logging.LogRecord) -> bool:
        clean_record(record)
        return True


def clean_record(record: logging.LogRecord) -> None:
    if getattr(record, "_chengnuo_redacted", False):
        return
    if isinstance(record.msg, dict) and not record.args:
        # A structured message (python-json-logger merges its keys into the line): keep the
        # dict, clean its text values.
        record.msg = {
            key: redact(value) if isinstance(value, str) else value
            for key, value in record.msg.items()
        }
    else:
        _clean_text(record)
    if record.exc_info:
        if not record.exc_text:
            text = "".join(traceback.format_exception(*record.exc_info)).rstrip()
            record.exc_text = redact(text)
        # Formatters fall back to ``exc_text``; none can render the raw exception again.
        record.exc_info = None
    if record.stack_info:
        record.stack_info = redact(record.stack_info)
    record._chengnuo_redacted = True


def _clean_text(record: logging.LogRecord) -> None:
    try:
        message = record.getMessage()
    except Exception:  # noqa: BLE001 - a broken format string is logged as it is
        message = str(record.msg)
    record.msg = redact(message)
    record.args = ()


_installed = False


def install() -> None:
    """Clean every log record at creation (idempotent)."""
    global _installed
    if _installed:
        return
    previous = logging.getLogRecordFactory()

    def factory(*args, **kwargs):
        record = previous(*args, **kwargs)
        clean_record(record)
        return record

    logging.setLogRecordFactory(factory)
    _installed = True
