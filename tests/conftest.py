"""Shared fixtures: an API client, one user per role, SMS captured in memory."""

import pytest
from rest_framework.test import APIClient

from accounts.roles import STAFF_ROLES
from core.sms import MemorySMSBackend
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


def pytest_collection_modifyitems(items):
    """Every transactional test restores the migrated data (roles, content types, schedules).

    Mixing transactional tests with and without serialized rollback breaks the suite: a plain
    flush re-creates those rows under new ids, and the next serialized reload collides with
    them. Making the rollback uniform keeps each test independent of the order it runs in.
    """
    for item in items:
        marker = item.get_closest_marker("django_db")
        if marker is None:
            continue
        kwargs = dict(marker.kwargs)
        transactional = kwargs.get("transaction", marker.args[0] if marker.args else False)
        if transactional and not kwargs.get("serialized_rollback"):
            kwargs.update(transaction=True, serialized_rollback=True)
            item.add_marker(pytest.mark.django_db(**kwargs), append=False)
