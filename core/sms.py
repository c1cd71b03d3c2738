"""SMS backends. Pluggable through ``CHENGNUO_SMS_BACKEND``; the console one for development.

A real gateway subclasses ``BaseSMSBackend`` and implements ``send``.
"""

import logging

from django.conf import settings
from django.core.cache import cache
from django.utils.module_loading import import_string

logger = logging.getLogger("chengnuo.sms")


class BaseSMSBackend:
    def send(self, phone: str, text: str) -> None:
        raise NotImplementedError


class ConsoleSMSBackend(BaseSMSBackend):
    """Writes the message to the log, and keeps the last one per number for the demo page."""

    def send(self, phone: str, text: str) -> None:
        logger.warning("SMS to %s: %s", phone, text)
        print(f"[SMS] to {phone}: {text}", flush=True)  # noqa: T201 - development console
        cache.set(f"sms-outbox:{phone}", text, 600)


class MemorySMSBackend(BaseSMSBackend):
    """Keeps messages in a list, for tests."""

    outbox: list[tuple[str, str]] = []

    def send(self, phone: str, text: str) -> None:
        MemorySMSBackend.outbox.append((phone, text))


def sms_send(phone: str, text: str) -> None:
    import_string(settings.CHENGNUO_SMS_BACKEND)().send(phone, text)


def last_console_sms(phone: str) -> str | None:
    """The last message the console backend sent to ``phone`` (development only)."""
    if settings.CHENGNUO_SMS_BACKEND != "core.sms.ConsoleSMSBackend":
        return None
    return cache.get(f"sms-outbox:{phone}")
