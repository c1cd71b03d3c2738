"""Promises with deadlines turn into written checks; tasks past their time limit are flagged
and the officer and the supervisors told; both daily jobs are safe to run twice."""

import datetime as dt

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from freezegun import freeze_time

from accounts import roles
from core.errors import Conflict, NotAllowed
from core.models import Notification
from credit.models import CreditRecord
from pledges.models import PledgeStatus
from tests.factories import login_staff, make_resident, make_staff, sign_pledge
from tests.verification.test_findings import PDF, draw_one
from verification import services, tasks
from verification.models import CheckTask, PromiseFulfilment, PromiseTerm, TaskStatus

pytestmark = pytest.mark.django_db


@pytest.fixture
def promised(officers, matter):
    """A pledge whose template promises a document within 30 days."""
    term = PromiseTerm.objects.create(
        template=matter.current_template(),
        key="document",
        text="30日内补交收入证明",
        deadline_days=30,
    )
    resident = make_resident("promiser")
    pledge = sign_pledge(resident, matter)
    return pledge, term, resident


def pdf():
    return SimpleUploadedFile("收入证明.pdf", PDF, content_type="application/pdf")


def test_an_unfulfilled_promise_past_its_deadline_becomes_one_written_check(promised):
    pledge, term, _resident = promised
    signed = timezone.localdate(pledge.signed_at)
    with freeze_time(signed + dt.timedelta(days=30)):
        assert tasks.check_promise_deadlines() == 0  # the last day is still in time
    with freeze_time(signed + dt.timedelta(days=31)):
        assert tasks.check_promise_deadlines() == 1
        assert tasks.check_promise_deadlines() == 0  # a rerun makes none twice
    task = CheckTask.objects.get()
    assert (task.origin, task.method, task.promise_term) == ("promise", "written", term)
    assert task.lead is not None
    pledge.refresh_from_db()
    assert pledge.status == PledgeStatus.UNDER_CHECK
    assert task.status_before == PledgeStatus.SIGNED


def test_a_breach_found_by_the_written_check_drafts_a_breach_record(promised):
    pledge, term, _resident = promised
    with freeze_time(timezone.localdate(pledge.signed_at) + dt.timedelta(days=40)):
        tasks.check_promise_deadlines()
        task = CheckTask.objects.get()
        services.evidence_add(task=task, actor=task.lead, upload=pdf())
        services.finding_record(
            task=task, actor=task.lead, result="breach", method="written", reason="逾期未补交"
        )
    record = CreditRecord.objects.get()
    assert record.kind == "breach"
    assert record.facts["check"]["promise"] == term.text
    pledge.refresh_from_db()
    assert pledge.status == PledgeStatus.REVOCATION_PENDING


def test_a_fulfilled_promise_makes_no_check(promised):
    pledge, term, resident = promised
    fulfilment = services.promise_fulfil(pledge=pledge, term=term, actor=resident, upload=pdf())
    assert fulfilment.content_type == "application/pdf" and len(fulfilment.sha256) == 64
    with freeze_time(timezone.localdate(pledge.signed_at) + dt.timedelta(days=60)):
        assert tasks.check_promise_deadlines() == 0
    with pytest.raises(Conflict):
        services.promise_fulfil(pledge=pledge, term=term, actor=resident, upload=pdf())


def test_a_window_clerk_may_mark_it_fulfilled_but_nobody_else(promised):
    pledge, term, _resident = promised
    with pytest.raises(NotAllowed):
        services.promise_fulfil(
            pledge=pledge, term=term, actor=make_resident("other"), upload=pdf()
        )
    clerk = make_staff(roles.WINDOW_CLERK, "clerk")
    services.promise_fulfil(pledge=pledge, term=term, actor=clerk, upload=pdf())
    assert PromiseFulfilment.objects.get().fulfilled_by == clerk


def test_the_resident_marks_it_fulfilled_from_my_checks(client, promised):
    pledge, term, resident = promised
    client.force_login(resident)
    page = client.get("/checks/my/").content.decode()
    assert term.text in page
    response = client.post(f"/checks/promises/{pledge.number}/{term.pk}/", {"file": pdf()})
    assert response.status_code == 302
    assert PromiseFulfilment.objects.filter(pledge=pledge, term=term).exists()


def test_a_clerk_marks_it_fulfilled_from_the_window(client, promised):
    pledge, term, resident = promised
    login_staff(client, make_staff(roles.WINDOW_CLERK, "clerk"))
    url = f"/checks/promises/{pledge.number}/{term.pk}/"
    # An online pledge: the clerk reaches it once the resident is looked up at the window.
    assert client.post(url, {"file": pdf()}).status_code == 404
    client.get("/window/", {"q": resident.person.id_number})
    client.post(url, {"file": pdf()})
    assert PromiseFulfilment.objects.filter(pledge=pledge, term=term).exists()


# ---- tasks past their time limit -----------------------------------------------------------------


def test_overdue_tasks_are_flagged_once_and_officer_and_supervisors_told(officers, matter):
    supervisor = make_staff(roles.VERIFICATION_SUPERVISOR, "supervisor")
    task = draw_one(matter)
    with freeze_time(task.due_date):
        assert tasks.flag_overdue_tasks() == 0  # due today: not late yet
    with freeze_time(task.due_date + dt.timedelta(days=1)):
        assert tasks.flag_overdue_tasks() == 1
        assert tasks.flag_overdue_tasks() == 0
    task.refresh_from_db()
    assert task.overdue_flagged_at is not None
    assert (
        Notification.objects.filter(recipient=task.lead, kind="verification.overdue").count() == 1
    )
    assert (
        Notification.objects.filter(recipient=supervisor, kind="verification.overdue").count() == 1
    )


def test_a_finished_task_is_never_flagged(officers, matter):
    task = draw_one(matter)
    services.data_check_run(task=task, actor=task.lead)
    services.finding_record(
        task=task, actor=task.lead, result="truthful", method="data_check", reason="一致"
    )
    with freeze_time(task.due_date + dt.timedelta(days=5)):
        assert tasks.flag_overdue_tasks() == 0
    task.refresh_from_db()
    assert task.status == TaskStatus.DONE and task.overdue_flagged_at is None


def test_the_supervisor_finds_overdue_tasks_in_the_api(officers, matter):
    from tests.conftest import client_for

    supervisor = make_staff(roles.VERIFICATION_SUPERVISOR, "supervisor")
    task = draw_one(matter)
    with freeze_time(task.due_date + dt.timedelta(days=1)):
        tasks.flag_overdue_tasks()
        body = client_for(supervisor).get("/api/v1/verification/tasks/?overdue=1").json()
    assert [row["id"] for row in body["results"]] == [task.pk]
    assert body["results"][0]["late"] is True


def test_the_daily_jobs_are_on_the_beat_schedule():
    from django_celery_beat.models import PeriodicTask

    names = set(PeriodicTask.objects.values_list("task", flat=True))
    assert {
        "verification.tasks.check_promise_deadlines",
        "verification.tasks.flag_overdue_tasks",
        "verification.tasks.follow_up_pending_draws",
    } <= names
