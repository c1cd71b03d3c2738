"""Settings of the credit app, each with its default from DOMAIN.md §3.

Read through these functions (never at import time) so ``override_settings`` in tests and a
change in the environment-driven settings both take effect. Every name can be set in the
Django settings as ``CHENGNUO_CREDIT_<NAME>``.
"""

from pathlib import Path

from django.conf import settings

#: Severity → whether records are published, the minimum period before repair may be applied
#: for, and the maximum period after which publication ends by itself (months from the
#: decision date). 信用修复管理办法 (NDRC, 2025): minor not published in principle and at most
#: 3 months; general 3 months to 1 year; serious 1 to 3 years.
DEFAULT_PERIODS = {
    "minor": {"published": False, "min_months": 0, "max_months": 3},
    "general": {"published": True, "min_months": 3, "max_months": 12},
    "serious": {"published": True, "min_months": 12, "max_months": 36},
}


def _get(name: str, default):
    return getattr(settings, f"CHENGNUO_CREDIT_{name}", default)


def periods() -> dict:
    table = {key: dict(value) for key, value in DEFAULT_PERIODS.items()}
    for severity, override in (_get("PERIODS", {}) or {}).items():
        table.setdefault(severity, {}).update(override)
    return table


def hearing_working_days() -> int:
    """Working days the person has to state their case before the office decides."""
    return int(_get("HEARING_WORKING_DAYS", 5))


def objection_days() -> int:
    """Calendar days the office has to decide an objection (异议); overdue ones are flagged."""
    return int(_get("OBJECTION_DAYS", 20))


def repair_reply_working_days() -> int:
    """Working days the office has to reply to a repair application (信用修复)."""
    return int(_get("REPAIR_REPLY_WORKING_DAYS", 10))


def upload_max_bytes() -> int:
    return int(_get("UPLOAD_MAX_BYTES", 5 * 1024 * 1024))


def upload_max_files() -> int:
    return int(_get("UPLOAD_MAX_FILES", 5))


def upload_types() -> dict[str, str]:
    """Accepted upload types, sniffed from the content: MIME type → file extension."""
    return dict(
        _get(
            "UPLOAD_TYPES",
            {"application/pdf": "pdf", "image/png": "png", "image/jpeg": "jpg"},
        )
    )


def exporter_path() -> str:
    return _get("EXPORTER", "credit.exporters.JsonLinesFolderExporter")


def export_dir() -> Path:
    default = Path(getattr(settings, "VAR_DIR", Path(settings.BASE_DIR) / "var")) / "credit-exports"
    return Path(_get("EXPORT_DIR", default))


def export_batch_size() -> int:
    return int(_get("EXPORT_BATCH_SIZE", 500))


def push_max_attempts() -> int:
    """After this many failures a push stays failed and the office is alerted."""
    return int(_get("PUSH_MAX_ATTEMPTS", 10))


def verify_chunk_size() -> int:
    return int(_get("VERIFY_CHUNK_SIZE", 5000))
