"""Retention: what has been kept long enough is deleted or anonymised by a daily beat task,
configurable per record type; the audit log and the credit ledger are never touched."""

import datetime as dt

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from core import retention
from core.beat import ensure_core_schedule
from core.models import AuditEvent, IdempotentRequest, Notification, OneTimeCode
from core.tasks import apply_retention
from tests.factories import MatterFactory, make_resident, make_staff, sign_pledge

pytestmark = pytest.mark.django_db

NOW = timezone.now()


def days_ago(days: int) -> dt.datetime:
    return NOW - dt.timedelta(days=days)


@pytest.fixture
def old_and_new(resident):
    """One expired and one fresh record of each of core's types."""
    for created in (days_ago(800), days_ago(10)):
        Notification.objects.create(recipient=resident, kind="t", title="t", created_at=created)
    for created in (days_ago(2), NOW):
        OneTimeCode.objects.create(
            phone_hash="p", purpose="register", code_hash="c", created_at=created, expires_at=NOW
        )
    for key, created in (("old", days_ago(8)), ("new", days_ago(1))):
        IdempotentRequest.objects.create(
            user=resident, key=key, endpoint="/x", status_code=201, body={}, created_at=created
        )


def test_retention_deletes_expired_core_records_and_keeps_fresh_ones(old_and_new):
    counts = retention.retention_run(now=NOW)
    assert counts["notifications"] == 1
    assert counts["one_time_codes"] == 1
    assert counts["idempotent_requests"] == 1
    assert Notification.objects.count() == 1
    assert OneTimeCode.objects.count() == 1
    assert IdempotentRequest.objects.get().key == "new"


def test_retention_is_configurable_and_none_keeps_for_ever(old_and_new, settings):
    settings.CHENGNUO_RETENTION = {**settings.CHENGNUO_RETENTION, "notifications": None}
    counts = retention.retention_run(now=NOW)
    assert "notifications" not in counts
    assert Notification.objects.count() == 2
    settings.CHENGNUO_RETENTION = {**settings.CHENGNUO_RETENTION, "notifications": 5}
    retention.retention_run(now=NOW)
    assert Notification.objects.count() == 0


def test_second_run_finds_nothing_left(old_and_new):
    retention.retention_run(now=NOW)
    assert set(retention.retention_run(now=NOW).values()) == {0}


def test_withdrawn_pledges_lose_contact_details_after_the_period(resident, other_resident):
    from pledges.models import Pledge, PledgeStatus
    from pledges.services import pledge_withdraw

    matter = MatterFactory()
    withdrawn = pledge_withdraw(pledge=sign_pledge(resident, matter), actor=resident)
    kept = sign_pledge(other_resident, matter)
    Pledge.objects.filter(pk=withdrawn.pk).update(withdrawn_at=days_ago(4 * 365))
    content_hash = withdrawn.content_sha256
    counts = retention.retention_run(now=NOW)
    assert counts["withdrawn_pledge_contacts"] == 1
    withdrawn.refresh_from_db()
    assert withdrawn.status == PledgeStatus.WITHDRAWN
    assert (withdrawn.applicant_phone, withdrawn.applicant_address) == ("", "")
    assert withdrawn.ip is None and withdrawn.user_agent == ""
    assert withdrawn.content_sha256 == content_hash  # the signed record stays checkable
    kept.refresh_from_db()
    assert kept.applicant_phone == other_resident.person.phone
    assert retention.retention_run(now=NOW)["withdrawn_pledge_contacts"] == 0


def test_recently_withdrawn_pledges_keep_their_contact_details(resident):
    from pledges.services import pledge_withdraw

    pledge = pledge_withdraw(pledge=sign_pledge(resident), actor=resident)
    retention.retention_run(now=NOW)
    pledge.refresh_from_db()
    assert pledge.applicant_phone == resident.person.phone


def test_agent_scans_are_deleted_after_the_authorisation_ended(resident, other_resident):
    from accounts.services import agent_authorisation_record

    clerk = make_staff("window_clerk", "clerk")
    today = timezone.localdate()
    authorisation = agent_authorisation_record(
        actor=clerk,
        principal_id_number=resident.person.id_number,
        principal_name=resident.person.name,
        agent_id_number=other_resident.person.id_number,
        agent_name=other_resident.person.name,
        matter_code="M-1",
        valid_from=today - dt.timedelta(days=6 * 365),
        valid_to=today - dt.timedelta(days=6 * 365 - 30),
        scan=SimpleUploadedFile("f.pdf", b"%PDF-1.4\n%%EOF\n"),
    )
    storage, name = authorisation.scan.storage, authorisation.scan.name
    assert storage.exists(name)
    assert retention.retention_run(now=NOW)["agent_authorisation_scans"] == 1
    authorisation.refresh_from_db()
    assert not storage.exists(name)
    assert authorisation.scan.name == ""
    assert authorisation.scan_sha256  # the fingerprint of the paper stays
    assert retention.retention_run(now=NOW)["agent_authorisation_scans"] == 0


def test_audit_log_and_credit_ledger_are_untouched_and_the_ledger_verifies(old_and_new):
    from credit import ledger

    person = make_resident("carol").person
    ledger.append("record.drafted", person_hash=person.id_hash, data={"matter": "M-1"})
    ledger.append("record.confirmed", person_hash=person.id_hash, data={})
    AuditEvent.objects.create(action="old.event", occurred_at=days_ago(3650))
    audit_before = AuditEvent.objects.count()
    entries_before = list(ledger.LedgerEntry.objects.values_list("seq", "hash"))
    apply_retention.delay()
    assert AuditEvent.objects.count() == audit_before
    assert list(ledger.LedgerEntry.objects.values_list("seq", "hash")) == entries_before
    assert ledger.verify().ok
    assert "audit_events" not in settings_names()
    assert "credit_ledger" not in settings_names()


def settings_names():
    from django.conf import settings

    return set(settings.CHENGNUO_RETENTION) | {r.name for r in retention.rules()}


def test_beat_runs_retention_daily_on_a_crontab(db):
    task = PeriodicTask.objects.get(name="core.apply_retention")
    assert task.task == "core.tasks.apply_retention"
    assert task.interval is None
    assert (task.crontab.minute, task.crontab.hour) == ("30", "3")
    assert str(task.crontab.timezone) == "Asia/Shanghai"
    ensure_core_schedule()
    ensure_core_schedule()
    assert PeriodicTask.objects.filter(name="core.apply_retention").count() == 1


def test_retention_task_runs_through_celery(old_and_new):
    apply_retention.delay()
    assert Notification.objects.count() == 1
