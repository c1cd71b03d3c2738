"""Helpers for tests where several threads, each with its own connection, work at once.

- ``shared_database``: the default database, reachable from other threads. On PostgreSQL the
  test database itself; on SQLite the suite's in-memory database cannot take concurrent
  writers (a shared-cache memory database uses table locks that ignore the busy timeout), so
  it is copied, schema and migrated rows, to a temporary file and the default alias points at
  that file for the test, with the project's own options: WAL, ``BEGIN IMMEDIATE`` and a busy
  timeout, exactly what a served checkout uses.
- ``run_in_threads``: work released together in several threads; what they raised.
- ``sequence_numbers``: the sequence parts of this year's pledge numbers, sorted.

A test module imports the fixture by name: ``from tests.concurrency import shared_database``.
"""

import re
import sqlite3
import threading
import time

import pytest
from django.db import connection, connections
from django.utils import timezone

NUMBER = re.compile(r"^CN-(\d{4})-(\d{6})$")


@pytest.fixture
def shared_database(transactional_db, tmp_path):
    """The default database, reachable from other threads with their own connections."""
    if connection.vendor != "sqlite":
        yield connection.settings_dict
        return
    memory = connections["default"]
    memory.ensure_connection()
    path = tmp_path / "concurrency.sqlite3"
    target = sqlite3.connect(path)
    memory.connection.backup(target)
    target.close()
    original = connections.settings["default"]
    file_settings = {**original, "NAME": str(path)}
    connections.settings["default"] = file_settings
    connections["default"] = connections.create_connection("default")
    try:
        yield file_settings
    finally:
        connections["default"].close()
        connections["default"] = memory
        connections.settings["default"] = original


def run_in_threads(count: int, work, *, timeout: float = 120) -> list[BaseException]:
    """Run ``work(index)`` in ``count`` threads released together; return what they raised.

    Each thread closes its own connections when it ends.
    """
    barrier = threading.Barrier(count)
    errors: list[BaseException] = []

    def target(index):
        try:
            barrier.wait(timeout=30)
            work(index)
        except BaseException as exc:  # noqa: BLE001 - reported to the test
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=target, args=(i,), daemon=True) for i in range(count)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + timeout
    for thread in threads:
        thread.join(max(0.1, deadline - time.monotonic()))
    stuck = [thread for thread in threads if thread.is_alive()]
    if stuck:
        errors.append(TimeoutError(f"{len(stuck)} threads still running after {timeout}s"))
    return errors


def sequence_numbers(numbers) -> list[int]:
    year = timezone.localtime().year
    values = []
    for number in numbers:
        match = NUMBER.match(number)
        assert match, number
        assert int(match.group(1)) == year, number
        values.append(int(match.group(2)))
    return sorted(values)
