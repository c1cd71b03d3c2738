"""Liveness (``/healthz``) and readiness (``/readyz``) for load balancers and process managers.

``/healthz`` answers 200 as long as the process serves requests; it touches nothing else, so a
database outage does not make the supervisor restart healthy web processes. ``/readyz`` checks
what a request needs: the database, the broker, the private storage and a CJK font for the
printed forms. It answers 200 when all pass and 503 (with ``Retry-After``) when any fails, so
a load balancer sends no traffic to a process that cannot serve it.

Each check reports ``ok`` and its time in milliseconds; a failed one names the exception's
class only (the full message goes to the log, with the request id), so an outage does not
publish host names.
"""

import logging
import os
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.db import connections
from django.http import JsonResponse
from django.views.decorators.cache import never_cache

logger = logging.getLogger(__name__)

#: Seconds a broker check may take in all.
BROKER_TIMEOUT = 2.0
RETRY_AFTER_SECONDS = 5


def check_database() -> None:
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def check_broker() -> None:
    """Connect to ``CELERY_BROKER_URL``; for the filesystem transport, write into its folder."""
    url = settings.CELERY_BROKER_URL
    options = getattr(settings, "CELERY_BROKER_TRANSPORT_OPTIONS", {}) or {}
    if url.startswith("filesystem://"):
        folder = Path(options.get("data_folder_in") or ".")
        _assert_writable(folder)
        return
    from kombu import Connection

    with Connection(url, transport_options=options, connect_timeout=BROKER_TIMEOUT / 2) as conn:
        conn.ensure_connection(max_retries=0, timeout=BROKER_TIMEOUT)


def _assert_writable(folder: Path) -> None:
    with tempfile.NamedTemporaryFile(dir=folder, prefix=".readyz-", delete=True) as probe:
        probe.write(b"ok")
        probe.flush()


def check_storage() -> None:
    """Save and delete a small file in the private storage (signatures, PDFs, evidence)."""
    storage = storages["private"]
    name = storage.save(f"readyz/{uuid.uuid4().hex}.probe", ContentFile(b"ok"))
    try:
        if not storage.exists(name):
            raise OSError("the probe file was not stored")
    finally:
        storage.delete(name)


_fonts_found = False


def check_fonts() -> None:
    """fontconfig knows a Chinese font (the printed forms need one). Cached once found."""
    global _fonts_found
    if _fonts_found:
        return
    result = subprocess.run(
        ["fc-list", ":lang=zh", "family"],
        capture_output=True,
        text=True,
        timeout=5,
        check=True,
        env={**os.environ, "LC_ALL": "C.UTF-8"},
    )
    if not result.stdout.strip():
        raise LookupError("no font with Chinese coverage (install fonts-noto-cjk)")
    _fonts_found = True


CHECKS: dict[str, Callable[[], None]] = {
    "database": check_database,
    "broker": check_broker,
    "storage": check_storage,
    "fonts": check_fonts,
}


def run_checks(checks: dict[str, Callable[[], None]] | None = None) -> tuple[bool, dict]:
    """Run every check; ``(all passed, {name: {"ok": …, "ms": …, "error"?: …}})``."""
    results = {}
    for name, check in (checks or CHECKS).items():
        started = time.perf_counter()
        try:
            check()
        except Exception as exc:  # noqa: BLE001 - a failed check is an answer, not a crash
            logger.warning("readiness check %s failed: %r", name, exc)
            results[name] = {"ok": False, "error": type(exc).__name__}
        else:
            results[name] = {"ok": True}
        results[name]["ms"] = round((time.perf_counter() - started) * 1000, 1)
    return all(result["ok"] for result in results.values()), results


@never_cache
def healthz(request):
    """The process is up and serving. No database, no broker."""
    return JsonResponse({"status": "ok"})


@never_cache
def readyz(request):
    """Database, broker, storage and fonts: 200 when all are fine, else 503."""
    ready, results = run_checks()
    response = JsonResponse(
        {"status": "ok" if ready else "unavailable", "checks": results},
        status=200 if ready else 503,
    )
    if not ready:
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response
