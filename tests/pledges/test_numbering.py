"""Pledge numbers: ``CN-<year>-<6 digits>``, unique and gap-free when many people sign at once.

The concurrent tests run threads that each hold their own database connection, so they need
committed data (``transaction=True``) and a database several connections can write to:

- PostgreSQL: the test database itself (``DATABASE_URL=postgres://…``).
- SQLite: the suite's in-memory test database cannot take concurrent writers (a shared-cache
  memory database uses table locks that ignore the busy timeout), so ``shared_database``
  copies it, schema and migrated rows, to a temporary file and points the default alias at
  that file for the test, with the project's own options: WAL, ``BEGIN IMMEDIATE`` and a busy
  timeout, exactly what a served checkout uses.
"""

import threading

import pytest
from django.utils import timezone
from freezegun import freeze_time

from accounts.models import User
from pledges import services
from pledges.models import Pledge, PledgeNumberCounter
from tests.concurrency import run_in_threads, sequence_numbers
from tests.conftest import client_for
from tests.factories import (
    SIGNATURE_PNG,
    MatterFactory,
    make_resident,
    make_staff,
    pledge_body,
    sign_pledge,
)

THREADS = 8
PER_THREAD = 10


# ---- one at a time ----------------------------------------------------------------------


@pytest.mark.django_db
def test_numbers_count_up_from_one_per_year(resident):
    matter = MatterFactory()
    first = sign_pledge(resident, matter)
    second = sign_pledge(resident, matter)
    year = timezone.localtime().year
    assert first.number == f"CN-{year}-000001"
    assert second.number == f"CN-{year}-000002"
    assert PledgeNumberCounter.objects.get(year=year).last == 2


@pytest.mark.django_db
def test_a_new_year_starts_again_at_one_by_the_local_calendar(resident):
    matter = MatterFactory()
    with freeze_time("2026-12-31T15:00:00Z"):  # 23:00 on 31 December in Shanghai
        december = sign_pledge(resident, matter)
    with freeze_time("2026-12-31T16:30:00Z"):  # 00:30 on 1 January in Shanghai
        january = sign_pledge(resident, matter)
    assert december.number == "CN-2026-000001"
    assert january.number == "CN-2027-000001"


@pytest.mark.django_db
def test_a_signing_that_fails_after_taking_a_number_leaves_no_gap(resident, monkeypatch):
    matter = MatterFactory()
    real_audit = services.audit_record
    taken = []

    def failing_audit(**kwargs):
        taken.append(kwargs["data"]["number"])
        raise RuntimeError("the disk is full")

    monkeypatch.setattr(services, "audit_record", failing_audit)
    with pytest.raises(RuntimeError):
        sign_pledge(resident, matter)
    monkeypatch.setattr(services, "audit_record", real_audit)
    year = timezone.localtime().year
    assert taken == [f"CN-{year}-000001"]
    assert not Pledge.objects.exists()

    pledge = sign_pledge(resident, matter)
    assert pledge.number == f"CN-{year}-000001"


@pytest.mark.django_db
def test_a_refused_signing_takes_no_number(resident):
    matter = MatterFactory()
    person = resident.person
    with pytest.raises(services.DomainError):
        services.pledge_sign(
            matter=matter,
            applicant={"name": person.name, "id_number": person.id_number},
            actor=resident,
            statements_accepted=True,
            typed_name="别人",
            signature_image=SIGNATURE_PNG,
        )
    pledge = sign_pledge(resident, matter)
    assert pledge.number.endswith("-000001")


# ---- at the same time -------------------------------------------------------------------


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_concurrent_signings_get_gap_free_unique_numbers(shared_database):
    matter = MatterFactory()
    user_ids = [make_resident(f"signer{i}").pk for i in range(THREADS)]

    def work(index):
        user = User.objects.get(pk=user_ids[index])
        for _ in range(PER_THREAD):
            sign_pledge(user, matter)

    errors = run_in_threads(THREADS, work)

    assert errors == []
    numbers = list(Pledge.objects.values_list("number", flat=True))
    assert len(numbers) == THREADS * PER_THREAD
    assert sequence_numbers(numbers) == list(range(1, THREADS * PER_THREAD + 1))


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_concurrent_signings_with_failures_still_leave_no_gap(shared_database, monkeypatch):
    """Every third signing fails after its number was taken; the numbers given stay dense."""
    matter = MatterFactory()
    user_ids = [make_resident(f"signer{i}").pk for i in range(THREADS)]
    real_audit = services.audit_record
    local = threading.local()

    def sometimes_failing_audit(**kwargs):
        if getattr(local, "fail", False):
            raise RuntimeError("injected failure after the number was taken")
        return real_audit(**kwargs)

    monkeypatch.setattr(services, "audit_record", sometimes_failing_audit)
    failed = []

    def work(index):
        user = User.objects.get(pk=user_ids[index])
        for attempt in range(PER_THREAD):
            local.fail = (index + attempt) % 3 == 0
            try:
                sign_pledge(user, matter)
            except RuntimeError:
                failed.append(index)

    errors = run_in_threads(THREADS, work)

    assert errors == []
    assert failed, "the injected failures did not happen"
    signed = THREADS * PER_THREAD - len(failed)
    numbers = list(Pledge.objects.values_list("number", flat=True))
    assert sequence_numbers(numbers) == list(range(1, signed + 1))


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_concurrent_api_requests_never_end_in_database_is_locked(shared_database):
    """Signing, listing, withdrawing and deciding through the API from many threads at once.

    On SQLite this holds only with WAL, ``BEGIN IMMEDIATE`` and a busy timeout: a deferred
    transaction that reads the counter and then writes it fails at once with "database is
    locked" when another writer got in between.
    """
    matter = MatterFactory()
    user_ids = [make_resident(f"caller{i}").pk for i in range(THREADS)]
    clerk_id = make_staff("window_clerk", "clerk-concurrent").pk
    statuses: list[tuple[str, int]] = []

    def work(index):
        user = User.objects.get(pk=user_ids[index])
        client = client_for(user)
        clerk = client_for(User.objects.get(pk=clerk_id))
        # The caller comes to the clerk's window: looked up by ID number, their online
        # pledges are the clerk's to decide (docs/access.md).
        lookup = clerk.post(
            "/api/v1/pledges/lookup/", {"id_number": user.person.id_number}, format="json"
        )
        statuses.append(("lookup", lookup.status_code))
        for round_ in range(5):
            signed = client.post("/api/v1/pledges/", pledge_body(user, matter), format="json")
            statuses.append(("sign", signed.status_code))
            number = signed.json()["number"]
            statuses.append(("list", client.get("/api/v1/pledges/").status_code))
            if round_ % 2:
                done = client.post(f"/api/v1/pledges/{number}/withdraw/", {}, format="json")
            else:
                done = clerk.post(f"/api/v1/pledges/{number}/decision/", {}, format="json")
            statuses.append(("change", done.status_code))

    errors = run_in_threads(THREADS, work)

    assert errors == []
    assert all(code in (200, 201) for _, code in statuses), statuses
    assert len(statuses) == THREADS * (5 * 3 + 1)
    numbers = list(Pledge.objects.values_list("number", flat=True))
    assert sequence_numbers(numbers) == list(range(1, THREADS * 5 + 1))


def test_sqlite_connections_use_wal_immediate_transactions_and_a_busy_timeout(
    tmp_path, django_db_blocker
):
    """The embedded default database is opened the way the concurrent tests rely on."""
    from django.db.utils import ConnectionHandler

    from config.settings.base import sqlite_database

    handler = ConnectionHandler({"default": sqlite_database(tmp_path / "probe.sqlite3")})
    probe = handler["default"]
    with django_db_blocker.unblock():
        try:
            with probe.cursor() as cursor:
                cursor.execute("PRAGMA journal_mode")
                journal_mode = cursor.fetchone()[0]
                cursor.execute("PRAGMA busy_timeout")
                busy_timeout = cursor.fetchone()[0]
        finally:
            probe.close()
    assert journal_mode == "wal"
    assert busy_timeout >= 5000
    assert probe.transaction_mode == "IMMEDIATE"
