"""The audit log is append-only, down to the database, and exportable for an auditor
(``manage.py export_audit``, a page and an API for the oversight officer)."""

import csv
import datetime as dt
import io
import json

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from accounts import id_numbers
from core.audit import audit_record
from core.models import AuditEvent
from tests.factories import login_staff, make_staff

pytestmark = pytest.mark.django_db

NUMBER = "11010519491231002X"


def at(day: str) -> dt.datetime:
    return timezone.make_aware(dt.datetime.fromisoformat(day + " 10:00"))


@pytest.fixture
def dated_log():
    """Three events on known days (created with those times: rows are never updated)."""
    clerk = make_staff("window_clerk", "clerk")
    officer = make_staff("verification_officer", "officer")
    person_hash = id_numbers.keyed_hash(NUMBER)
    rows = [
        ("2026-03-01", clerk, "pledge.signed", person_hash, {}),
        ("2026-03-05", officer, "check.viewed", person_hash, {}),
        ("2026-03-09", clerk, "pledge.decided", "", {"note": "=HYPERLINK(1)"}),
    ]
    for day, actor, action, ph, data in rows:
        AuditEvent.objects.create(
            occurred_at=at(day),
            actor=actor,
            actor_username=actor.username,
            actor_unit=actor.unit.code,
            action=action,
            person_hash=ph,
            data=data,
            ip="10.0.0.7",
        )
    return {"clerk": clerk, "officer": officer}


def export(*args) -> str:
    out = io.StringIO()
    call_command("export_audit", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


# ---- append-only --------------------------------------------------------------------------


def test_audit_events_cannot_be_changed_or_deleted_through_the_orm():
    event = audit_record(actor=None, action="x.y")
    event.action = "changed"
    with pytest.raises(PermissionError):
        event.save()
    with pytest.raises(PermissionError):
        event.delete()
    with pytest.raises(PermissionError):
        AuditEvent.objects.filter(pk=event.pk).update(action="changed")
    with pytest.raises(PermissionError):
        AuditEvent.objects.filter(pk=event.pk).delete()


def test_the_database_refuses_an_update_by_raw_sql():
    event = audit_record(actor=None, action="x.y")
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE core_auditevent SET action = 'forged' WHERE id = %s", [event.pk])
    assert AuditEvent.objects.get(pk=event.pk).action == "x.y"


def test_deletes_are_refused_by_postgresql_and_sqlite_keeps_its_update_trigger():
    """PostgreSQL refuses raw DELETEs too. SQLite refuses UPDATEs only (Django's test flush
    empties tables with DELETE there); its trigger must still be installed."""
    event = audit_record(actor=None, action="x.y")
    if connection.vendor == "postgresql":
        with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("DELETE FROM core_auditevent WHERE id = %s", [event.pk])
        assert AuditEvent.objects.filter(pk=event.pk).exists()
    else:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT name FROM sqlite_master WHERE type = 'trigger' "
                "AND tbl_name = 'core_auditevent'"
            )
            assert [row[0] for row in cursor.fetchall()] == ["core_auditevent_no_update"]


# ---- the command --------------------------------------------------------------------------


def test_export_csv_has_every_column_and_row_oldest_first(dated_log):
    rows = list(csv.DictReader(io.StringIO(export("--format", "csv"))))
    actions = [r["action"] for r in rows if r["action"] != "auth.second_factor_provisioned"]
    assert actions == ["pledge.signed", "check.viewed", "pledge.decided"]
    row = next(r for r in rows if r["action"] == "check.viewed")
    assert row["actor_username"] == "officer"
    assert row["actor_unit"] == "SF"
    assert row["ip"] == "10.0.0.7"
    assert row["occurred_at"].startswith("2026-03-05T10:00:00+08:00")


def test_export_neutralises_spreadsheet_formulas(dated_log):
    rows = list(csv.DictReader(io.StringIO(export("--staff", "clerk"))))
    decided = next(r for r in rows if r["action"] == "pledge.decided")
    assert json.loads(decided["data"]) == {"note": "=HYPERLINK(1)"}
    assert not any(value.startswith("=") for r in rows for value in r.values())


def test_export_filters_by_person_staff_and_period(dated_log):
    by_person = json.loads(export("--format", "json", "--person", NUMBER.lower()))
    assert [e["action"] for e in by_person] == ["pledge.signed", "check.viewed"]
    by_staff = json.loads(export("--format", "json", "--staff", "officer"))
    assert [e["action"] for e in by_staff] == ["check.viewed"]
    period = json.loads(
        export("--format", "json", "--since", "2026-03-02", "--until", "2026-03-09")
    )
    assert [e["action"] for e in period] == ["check.viewed", "pledge.decided"]
    combined = json.loads(
        export("--format", "json", "--person", NUMBER, "--since", "2026-03-02", "--staff", "clerk")
    )
    assert combined == []


def test_export_writes_a_file_and_is_itself_recorded(dated_log, tmp_path):
    target = tmp_path / "audit.json"
    call_command(
        "export_audit",
        "--format",
        "json",
        "--person",
        NUMBER,
        "--output",
        str(target),
        stdout=io.StringIO(),
        stderr=io.StringIO(),
    )
    assert len(json.loads(target.read_text())) == 2
    event = AuditEvent.objects.filter(action="audit.exported").get()
    assert event.data["person_hash"] == id_numbers.keyed_hash(NUMBER)
    assert NUMBER not in json.dumps(event.data)
    assert event.data["rows"] == 2


def test_export_refuses_bad_input():
    with pytest.raises(CommandError, match="--person"):
        export("--person", "123")
    with pytest.raises(CommandError, match="not a date"):
        export("--since", "March")
    with pytest.raises(CommandError, match="before"):
        export("--since", "2026-03-02", "--until", "2026-03-01")


# ---- page and API for the oversight officer ------------------------------------------------


def test_audit_page_is_for_the_oversight_officer_only(client, dated_log):
    clerk = dated_log["clerk"]
    login_staff(client, clerk)
    assert client.get("/accounts/audit/").status_code == 404
    auditor = make_staff("oversight_officer", "auditor")
    login_staff(client, auditor)
    response = client.get("/accounts/audit/", {"person": NUMBER})
    assert response.status_code == 200
    assert [r["action"] for r in response.context["rows"]] == ["check.viewed", "pledge.signed"]
    assert AuditEvent.objects.filter(action="audit.viewed", actor=auditor).exists()


def test_audit_page_downloads_csv(client, dated_log):
    auditor = make_staff("oversight_officer", "auditor")
    login_staff(client, auditor)
    response = client.get("/accounts/audit/", {"staff": "officer", "format": "csv"})
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment;")
    text = b"".join(response.streaming_content).decode()
    assert [r["action"] for r in csv.DictReader(io.StringIO(text))] == ["check.viewed"]
    event = AuditEvent.objects.get(action="audit.exported")
    assert event.data["staff"] == "officer" and event.data["format"] == "csv"


def test_audit_api_for_the_oversight_officer(api_client, dated_log):
    api_client.force_authenticate(dated_log["clerk"])
    assert api_client.get("/api/v1/audit/events/").status_code == 403
    auditor = make_staff("oversight_officer", "auditor")
    api_client.force_authenticate(auditor)
    response = api_client.get("/api/v1/audit/events/", {"person": NUMBER, "since": "2026-03-02"})
    assert response.status_code == 200
    rows = json.loads(b"".join(response.streaming_content))
    assert [r["action"] for r in rows] == ["check.viewed"]
    bad = api_client.get("/api/v1/audit/events/", {"person": "123"})
    assert bad.status_code == 400
    assert "person" in bad.json()
    csv_response = api_client.get("/api/v1/audit/events/", {"file_format": "csv"})
    assert csv_response["Content-Type"].startswith("text/csv")


def test_deleting_an_account_keeps_its_events_with_the_username():
    clerk = make_staff("window_clerk", "gone")
    event = audit_record(actor=clerk, action="pledge.decided")
    clerk.groups.clear()
    from django_otp.plugins.otp_totp.models import TOTPDevice

    TOTPDevice.objects.filter(user=clerk).delete()
    clerk.delete()
    event = AuditEvent.objects.get(pk=event.pk)
    assert event.actor_id is None
    assert (event.actor_username, event.action) == ("gone", "pledge.decided")
