"""A real Celery worker for the tests that need one.

By default tests run tasks eagerly: ``.delay()`` runs the task on the spot. CI's PostgreSQL
run sets ``CHENGNUO_REAL_WORKER=1`` (with Redis as the broker); there the ``real_worker``
fixture starts a worker in a thread of the test process, consuming from the configured
broker, so a task really travels through the broker after the commit that dispatched it.

A test that asks for it must use ``@pytest.mark.django_db(transaction=True)``: the worker
thread has its own database connection and sees only committed rows. Import the fixture
into the test module::

    from tests.worker import real_worker, wait_until  # noqa: F401
"""

import os
import threading
import time
from collections.abc import Callable

import pytest
from celery.contrib.testing.worker import start_worker
from celery.signals import task_postrun
from django.db import connections

from config.celery import app

REAL_WORKER = os.environ.get("CHENGNUO_REAL_WORKER") == "1"


def wait_until(predicate: Callable[[], object], *, timeout: float = 10.0, interval=0.05):
    """Poll ``predicate`` until it returns something true; fail the test after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() >= deadline:
            pytest.fail(f"condition not met within {timeout} s: {predicate!r}")
        time.sleep(interval)


def _close_worker_connections(sender=None, **kwargs):
    """After each task in the worker thread, close that thread's database connections.

    Otherwise they outlive the test (``CONN_MAX_AGE``) and PostgreSQL refuses to drop the
    test database at the end of the session while they are open.
    """
    if threading.current_thread() is not threading.main_thread():
        connections.close_all()


@pytest.fixture
def real_worker(request):
    """A Celery worker consuming from the broker (real mode), or nothing (eager mode)."""
    marker = request.node.get_closest_marker("django_db")
    if marker is None or not marker.kwargs.get("transaction"):
        pytest.fail("real_worker needs @pytest.mark.django_db(transaction=True)")
    if not REAL_WORKER:
        yield None
        return

    saved = {key: app.conf[key] for key in ("task_always_eager", "worker_hijack_root_logger")}
    # Whatever the settings say, this test's tasks go through the broker; and the worker
    # leaves the logging set up by Django (and pytest) alone.
    app.conf.task_always_eager = False
    app.conf.worker_hijack_root_logger = False
    # Messages left by an earlier run (or by a test without a worker) are not this test's.
    app.control.purge()
    task_postrun.connect(_close_worker_connections, weak=False)
    try:
        with start_worker(
            app,
            pool="solo",
            concurrency=1,
            perform_ping_check=False,
            shutdown_timeout=30,
        ) as worker:
            yield worker
    finally:
        task_postrun.disconnect(_close_worker_connections)
        app.conf.update(saved)
