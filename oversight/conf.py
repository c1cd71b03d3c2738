"""Settings of the oversight app, each with its default.

Read through these functions (never at import time) so ``override_settings`` in tests takes
effect. Every name can be set in the Django settings as ``CHENGNUO_OVERSIGHT_<NAME>``.
"""

from django.conf import settings


def _get(name: str, default):
    return getattr(settings, f"CHENGNUO_OVERSIGHT_{name}", default)


# ---- catalog lists ---------------------------------------------------------------------


def list_max_bytes() -> int:
    """The largest list file accepted for upload (a 50,000-row list is about 3 MB)."""
    return int(_get("LIST_MAX_BYTES", 20 * 1024 * 1024))


def list_max_rows() -> int:
    """The most rows (header excluded) a list may have; reading stops past it."""
    return int(_get("LIST_MAX_ROWS", 100_000))


def list_max_uncompressed() -> int:
    """The largest total size of the XLSX's parts once unzipped (a zip bomb is refused)."""
    return int(_get("LIST_MAX_UNCOMPRESSED", 256 * 1024 * 1024))


def list_max_shared_strings() -> int:
    """openpyxl holds the shared-string table in memory even in read-only mode: cap it."""
    return int(_get("LIST_MAX_SHARED_STRINGS", 32 * 1024 * 1024))


def list_max_errors() -> int:
    """The most row errors kept for the report (all are counted)."""
    return int(_get("LIST_MAX_ERRORS", 1000))


# ---- complaints ------------------------------------------------------------------------


def complaint_attachment_max_bytes() -> int:
    return int(_get("ATTACHMENT_MAX_BYTES", 5 * 1024 * 1024))


def complaint_max_attachments() -> int:
    return int(_get("MAX_ATTACHMENTS", 5))


def complaint_rate_limit() -> tuple[int, int]:
    """How many complaints one IP address may file, and in how many seconds."""
    count, seconds = _get("COMPLAINT_RATE", (10, 3600))
    return int(count), int(seconds)


def correction_working_days() -> int:
    """The default deadline for a correction, in working days after forwarding."""
    return int(_get("CORRECTION_WORKING_DAYS", 10))
