"""Findings: final once recorded, only by the lead, late ones marked; their consequences in the
same transaction (pledge state, credit draft); two-officer on-site checks on countersign."""

import datetime as dt
import threading

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from freezegun import freeze_time

from core.errors import Conflict, DomainError, NotAllowed
from credit.models import CreditRecord
from pledges.models import PledgeStatus
from tests.factories import UnitFactory, make_resident, sign_pledge
from tests.verification.conftest import make_plan
from verification import services
from verification.models import CheckTask, Draw, Evidence, Finding, TaskStatus

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"
    b"\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\xdac\xfc\xcf\xc0P\x0f\x00\x04\x85\x01\x80\x84\xa9\x8c"
    b"!\x00\x00\x00\x00IEND\xaeB`\x82"
)


def draw_one(matter, *, method="", resident=None, decided=False):
    """One pledge signed by a resident, drawn with ratio 1: its task."""
    resident = resident or make_resident()
    pledge = sign_pledge(resident, matter)
    if decided:
        from pledges.models import Pledge

        Pledge.objects.filter(pk=pledge.pk).update(
            status=PledgeStatus.DECIDED, decided_at=pledge.signed_at
        )
    plan = make_plan(matter=matter, ratio="1", method=method)
    draw = services.draw_execute(plan=plan, cutoff=pledge.signed_at + dt.timedelta(seconds=1))
    services.draw_follow_up(draw_id=draw.pk)  # what the worker does after the commit
    return CheckTask.objects.select_related("pledge", "lead", "second").get(draw=draw)


def pdf(name="evidence.pdf"):
    return SimpleUploadedFile(name, PDF, content_type="application/pdf")


@pytest.fixture
def task(officers, matter):
    task = draw_one(matter)
    services.data_check_run(task=task, actor=task.lead)
    return task


def record(task, result="truthful", **kwargs):
    kwargs.setdefault("method", "data_check")
    kwargs.setdefault("reason", "数据核验一致")
    return services.finding_record(task=task, actor=task.lead, result=result, **kwargs)


def test_a_truthful_finding_verifies_the_pledge_and_closes_the_draw(task):
    finding = record(task)
    task.refresh_from_db()
    assert task.status == TaskStatus.DONE
    task.pledge.refresh_from_db()
    assert task.pledge.status == PledgeStatus.VERIFIED
    assert finding.effective_at is not None and finding.credit_record_id is None
    assert Draw.objects.get(pk=task.draw_id).closed_at is not None
    assert not CreditRecord.objects.exists()


def test_a_false_finding_moves_the_pledge_to_revocation_and_drafts_a_credit_record(task):
    Evidence.objects.filter(task=task).update(note="系统显示不符")
    finding = record(task, "false", reason="登记信息与承诺不符", uploads=[pdf()])
    task.pledge.refresh_from_db()
    assert task.pledge.status == PledgeStatus.REVOCATION_PENDING
    draft = CreditRecord.objects.get()
    assert draft.pk == finding.credit_record_id
    assert draft.state == "pending_review"
    assert draft.kind == "false_pledge"
    assert draft.source == f"verification.finding:{finding.pk}"
    assert draft.person_id == task.pledge.person_id
    facts = draft.facts
    assert facts["pledge_number"] == task.pledge.number
    assert facts["matter_code"] == task.matter.code
    assert facts["finding"]["result"] == "false"
    assert facts["finding"]["reason"] == "登记信息与承诺不符"
    hashes = {e["sha256"] for e in facts["evidence"]}
    assert hashes == set(Evidence.objects.filter(task=task).values_list("sha256", flat=True))
    assert len(hashes) == 2  # the data-check answer and the uploaded PDF
    # The audit log shows both steps of the pledge.
    from core.models import AuditEvent

    actions = list(
        AuditEvent.objects.filter(object_id=str(task.pledge_id), object_type="pledges.pledge")
        .order_by("id")
        .values_list("action", flat=True)
    )
    assert actions[-2:] == ["pledge.found_false", "pledge.revocation_pending"]


def test_a_breach_drafts_a_breach_record(task):
    record(task, "breach", reason="未在期限内提交材料")
    task.pledge.refresh_from_db()
    assert task.pledge.status == PledgeStatus.REVOCATION_PENDING
    assert CreditRecord.objects.get().kind == "breach"


def test_could_not_verify_returns_the_pledge_to_its_earlier_state(officers, matter):
    signed = draw_one(matter)
    services.data_check_run(task=signed, actor=signed.lead)
    record(signed, "unverifiable", reason="数据源无记录")
    signed.pledge.refresh_from_db()
    assert signed.pledge.status == PledgeStatus.SIGNED

    other = MatterFactory_with_methods()
    decided = draw_one(other, decided=True)
    services.data_check_run(task=decided, actor=decided.lead)
    record(decided, "unverifiable", reason="数据源无记录")
    decided.pledge.refresh_from_db()
    assert decided.pledge.status == PledgeStatus.DECIDED


def MatterFactory_with_methods():
    from tests.factories import MatterFactory

    return MatterFactory(verification_methods=["data_check", "written", "onsite"])


def test_a_finding_is_final_a_second_one_is_a_conflict(task):
    record(task)
    with pytest.raises(Conflict):
        record(task, "false")
    assert Finding.objects.count() == 1


def test_only_the_lead_records_the_finding(task, officers, supervisor):
    other = next(o for o in officers if o.pk != task.lead_id)
    for actor in (other, supervisor):
        with pytest.raises(NotAllowed):
            services.finding_record(
                task=task, actor=actor, result="truthful", method="data_check", reason="x"
            )
    assert not Finding.objects.exists()


def test_a_late_finding_is_allowed_and_marked(task):
    with freeze_time(task.due_date + dt.timedelta(days=3)):
        finding = record(task)
    assert finding.late is True
    assert finding.effective_at is not None


def test_a_finding_in_time_is_not_late(task):
    assert record(task).late is False


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"result": "maybe"}, "result"),
        ({"method": "telepathy"}, "method"),
        ({"method": "assisted"}, "method"),  # not one of this matter's methods
        ({"reason": "  "}, "reason"),
        ({"method": "onsite", "notes": ""}, "notes"),
        ({"method": "written"}, "evidence"),  # a written check needs the documents
        ({"evidence_ids": [999999]}, "evidence"),
    ],
)
def test_bad_findings_say_which_field(task, kwargs, field):
    data = {"result": "truthful", "method": "data_check", "reason": "ok", **kwargs}
    with pytest.raises(DomainError) as raised:
        services.finding_record(task=task, actor=task.lead, **data)
    assert raised.value.field == field
    assert raised.value.status == 400
    assert not Finding.objects.exists()


def test_a_data_check_finding_needs_the_data_source_answer(officers, matter):
    task = draw_one(matter)
    with pytest.raises(DomainError) as refused:
        record(task)
    assert refused.value.field == "method"
    evidence = services.data_check_run(task=task, actor=task.lead)
    assert evidence.kind == Evidence.Kind.DATA_CHECK
    assert evidence.content_type == "application/json"
    assert b'"verdict"' in evidence.file.read()
    record(task)


def test_the_local_registry_answers_from_its_csv(officers, matter):
    from accounts.models import Person
    from verification.adapters import load_registry_csv

    load_registry_csv()
    resident = make_resident("registry-resident")
    person = resident.person
    person.set_id_number("419001194910011075")  # 刘建国: the registry contradicts him
    Person.objects.filter(pk=person.pk).update(
        id_hash=person.id_hash, id_number=person.id_number, id_masked=person.id_masked
    )
    resident.refresh_from_db()
    task = draw_one(matter, resident=resident)
    evidence = services.data_check_run(task=task, actor=task.lead)
    assert "contradicts" in evidence.file.read().decode()
    assert "迁出" in evidence.note


def test_an_assisted_check_needs_the_departments_answer(officers):
    matter = MatterFactory_with_methods()
    matter.verification_methods = ["assisted"]
    matter.save()
    task = draw_one(matter)
    department = UnitFactory(code="PA", name="市公安局")
    with pytest.raises(DomainError):
        record(task, method="assisted")
    request = services.assist_request_create(
        task=task, actor=task.lead, department=department, question="请核查户籍"
    )
    services.assist_request_answer(
        request=request, actor=task.lead, answer="户籍属实", upload=pdf()
    )
    with pytest.raises(Conflict):
        services.assist_request_answer(request=request, actor=task.lead, answer="again")
    finding = record(task, method="assisted")
    assert finding.effective_at


# ---- two officers on site ---------------------------------------------------------------------


@pytest.fixture
def onsite(officers, matter):
    return draw_one(matter, method="onsite")


def test_an_on_site_finding_takes_effect_when_the_second_officer_countersigns(onsite):
    assert onsite.second is not None
    finding = record(onsite, "false", method="onsite", notes="现场无经营场所", reason="承诺不实")
    onsite.refresh_from_db()
    onsite.pledge.refresh_from_db()
    assert onsite.status == TaskStatus.AWAITING_COUNTERSIGN
    assert onsite.pledge.status == PledgeStatus.UNDER_CHECK
    assert finding.effective_at is None
    assert not CreditRecord.objects.exists()

    with pytest.raises(NotAllowed):
        services.finding_countersign(task=onsite, actor=onsite.lead)
    services.finding_countersign(task=onsite, actor=onsite.second, note="同意")
    finding.refresh_from_db()
    onsite.pledge.refresh_from_db()
    assert finding.countersigned_by == onsite.second and finding.effective_at
    assert onsite.pledge.status == PledgeStatus.REVOCATION_PENDING
    record_ = CreditRecord.objects.get()
    assert record_.facts["finding"]["countersigned_by"] == onsite.second.username
    with pytest.raises(Conflict):
        services.finding_countersign(task=onsite, actor=onsite.second)


def test_a_second_officer_is_drawn_when_the_lead_goes_on_site_unplanned(task):
    assert task.second is None
    record(task, method="onsite", notes="入户核查")
    task.refresh_from_db()
    assert task.second is not None and task.second_id != task.lead_id
    assert task.status == TaskStatus.AWAITING_COUNTERSIGN


# ---- concurrency -------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_findings_at_once_one_gets_201_the_other_409(officers, matter, monkeypatch):
    """On PostgreSQL two requests race for real (row lock, then the unique constraint). The
    in-memory SQLite test database cannot hold two writers at once, so there the second
    request is made to have read "no finding yet" before the first committed: the unique
    constraint alone must turn it into a 409."""
    from tests.conftest import client_for

    task = draw_one(matter)
    services.data_check_run(task=task, actor=task.lead)
    url = f"/api/v1/verification/tasks/{task.pk}/findings/"
    bodies = [
        {"result": result, "method": "data_check", "reason": "核验"}
        for result in ("truthful", "false")
    ]
    statuses = []
    if connection.vendor == "postgresql":
        barrier = threading.Barrier(2)

        def post(body):
            try:
                barrier.wait()
                statuses.append(client_for(task.lead).post(url, body, format="json").status_code)
            finally:
                connection.close()

        threads = [threading.Thread(target=post, args=(body,)) for body in bodies]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    else:
        statuses.append(client_for(task.lead).post(url, bodies[0], format="json").status_code)
        real_filter = Finding.objects.filter

        class StaleRead:
            def exists(self):
                return False

        monkeypatch.setattr(
            Finding.objects,
            "filter",
            lambda *a, **k: StaleRead() if "task" in k else real_filter(*a, **k),
        )
        statuses.append(client_for(task.lead).post(url, bodies[1], format="json").status_code)
        monkeypatch.undo()
    assert sorted(statuses) == [201, 409]
    assert Finding.objects.count() == 1
    finding = Finding.objects.get()
    assert CreditRecord.objects.count() == (1 if finding.result == "false" else 0)


def test_the_unique_finding_per_task_holds_without_the_lock(task):
    """Even a writer that skipped the row lock cannot add a second finding."""
    from django.db import IntegrityError, transaction

    record(task)
    with pytest.raises(IntegrityError), transaction.atomic():
        Finding.objects.create(
            task=task, result="false", method="data_check", reason="x", recorded_by=task.lead
        )
