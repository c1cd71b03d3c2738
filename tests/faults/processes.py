"""Processes a fault test starts and always kills: Celery workers, beat, gunicorn.

Each runs in a session of its own (``start_new_session``), against the test's database (its
``NAME`` during the test), with ``tests/faults/settings.py`` and the test's storage and keys
passed in the environment. ``Process.kill()`` sends SIGKILL to the whole group: what an
out-of-memory killer or a pulled plug does, no shutdown handler runs.
"""

import contextlib
import fcntl
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.core.files.storage import storages

from core.sms import BaseSMSBackend

ROOT = Path(__file__).resolve().parents[2]


class FileSMSBackend(BaseSMSBackend):
    """Appends ``phone<TAB>text`` to ``$FAULTS_SMS_LOG``: what the workers sent, once each."""

    def send(self, phone: str, text: str) -> None:
        with open(os.environ["FAULTS_SMS_LOG"], "a", encoding="utf-8") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            handle.write(f"{phone}\t{text}\n")


def sms_lines(path: Path) -> list[tuple[str, str]]:
    if not path.exists():
        return []
    return [tuple(line.split("\t", 1)) for line in path.read_text("utf-8").splitlines()]


def database_url(*, port: int | None = None) -> str:
    """The URL of the test database (optionally through a proxy on ``port``)."""
    db = settings.DATABASES["default"]
    user = quote(db.get("USER") or "")
    password = f":{quote(db['PASSWORD'])}" if db.get("PASSWORD") else ""
    host = db.get("HOST") or "127.0.0.1"
    return f"postgres://{user}{password}@{host}:{port or db.get('PORT') or 5432}/{db['NAME']}"


def environment(tmp_path: Path, **extra: str) -> dict[str, str]:
    """What a started process needs to share the test's database, files, broker and keys."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.faults.settings",
        "PYTHONPATH": str(ROOT),
        "DATABASE_URL": database_url(),
        "FAULTS_MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "FAULTS_PRIVATE_ROOT": str(storages["private"].location),
        "FAULTS_EXPORT_DIR": str(tmp_path / "exports"),
        "FAULTS_SMS_LOG": str(tmp_path / "sms.log"),
        "FAULTS_PAUSE_DIR": str(tmp_path),
        "DJANGO_SECRET_KEY": settings.SECRET_KEY,
        "FIELD_ENCRYPTION_KEYS": ",".join(settings.FIELD_ENCRYPTION_KEYS),
        "ID_HASH_KEY": settings.ID_HASH_KEY,
        "LEDGER_HMAC_KEY": settings.LEDGER_HMAC_KEY,
        "EXPORT_SIGNING_KEY": settings.EXPORT_SIGNING_KEY,
        "LOG_LEVEL": "INFO",
        "LOG_FORMAT": "text",
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("FAULTS_PAUSE", None)
    env.update(extra)
    return env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Process:
    """A started process; its output goes to ``log`` (shown when a wait fails)."""

    def __init__(self, name: str, args: list[str], env: dict, log: Path):
        self.name = name
        self.log = log
        self._handle = open(log, "ab")  # noqa: SIM115 - closed in kill()
        self.popen = subprocess.Popen(
            args,
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def kill(self) -> None:
        """SIGKILL to the process group; wait for it; idempotent."""
        if self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(timeout=10)
        if not self._handle.closed:
            self._handle.close()

    def tail(self, lines: int = 40) -> str:
        try:
            text = self.log.read_text("utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


def celery_worker(tmp_path: Path, name: str, *, app="config", pool="solo", concurrency=1, **env):
    args = [
        sys.executable, "-m", "celery", "-A", app, "worker",
        "--pool", pool, "--concurrency", str(concurrency), "--loglevel", "INFO",
        "--without-heartbeat", "--without-mingle", "--without-gossip",
        "--hostname", f"{name}@faults",
    ]  # fmt: skip
    return Process(name, args, environment(tmp_path, **env), tmp_path / f"{name}.log")


def celery_beat(tmp_path: Path, name: str, **env):
    args = [
        sys.executable, "-m", "celery", "-A", "config", "beat", "--loglevel", "INFO",
        "--pidfile", str(tmp_path / f"{name}.pid"),
    ]  # fmt: skip
    return Process(name, args, environment(tmp_path, **env), tmp_path / f"{name}.log")


def gunicorn(tmp_path: Path, name: str, *, port: int, **env):
    args = [
        sys.executable, "-m", "gunicorn", "config.wsgi:application",
        "--bind", f"127.0.0.1:{port}", "--workers", "1", "--threads", "4",
        "--worker-class", "gthread", "--timeout", "30", "--graceful-timeout", "1",
        "--no-control-socket",
    ]  # fmt: skip
    return Process(name, args, environment(tmp_path, **env), tmp_path / f"{name}.log")


def wait_for(predicate, *, timeout: float, what: str, processes=()):
    """Poll ``predicate`` (every 0.1 s) until it returns something true, or fail the test
    saying ``what`` was awaited, with the end of each process's log."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        for process in processes:
            if not process.alive():
                pytest.fail(
                    f"{process.name} exited ({process.popen.returncode}) while waiting "
                    f"for {what}:\n{process.tail()}"
                )
        if time.monotonic() >= deadline:
            logs = "\n".join(f"--- {p.name} ---\n{p.tail()}" for p in processes)
            pytest.fail(f"{what}: not within {timeout} s\n{logs}")
        time.sleep(0.1)
