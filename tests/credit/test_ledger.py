"""The hash-chained ledger: append-only, signed head, checkpoints, and tamper detection."""

import datetime as dt
import json

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from freezegun import freeze_time

from core.models import Notification
from credit import ledger, tasks
from credit.models import LedgerCheckpoint, LedgerEntry, LedgerHead
from tests.credit.factories import confirmed, draft

pytestmark = pytest.mark.django_db


def fill(n: int):
    for i in range(n):
        ledger.append("record.pushed", person_hash="h" * 64, data={"i": i})


def raw(sql: str, params=()):
    """Change the table behind the application's back, as someone with database access would.

    On PostgreSQL the trigger refuses UPDATE and DELETE first; the owner has to switch it off
    to tamper. (Appending rows is not refused: the signed head catches those.)
    """
    table = LedgerEntry._meta.db_table
    rewrites = sql.lstrip().upper().startswith(("UPDATE", "DELETE"))
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql" and rewrites:
            with pytest.raises(Exception, match="append-only"), transaction.atomic():
                cursor.execute(sql.format(table=table), params)
            cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")
        cursor.execute(sql.format(table=table), params)
        if connection.vendor == "postgresql" and rewrites:
            cursor.execute(f"ALTER TABLE {table} ENABLE TRIGGER USER")


def run_command():
    """``verify_ledger``'s exit code and output."""
    from io import StringIO

    out, err = StringIO(), StringIO()
    try:
        call_command("verify_ledger", stdout=out, stderr=err)
    except SystemExit as exit_:
        return exit_.code, out.getvalue() + err.getvalue()
    return 0, out.getvalue() + err.getvalue()


def test_events_chain_and_the_head_is_signed():
    fill(3)
    rows = list(LedgerEntry.objects.order_by("seq"))
    assert [r.seq for r in rows] == [1, 2, 3]
    assert rows[0].prev_hash == ledger.GENESIS
    assert rows[1].prev_hash == rows[0].hash
    assert rows[2].hash == ledger.entry_hash(3, rows[1].hash, rows[2].event)
    head = LedgerHead.objects.get()
    assert (head.seq, head.hash) == (3, rows[2].hash)
    assert head.mac == ledger.head_mac(3, rows[2].hash)
    assert ledger.verify().ok


def test_events_are_canonical_json_with_english_codes(resident, officer):
    record = confirmed(resident.person, officer)
    row = LedgerEntry.objects.filter(record_id=record.pk).order_by("seq")[1]
    event = json.loads(row.event)
    assert row.event == ledger.canonical(event)
    assert event["type"] == "record.confirmed"
    assert event["actor"] == f"user:{officer.pk}"
    assert event["data"]["severity"] == "general"
    assert ", " not in row.event and ": " not in row.event


def test_unknown_event_types_are_refused():
    with pytest.raises(ValueError):
        ledger.append("record.deleted")


def test_the_model_refuses_to_change_or_delete_rows():
    fill(2)
    entry = LedgerEntry.objects.get(seq=1)
    entry.event = "{}"
    with pytest.raises(PermissionError):
        entry.save()
    with pytest.raises(PermissionError):
        entry.delete()
    with pytest.raises(PermissionError):
        LedgerEntry.objects.filter(seq=1).update(event="{}")
    with pytest.raises(PermissionError):
        LedgerEntry.objects.all().delete()
    assert ledger.verify().ok


def test_a_changed_row_is_reported_with_its_sequence_number():
    fill(10)
    raw("UPDATE {table} SET event = %s WHERE seq = 4", ['{"type":"record.annulled"}'])
    result = ledger.verify()
    assert not result.ok
    assert result.first_bad_seq == 4
    code, output = run_command()
    assert code == 1
    assert "sequence 4" in output


def test_a_changed_row_with_a_recomputed_hash_breaks_the_next_link():
    fill(10)
    forged = '{"type":"record.annulled"}'
    prev = LedgerEntry.objects.get(seq=5).prev_hash
    raw(
        "UPDATE {table} SET event = %s, hash = %s WHERE seq = 5",
        [forged, ledger.entry_hash(5, prev, forged)],
    )
    assert ledger.verify().first_bad_seq == 6


def test_a_deleted_row_is_reported_with_its_sequence_number():
    fill(10)
    raw("DELETE FROM {table} WHERE seq = 7")
    result = ledger.verify()
    assert (result.ok, result.first_bad_seq) == (False, 7)
    assert run_command()[0] == 1


def test_cutting_off_the_newest_rows_is_detected_by_the_head():
    fill(10)
    raw("DELETE FROM {table} WHERE seq > 8")
    result = ledger.verify()
    assert (result.ok, result.first_bad_seq) == (False, 9)
    code, output = run_command()
    assert code == 1 and "sequence 9" in output


def test_a_head_rewritten_without_the_key_is_detected():
    fill(5)
    LedgerHead.objects.filter(pk=1).update(seq=4, hash=LedgerEntry.objects.get(seq=4).hash)
    raw("DELETE FROM {table} WHERE seq = 5")
    result = ledger.verify()
    assert not result.ok
    assert result.first_bad_seq == 4
    assert "signature" in result.problem


def test_rows_added_beyond_the_head_are_detected():
    fill(3)
    last = LedgerEntry.objects.get(seq=3)
    event = '{"type":"record.annulled"}'
    raw(
        "INSERT INTO {table} (seq, prev_hash, event, hash) VALUES (4, %s, %s, %s)",
        [last.hash, event, ledger.entry_hash(4, last.hash, event)],
    )
    assert ledger.verify().first_bad_seq == 4


def test_a_rewritten_history_differs_from_its_checkpoint():
    fill(3)
    with freeze_time("2026-05-01 23:59:00+08:00"):
        ledger.checkpoint()
    fill(2)
    # Rewrite row 2 onwards consistently and re-sign the head (an insider with the key).
    rows = list(LedgerEntry.objects.order_by("seq").values_list("seq", "prev_hash", "event"))
    raw("DELETE FROM {table} WHERE seq >= 2")
    prev = LedgerEntry.objects.get(seq=1).hash
    for seq, _prev, event in rows[1:]:
        event = event.replace('"i":', '"j":')
        digest = ledger.entry_hash(seq, prev, event)
        raw(
            "INSERT INTO {table} (seq, prev_hash, event, hash) VALUES (%s, %s, %s, %s)",
            [seq, prev, event, digest],
        )
        prev = digest
    LedgerHead.objects.filter(pk=1).update(seq=5, hash=prev, mac=ledger.head_mac(5, prev))
    result = ledger.verify()
    assert (result.ok, result.first_bad_seq) == (False, 3)
    assert "checkpoint" in result.problem


def test_verify_ledger_exits_zero_on_an_intact_ledger(resident, officer):
    confirmed(resident.person, officer)
    code, output = run_command()
    assert code == 0
    assert "ledger ok: 3 events" in output


def test_an_empty_ledger_is_intact():
    assert ledger.verify().ok
    assert run_command()[0] == 0


def test_verify_streams_in_chunks_of_any_size():
    fill(25)
    for size in (1, 7, 25, 1000):
        assert ledger.verify(chunk_size=size).checked == 25


def test_daily_verification_alerts_the_credit_office(officer, caplog):
    fill(4)
    assert tasks.verify_ledger()["ok"] is True
    assert not Notification.objects.filter(kind="credit.ledger_alert").exists()
    raw("DELETE FROM {table} WHERE seq = 2")
    with caplog.at_level("ERROR", logger="chengnuo.credit"):
        result = tasks.verify_ledger()
    assert result["first_bad_seq"] == 2
    notice = Notification.objects.get(recipient=officer, kind="credit.ledger_alert")
    assert "2" in notice.title
    assert any("seq 2" in message for message in caplog.messages)


def test_daily_checkpoint_keeps_the_head_once_per_day():
    fill(2)
    with freeze_time("2026-05-01 00:05:00+08:00"):
        assert tasks.checkpoint_ledger() == 2
        fill(1)
        assert tasks.checkpoint_ledger() == 2  # the day's checkpoint is not moved
    with freeze_time("2026-05-02 00:05:00+08:00"):
        assert tasks.checkpoint_ledger() == 3
    days = list(LedgerCheckpoint.objects.order_by("day").values_list("day", "seq"))
    assert days == [(dt.date(2026, 5, 1), 2), (dt.date(2026, 5, 2), 3)]
    point = LedgerCheckpoint.objects.get(day=dt.date(2026, 5, 1))
    with pytest.raises(PermissionError):
        point.save()


def test_checkpoints_are_public(client):
    fill(1)
    ledger.checkpoint()
    page = client.get("/credit/ledger/checkpoints/")
    assert page.status_code == 200
    assert LedgerHead.objects.get().hash in page.content.decode()
    api = client.get("/api/v1/credit/ledger/checkpoints/")
    assert api.status_code == 200
    assert api.json()["results"][0]["seq"] == 1


def test_the_drafting_service_and_ledger_share_one_transaction(resident, monkeypatch):
    """A failed append leaves no draft behind: record and event commit together."""

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(ledger, "append", broken)
    with pytest.raises(RuntimeError):
        draft(resident.person)
    from credit.models import CreditRecord

    assert not CreditRecord.objects.exists()
