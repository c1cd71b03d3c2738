"""Pushing records to the credit-sharing platform: signed batches, retried, never duplicated."""

import json

import pytest

from credit import services, tasks
from credit.exporters import JsonLinesFolderExporter, read_batch
from credit.models import LedgerEntry, Push
from tests.credit.factories import confirmed

pytestmark = pytest.mark.django_db


class BrokenExporter:
    def export(self, items):
        raise OSError("platform unreachable")


def test_confirmed_record_is_pushed_as_a_signed_json_lines_batch(resident, officer, export_dir):
    record = confirmed(resident.person, officer, severity="general")
    assert tasks.push_records() == 1
    push = Push.objects.get(record=record)
    assert push.status == Push.Status.SENT
    batch = export_dir / push.batch
    items = read_batch(batch)
    assert [item["push_id"] for item in items] == [f"{record.pk}:1"]
    assert items[0]["severity"] == "general"
    assert items[0]["person"]["id_hash"] == resident.person.id_hash
    assert resident.person.id_number not in batch.read_text()
    pushed = json.loads(LedgerEntry.objects.filter(record_id=record.pk).last().event)
    assert pushed["type"] == "record.pushed"
    assert pushed["data"] == {"version": 1, "batch": push.batch}


def test_a_tampered_batch_fails_its_signature(resident, officer, export_dir):
    confirmed(resident.person, officer)
    tasks.push_records()
    batch = next(export_dir.glob("*.jsonl"))
    batch.write_text(batch.read_text().replace("general", "minor"))
    with pytest.raises(ValueError, match="signature"):
        read_batch(batch)


def test_a_failed_push_is_retried_and_sent_once(settings, resident, officer, export_dir):
    record = confirmed(resident.person, officer)
    settings.CHENGNUO_CREDIT_EXPORTER = "tests.credit.test_push.BrokenExporter"
    assert tasks.push_records() == 0
    push = Push.objects.get(record=record)
    assert (push.status, push.attempts) == (Push.Status.FAILED, 1)
    assert "unreachable" in push.last_error
    settings.CHENGNUO_CREDIT_EXPORTER = "credit.exporters.JsonLinesFolderExporter"
    assert tasks.push_records() == 1
    assert tasks.push_records() == 0  # safe to run twice: nothing is sent again
    push.refresh_from_db()
    assert (push.status, push.attempts) == (Push.Status.SENT, 2)
    lines = [line for path in export_dir.glob("*.jsonl") for line in read_batch(path)]
    assert [item["push_id"] for item in lines] == [f"{record.pk}:1"]
    events = [json.loads(e.event)["type"] for e in LedgerEntry.objects.filter(record_id=record.pk)]
    assert events.count("record.pushed") == 1


def test_pushes_give_up_after_the_limit_and_alert_the_office(settings, resident, officer):
    from core.models import Notification

    settings.CHENGNUO_CREDIT_EXPORTER = "tests.credit.test_push.BrokenExporter"
    settings.CHENGNUO_CREDIT_PUSH_MAX_ATTEMPTS = 2
    confirmed(resident.person, officer)
    tasks.push_records()
    tasks.push_records()
    tasks.push_records()
    assert Push.objects.get().attempts == 2
    assert Notification.objects.filter(recipient=officer, kind="credit.push_failed").exists()


def test_one_push_per_record_version(resident, officer):
    record = confirmed(resident.person, officer)
    with pytest.raises(Exception):  # noqa: B017 - the unique constraint refuses a duplicate
        from django.db import transaction

        with transaction.atomic():
            Push.objects.create(record=record, version=1, payload={})
    assert Push.objects.filter(record=record).count() == 1


def test_each_change_of_a_published_record_is_a_new_version(resident, officer):
    record = confirmed(resident.person, officer, severity="minor")
    repair = services.repair_apply(record=record, actor=resident, credit_pledge="p", correction="c")
    services.repair_decide(repair=repair, actor=officer, decision="approved")
    versions = list(Push.objects.filter(record=record).values_list("version", "payload__state"))
    assert versions == [(1, "confirmed"), (2, "repaired")]


def test_the_exporter_writes_the_batch_atomically(tmp_path):
    name = JsonLinesFolderExporter(tmp_path).export([{"push_id": "1:1"}])
    assert sorted(p.name for p in tmp_path.iterdir()) == [name, f"{name}.sig"]
