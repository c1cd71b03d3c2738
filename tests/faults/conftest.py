"""Fault tests: servers cut behind proxies, workers killed, beat restarted.

They run only on CI's PostgreSQL + Redis run with ``CHENGNUO_REAL_WORKER=1`` (elsewhere the
collection hook of tests/conftest.py deselects them): they start real processes against the
test database and the broker. Every test is transactional with serialized rollback (the
started processes see only committed rows), and every process is killed at its end.
"""

from urllib.parse import urlsplit, urlunsplit

import pytest
from kombu.utils.url import url_to_parts

from config.celery import app


@pytest.fixture
def spawn(tmp_path):
    """``spawn(processes.celery_worker, "w1", ...)``: start a process, killed at the end."""
    started = []

    def start(factory, *args, **kwargs):
        process = factory(tmp_path, *args, **kwargs)
        started.append(process)
        return process

    yield start
    for process in started:
        process.kill()


def broker_address() -> tuple[str, int]:
    """Host and port of the Redis broker the suite runs with."""
    parts = url_to_parts(app.conf.broker_url)
    return parts.hostname or "127.0.0.1", parts.port or 6379


def through_port(url: str, port: int) -> str:
    """``url`` with its host and port replaced by 127.0.0.1:``port`` (credentials kept)."""
    parsed = urlsplit(url)
    credentials = parsed.netloc.rpartition("@")[0]
    netloc = f"{credentials}@127.0.0.1:{port}" if credentials else f"127.0.0.1:{port}"
    return urlunsplit(parsed._replace(netloc=netloc))


@pytest.fixture
def clean_broker():
    """No message left by another test: the queue and the unacknowledged ones emptied."""

    def empty():
        app.control.purge()
        with app.connection_for_write() as connection:
            client = connection.default_channel.client
            client.delete("unacked", "unacked_index", "unacked_mutex")

    empty()
    yield
    empty()


@pytest.fixture
def private_folder():
    """The private storage's folder, without the forms, batches and draws of earlier tests
    (pledge numbers start again in every test, so their files would share names)."""
    import shutil
    from pathlib import Path

    from django.core.files.storage import storages

    root = Path(storages["private"].location)
    for folder in ("forms", "batches", "draws"):
        shutil.rmtree(root / folder, ignore_errors=True)
    return root
