"""Drafts, the hearing, decisions, objections, repair, expiry and overdue flags."""

import datetime as dt
import json

import pytest
from django.utils import timezone
from freezegun import freeze_time

from core.errors import Conflict, DomainError, NotAllowed, NotFound
from core.models import AuditEvent, Notification
from credit import services, tasks
from credit.models import (
    CreditRecord,
    LedgerEntry,
    Objection,
    Push,
    RecordState,
    RepairApplication,
)
from tests.credit.factories import close_hearing, confirmed, draft, pdf_upload
from tests.factories import PersonFactory, make_staff

pytestmark = pytest.mark.django_db


def event_types(record):
    return [json.loads(e.event)["type"] for e in LedgerEntry.objects.filter(record_id=record.pk)]


# ---- drafts ------------------------------------------------------------------------------


def test_draft_is_pending_review_with_copied_facts_and_a_ledger_event(resident):
    record = draft(resident.person, source="verification.finding:7")
    assert record.state == RecordState.PENDING_REVIEW
    assert record.facts["pledge_number"] == "CN-2026-000001"
    assert record.matter_name == "低保申请经济困难证明"
    assert event_types(record) == ["record.drafted"]
    event = json.loads(LedgerEntry.objects.get(record_id=record.pk).event)
    assert event["person"] == resident.person.id_hash
    assert event["data"]["source"] == "verification.finding:7"


def test_a_second_draft_for_the_same_source_returns_the_first(resident):
    first = draft(resident.person, source="verification.finding:8")
    second = draft(resident.person, source="verification.finding:8", finding="other")
    assert first.pk == second.pk
    assert CreditRecord.objects.count() == 1
    assert LedgerEntry.objects.count() == 1


def test_draft_rejects_an_unknown_kind(resident):
    with pytest.raises(DomainError) as error:
        services.record_draft(person=resident.person, kind="rumour", facts={}, source="x:1")
    assert error.value.field == "kind"


def test_clear_id_numbers_in_facts_never_reach_the_ledger(resident):
    number = resident.person.id_number
    record = draft(resident.person, note=f"applicant {number} said so")
    assert number not in record.facts["note"]
    assert all(number not in row.event for row in LedgerEntry.objects.all())
    assert resident.person.id_masked[:6] in record.facts["note"]


def test_the_person_is_notified_of_the_hearing_with_its_deadline(resident):
    with freeze_time("2026-03-06 09:00:00+08:00"):  # a Friday
        record = draft(resident.person)
    # Five working days after Friday 6 March: Friday 13 March.
    assert record.hearing_deadline == dt.date(2026, 3, 13)
    notice = Notification.objects.get(recipient=resident, kind="credit.hearing")
    assert "2026-03-13" in notice.body
    assert notice.link == f"/credit/records/{record.pk}/"


def test_a_person_without_an_account_can_still_be_drafted(db):
    person = PersonFactory()
    record = draft(person)
    assert record.state == RecordState.PENDING_REVIEW
    assert not Notification.objects.exists()


def test_hearing_days_are_configurable(settings, resident):
    settings.CHENGNUO_CREDIT_HEARING_WORKING_DAYS = 10
    with freeze_time("2026-03-06 09:00:00+08:00"):
        record = draft(resident.person)
    assert record.hearing_deadline == dt.date(2026, 3, 20)


# ---- hearing ---------------------------------------------------------------------------


def test_statement_with_files_reaches_the_office_and_the_ledger(resident, officer):
    record = draft(resident.person)
    statement = services.statement_submit(
        record=record, actor=resident, text="收入已如实申报", files=[pdf_upload()]
    )
    assert statement.attachments.count() == 1
    attachment = statement.attachments.get()
    assert attachment.content_type == "application/pdf"
    assert attachment.file.storage.exists(attachment.file.name)
    assert event_types(record)[-1] == "statement.received"
    assert Notification.objects.filter(recipient=officer, kind="credit.statement").exists()


def test_statement_after_the_deadline_is_refused(resident):
    record = close_hearing(draft(resident.person))
    with pytest.raises(DomainError) as error:
        services.statement_submit(record=record, actor=resident, text="late")
    assert error.value.code == "hearing_closed"


def test_statement_on_someone_elses_record_is_not_found(resident, other_resident):
    record = draft(resident.person)
    with pytest.raises(NotFound):
        services.statement_submit(record=record, actor=other_resident, text="not mine")


def test_a_disguised_file_is_refused(resident):
    from tests.credit.factories import fake_pdf

    record = draft(resident.person)
    with pytest.raises(DomainError) as error:
        services.statement_submit(record=record, actor=resident, text="x", files=[fake_pdf()])
    assert error.value.field == "files"


def test_an_oversized_file_is_refused(settings, resident):
    settings.CHENGNUO_CREDIT_UPLOAD_MAX_BYTES = 20
    record = draft(resident.person)
    with pytest.raises(DomainError) as error:
        services.statement_submit(record=record, actor=resident, text="x", files=[pdf_upload()])
    assert error.value.field == "files"


# ---- decisions ---------------------------------------------------------------------------


def test_confirming_during_the_hearing_without_a_statement_is_refused(resident, officer):
    record = draft(resident.person)
    with pytest.raises(DomainError) as error:
        services.record_decide(
            record=record, actor=officer, decision="confirm", severity="general", basis="b"
        )
    assert error.value.code == "hearing_open"


def test_a_statement_lets_the_office_decide_before_the_deadline(resident, officer):
    record = draft(resident.person)
    services.statement_submit(record=record, actor=resident, text="我的陈述")
    record = services.record_decide(
        record=record, actor=officer, decision="confirm", severity="general", basis="b"
    )
    assert record.state == RecordState.CONFIRMED


def test_confirm_records_events_push_and_notice(resident, officer):
    record = confirmed(resident.person, officer, severity="serious")
    assert record.decided_by == officer
    assert event_types(record) == ["record.drafted", "record.confirmed", "record.published"]
    push = Push.objects.get(record=record)
    assert (push.version, push.status) == (1, Push.Status.PENDING)
    assert push.payload["severity"] == "serious"
    assert resident.person.id_number not in json.dumps(push.payload)
    assert Notification.objects.filter(recipient=resident, kind="credit.confirm").exists()
    assert AuditEvent.objects.filter(action="credit.record_confirmed").exists()


def test_minor_records_are_confirmed_unpublished(resident, officer):
    record = confirmed(resident.person, officer, severity="minor")
    assert not record.published
    assert "record.published" not in event_types(record)


def test_confirm_needs_severity_and_basis(resident, officer):
    record = close_hearing(draft(resident.person))
    with pytest.raises(DomainError) as error:
        services.record_decide(record=record, actor=officer, decision="confirm", basis="b")
    assert error.value.field == "severity"
    with pytest.raises(DomainError) as error:
        services.record_decide(record=record, actor=officer, decision="confirm", severity="minor")
    assert error.value.field == "basis"


def test_annul_needs_a_reason_and_closes_the_draft(resident, officer):
    record = draft(resident.person)
    with pytest.raises(DomainError):
        services.record_decide(record=record, actor=officer, decision="annul")
    record = services.record_decide(
        record=record, actor=officer, decision="annul", reason="核查结论有误"
    )
    assert record.state == RecordState.ANNULLED
    assert record.annul_reason == "核查结论有误"
    assert event_types(record)[-1] == "record.annulled"
    assert not Push.objects.exists()


def test_a_second_decision_is_a_conflict(resident, officer):
    record = confirmed(resident.person, officer)
    with pytest.raises(Conflict) as error:
        services.record_decide(record=record, actor=officer, decision="annul", reason="again")
    assert error.value.status == 409
    assert CreditRecord.objects.get(pk=record.pk).state == RecordState.CONFIRMED


def test_only_credit_officers_decide(resident):
    record = close_hearing(draft(resident.person))
    clerk = make_staff("window_clerk", "clerk-x")
    with pytest.raises(NotAllowed):
        services.record_decide(
            record=record, actor=clerk, decision="confirm", severity="general", basis="b"
        )


# ---- objections --------------------------------------------------------------------------


def test_objection_marks_the_record_and_has_a_due_date(resident, officer):
    record = confirmed(resident.person, officer)
    with freeze_time(timezone.now()):
        objection = services.objection_file(
            record=record, actor=resident, reasons="处罚依据错误", files=[pdf_upload()]
        )
        assert objection.due_on == timezone.localdate() + dt.timedelta(days=20)
    record.refresh_from_db()
    assert record.state == RecordState.UNDER_OBJECTION
    assert objection.attachments.count() == 1
    assert event_types(record)[-1] == "objection.filed"
    assert Notification.objects.filter(recipient=officer, kind="credit.objection").exists()


def test_objection_days_are_configurable(settings, resident, officer):
    settings.CHENGNUO_CREDIT_OBJECTION_DAYS = 30
    record = confirmed(resident.person, officer)
    objection = services.objection_file(record=record, actor=resident, reasons="r")
    assert objection.due_on == timezone.localdate() + dt.timedelta(days=30)


def test_objection_on_someone_elses_record_is_not_found(resident, other_resident, officer):
    record = confirmed(resident.person, officer)
    with pytest.raises(NotFound):
        services.objection_file(record=record, actor=other_resident, reasons="r")
    assert CreditRecord.objects.get(pk=record.pk).state == RecordState.CONFIRMED


def test_a_second_open_objection_is_a_conflict(resident, officer):
    record = confirmed(resident.person, officer)
    services.objection_file(record=record, actor=resident, reasons="r")
    with pytest.raises(Conflict):
        services.objection_file(record=record, actor=resident, reasons="again")


def test_rejected_objection_returns_the_record_to_confirmed(resident, officer):
    record = confirmed(resident.person, officer)
    objection = services.objection_file(record=record, actor=resident, reasons="r")
    services.objection_decide(
        objection=objection, actor=officer, decision="rejected", reason="依据充分"
    )
    record.refresh_from_db()
    assert record.state == RecordState.CONFIRMED
    assert event_types(record)[-1] == "objection.rejected"
    with pytest.raises(Conflict):
        services.objection_decide(
            objection=objection, actor=officer, decision="upheld", reason="x", outcome="annul"
        )


def test_upheld_objection_can_annul_the_record(resident, officer):
    record = confirmed(resident.person, officer)
    objection = services.objection_file(record=record, actor=resident, reasons="r")
    services.objection_decide(
        objection=objection, actor=officer, decision="upheld", reason="认定错误", outcome="annul"
    )
    record.refresh_from_db()
    assert record.state == RecordState.ANNULLED
    assert event_types(record)[-2:] == ["objection.upheld", "record.annulled"]
    assert Push.objects.filter(record=record).count() == 2


def test_upheld_objection_can_correct_severity_and_windows(resident, officer):
    with freeze_time("2026-03-10 10:00:00+08:00"):
        record = confirmed(resident.person, officer, severity="serious")
    with freeze_time("2026-03-20 10:00:00+08:00"):
        objection = services.objection_file(record=record, actor=resident, reasons="过重")
        services.objection_decide(
            objection=objection,
            actor=officer,
            decision="upheld",
            reason="情节一般",
            outcome="correct",
            severity="general",
        )
    record.refresh_from_db()
    assert record.state == RecordState.CONFIRMED
    assert record.severity == "general"
    # Periods still run from the original decision date.
    assert record.repair_possible_on == dt.date(2026, 6, 10)
    assert record.publication_ends_on == dt.date(2027, 3, 10)
    corrected = json.loads(LedgerEntry.objects.filter(record_id=record.pk).last().event)
    assert corrected["type"] == "record.corrected"
    assert corrected["data"]["before"]["severity"] == "serious"
    assert corrected["data"]["after"]["severity"] == "general"


def test_upheld_objection_needs_an_outcome(resident, officer):
    record = confirmed(resident.person, officer)
    objection = services.objection_file(record=record, actor=resident, reasons="r")
    with pytest.raises(DomainError) as error:
        services.objection_decide(objection=objection, actor=officer, decision="upheld", reason="x")
    assert error.value.field == "outcome"


# ---- repair ------------------------------------------------------------------------------


def test_repair_before_the_minimum_period_names_the_date(resident, officer):
    with freeze_time("2026-03-10 10:00:00+08:00"):
        record = confirmed(resident.person, officer, severity="general")
    with freeze_time("2026-06-09 10:00:00+08:00"), pytest.raises(DomainError) as error:
        services.repair_apply(record=record, actor=resident, credit_pledge="p", correction="c")
    assert error.value.status == 400
    assert error.value.code == "too_early"
    assert error.value.extra["possible_from"] == "2026-06-10"


def test_approved_repair_stops_publication_and_blocking_at_once(resident, officer):
    from credit.selectors import eligibility_for, published_records

    with freeze_time("2026-03-10 10:00:00+08:00"):
        record = confirmed(resident.person, officer, severity="general")
    with freeze_time("2026-06-10 10:00:00+08:00"):
        assert not eligibility_for(resident.person).eligible
        assert record in published_records()
        repair = services.repair_apply(
            record=record,
            actor=resident,
            credit_pledge="本人承诺材料真实",
            correction="已退还补助",
            files=[pdf_upload()],
        )
        assert repair.due_on == dt.date(2026, 6, 24)  # 10 working days
        services.repair_decide(repair=repair, actor=officer, decision="approved")
        record.refresh_from_db()
        assert record.state == RecordState.REPAIRED
        assert eligibility_for(resident.person).eligible
        assert record not in published_records()
    assert event_types(record)[-3:] == ["repair.applied", "repair.approved", "publication.stopped"]
    assert list(Push.objects.filter(record=record).values_list("version", flat=True)) == [1, 2]


def test_rejected_repair_needs_reasons_and_keeps_the_record(resident, officer):
    record = confirmed(resident.person, officer, severity="minor")
    repair = services.repair_apply(record=record, actor=resident, credit_pledge="p", correction="c")
    with pytest.raises(DomainError):
        services.repair_decide(repair=repair, actor=officer, decision="rejected")
    services.repair_decide(repair=repair, actor=officer, decision="rejected", reason="材料不全")
    record.refresh_from_db()
    assert record.state == RecordState.CONFIRMED
    repair.refresh_from_db()
    assert repair.status == RepairApplication.Status.REJECTED
    with pytest.raises(Conflict):
        services.repair_decide(repair=repair, actor=officer, decision="approved")


def test_repair_while_under_objection_is_a_conflict(resident, officer):
    record = confirmed(resident.person, officer, severity="minor")
    services.objection_file(record=record, actor=resident, reasons="r")
    with pytest.raises(Conflict):
        services.repair_apply(record=record, actor=resident, credit_pledge="p", correction="c")


def test_repair_on_someone_elses_record_is_not_found(resident, other_resident, officer):
    record = confirmed(resident.person, officer, severity="minor")
    with pytest.raises(NotFound):
        services.repair_apply(
            record=record, actor=other_resident, credit_pledge="p", correction="c"
        )


# ---- daily tasks -------------------------------------------------------------------------


def test_expiry_task_ends_records_once(resident, officer):
    with freeze_time("2026-03-10 10:00:00+08:00"):
        record = confirmed(resident.person, officer, severity="minor")
    with freeze_time("2026-06-09 10:00:00+08:00"):
        assert tasks.expire_records() == 0
    with freeze_time("2026-06-10 00:20:00+08:00"):
        assert tasks.expire_records() == 1
        assert tasks.expire_records() == 0
    record.refresh_from_db()
    assert record.state == RecordState.EXPIRED
    assert event_types(record)[-1] == "record.expired"
    assert Push.objects.filter(record=record).count() == 2


def test_overdue_objections_and_repairs_are_flagged_once(resident, officer):
    with freeze_time("2026-03-10 10:00:00+08:00"):
        first = confirmed(resident.person, officer, severity="minor")
        second = confirmed(resident.person, officer, severity="minor")
        objection = services.objection_file(record=first, actor=resident, reasons="r")
        repair = services.repair_apply(
            record=second, actor=resident, credit_pledge="p", correction="c"
        )
    with freeze_time("2026-03-30 10:00:00+08:00"):
        assert tasks.flag_overdue() == {"objections": 0, "repairs": 1}
    with freeze_time("2026-03-31 10:00:00+08:00"):
        assert tasks.flag_overdue() == {"objections": 1, "repairs": 0}
        assert tasks.flag_overdue() == {"objections": 0, "repairs": 0}
    assert Objection.objects.get(pk=objection.pk).overdue
    assert RepairApplication.objects.get(pk=repair.pk).overdue
    assert Notification.objects.filter(recipient=officer, kind="credit.overdue").count() == 2
