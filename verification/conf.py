"""Settings of the verification app, each with its default.

Read through these functions (never at import time) so ``override_settings`` in tests takes
effect. Every name can be set in the Django settings as ``CHENGNUO_VERIFICATION_<NAME>``.
"""

from django.conf import settings


def _get(name: str, default):
    return getattr(settings, f"CHENGNUO_VERIFICATION_{name}", default)


def publish_working_days() -> int:
    """Working days after a draw by which its results are on the public page (local rule: 20)."""
    return int(_get("PUBLISH_WORKING_DAYS", 20))


def evidence_max_bytes() -> int:
    return int(_get("EVIDENCE_MAX_BYTES", 10 * 1024 * 1024))


def evidence_max_files() -> int:
    return int(_get("EVIDENCE_MAX_FILES", 10))


def evidence_types() -> dict[str, str]:
    """Accepted evidence types, sniffed from the content: MIME type → file extension."""
    return dict(
        _get(
            "EVIDENCE_TYPES",
            {
                "application/pdf": "pdf",
                "image/png": "png",
                "image/jpeg": "jpg",
                "image/webp": "webp",
            },
        )
    )


def default_adapter() -> str:
    """The data-source adapter of a matter that has none configured."""
    return _get("DEFAULT_ADAPTER", "verification.adapters.LocalRegistryAdapter")


def default_dataset() -> str:
    return _get("DEFAULT_DATASET", "")


def follow_up_chunk() -> int:
    return int(_get("FOLLOW_UP_CHUNK", 500))


def draw_work_mem() -> str:
    """PostgreSQL ``work_mem`` for the draw's transaction (its sorts stay in memory)."""
    return str(_get("DRAW_WORK_MEM", "64MB"))
