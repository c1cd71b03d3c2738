"""Two decisions at once: one stands, the other gets a conflict; ledger appends serialise.

Threads hold their own connections, so they need committed data and a database several
connections can write to: PostgreSQL's test database, or on SQLite a file copy of the in-memory
test database with the project's options (WAL, ``BEGIN IMMEDIATE``, busy timeout), as in
tests/pledges/test_numbering.py.
"""

import sqlite3
import threading

import pytest
from django.db import connection, connections

from core.errors import Conflict
from credit import ledger, services
from credit.models import CreditRecord, LedgerEntry, RecordState
from tests.credit.factories import close_hearing, draft


@pytest.fixture
def shared_database(transactional_db, tmp_path):
    """The default database, reachable from other threads with their own connections."""
    if connection.vendor != "sqlite":
        yield
        return
    memory = connections["default"]
    memory.ensure_connection()
    path = tmp_path / "credit-concurrency.sqlite3"
    target = sqlite3.connect(path)
    memory.connection.backup(target)
    target.close()
    original = connections.settings["default"]
    connections.settings["default"] = {**original, "NAME": str(path)}
    connections["default"] = connections.create_connection("default")
    try:
        yield
    finally:
        connections["default"].close()
        connections["default"] = memory
        connections.settings["default"] = original


def run_together(*calls):
    """Start the calls at the same moment in threads; return their results or exceptions."""
    barrier = threading.Barrier(len(calls))
    results = [None] * len(calls)

    def runner(index, call):
        try:
            barrier.wait()
            results[index] = call()
        except Exception as exc:  # noqa: BLE001 - the test inspects what happened
            results[index] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=runner, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def test_two_simultaneous_decisions_one_stands_the_other_conflicts(
    shared_database, resident, officer
):
    record = close_hearing(draft(resident.person))
    results = run_together(
        lambda: services.record_decide(
            record=record, actor=officer, decision="confirm", severity="serious", basis="b"
        ),
        lambda: services.record_decide(
            record=record, actor=officer, decision="annul", reason="误报"
        ),
    )
    conflicts = [r for r in results if isinstance(r, Conflict)]
    winners = [r for r in results if isinstance(r, CreditRecord)]
    assert len(conflicts) == 1 and len(winners) == 1, results
    stored = CreditRecord.objects.get(pk=record.pk)
    assert stored.state == winners[0].state
    types = [e.event for e in LedgerEntry.objects.filter(record_id=record.pk)]
    assert sum('"record.confirmed"' in t or '"record.annulled"' in t for t in types) == 1
    assert ledger.verify().ok


def test_simultaneous_appends_keep_one_unbroken_chain(shared_database):
    def append_many():
        for _ in range(10):
            ledger.append("record.pushed", person_hash="p" * 64)
        return True

    assert run_together(append_many, append_many, append_many) == [True, True, True]
    assert LedgerEntry.objects.count() == 30
    assert ledger.verify().ok
    assert list(LedgerEntry.objects.values_list("seq", flat=True)) == list(range(1, 31))


def test_state_check_happens_under_the_row_lock(resident, officer, db):
    """The decision re-reads the record under lock: a stale object cannot decide twice."""
    record = close_hearing(draft(resident.person))
    stale = CreditRecord.objects.get(pk=record.pk)
    services.record_decide(record=record, actor=officer, decision="annul", reason="x")
    assert stale.state == RecordState.PENDING_REVIEW
    with pytest.raises(Conflict):
        services.record_decide(
            record=stale, actor=officer, decision="confirm", severity="minor", basis="b"
        )
