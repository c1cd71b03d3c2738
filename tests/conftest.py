"""Shared fixtures: an API client, one user per role, SMS captured in memory."""

import pytest
from rest_framework.test import APIClient

from accounts.roles import STAFF_ROLES
from core.sms import MemorySMSBackend
from tests.concurrency import shared_database  # noqa: F401 - a fixture for every test module
from tests.factories import make_resident, make_staff


@pytest.fixture(autouse=True)
def _memory_sms(settings):
    settings.CHENGNUO_SMS_BACKEND = "core.sms.MemorySMSBackend"
    MemorySMSBackend.outbox = []
    yield MemorySMSBackend.outbox


@pytest.fixture
def sms_outbox(_memory_sms):
    return _memory_sms


@pytest.fixture(autouse=True)
def _clear_cache():
    from django.core.cache import cache

    cache.clear()
    yield


@pytest.fixture
def api_client():
    return APIClient()


@pytest.fixture
def resident(db):
    return make_resident("alice", name="张三")


@pytest.fixture
def other_resident(db):
    return make_resident("bob", name="李四")


@pytest.fixture
def staff(db):
    """One account per staff role, keyed by role name."""
    return {role: make_staff(role, f"{role}-user") for role in STAFF_ROLES}


def client_for(user) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


def _faults_can_run() -> bool:
    """Fault tests (tests/faults/) start workers, beat and gunicorn against the test database
    and cut the broker and the database behind proxies: meaningful only on PostgreSQL with the
    Redis broker of CI's real-worker run."""
    import os

    from django.conf import settings

    engine = settings.DATABASES["default"]["ENGINE"]
    return os.environ.get("CHENGNUO_REAL_WORKER") == "1" and engine.endswith("postgresql")


def pytest_collection_modifyitems(config, items):
    """Deselect the fault tests where they cannot run (reported as deselected, not skipped).

    Every transactional test restores the migrated data (roles, content types, schedules).

    Mixing transactional tests with and without serialized rollback breaks the suite: a plain
    flush re-creates those rows under new ids, and the next serialized reload collides with
    them. Making the rollback uniform keeps each test independent of the order it runs in.
    """
    if not _faults_can_run():
        faults = [item for item in items if item.get_closest_marker("faults")]
        if faults:
            config.hook.pytest_deselected(items=faults)
            items[:] = [item for item in items if not item.get_closest_marker("faults")]
    for item in items:
        marker = item.get_closest_marker("django_db")
        fixtures = getattr(item, "fixturenames", ())
        by_fixture = "transactional_db" in fixtures or "live_server" in fixtures
        if marker is None and not by_fixture:
            continue
        kwargs = dict(marker.kwargs) if marker else {}
        positional = marker.args[0] if marker and marker.args else False
        transactional = kwargs.get("transaction", positional) or by_fixture
        if transactional and not kwargs.get("serialized_rollback"):
            kwargs.update(transaction=True, serialized_rollback=True)
            item.add_marker(pytest.mark.django_db(**kwargs), append=False)


@pytest.fixture(scope="session", autouse=True)
def _serialized_contents_follow_the_connection(django_db_setup, django_db_blocker):
    """Give every connection object the database snapshot that serialized rollback reloads.

    Django keeps the snapshot on the connection object that created the test database. After
    Playwright starts, or after work in other threads, the test may hold a fresh connection
    object without it: its flush then re-runs post_migrate (new content type and group rows)
    and the next reload collides with them. Carrying the snapshot over prevents that.
    """
    from django.db import connections
    from django.test import TransactionTestCase

    saved = {
        alias: connections[alias]._test_serialized_contents
        for alias in connections
        if hasattr(connections[alias], "_test_serialized_contents")
    }

    def restore():
        for alias, contents in saved.items():
            if not hasattr(connections[alias], "_test_serialized_contents"):
                connections[alias]._test_serialized_contents = contents

    # Both are classmethods in Django 6; keep them so, bound to the test's own class.
    original_setup = TransactionTestCase.__dict__["_fixture_setup"]
    original_teardown = TransactionTestCase.__dict__["_fixture_teardown"]

    def wrap(original):
        def wrapped(cls_or_self):
            restore()
            func = original.__func__ if isinstance(original, classmethod) else original
            return func(cls_or_self)

        return classmethod(wrapped) if isinstance(original, classmethod) else wrapped

    TransactionTestCase._fixture_setup = wrap(original_setup)
    TransactionTestCase._fixture_teardown = wrap(original_teardown)
    yield
    TransactionTestCase._fixture_setup = original_setup
    TransactionTestCase._fixture_teardown = original_teardown
