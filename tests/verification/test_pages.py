"""Pages: the workbench, a task (recording a finding with files), draws, the resident's
"my checks", evidence downloads and the public results page."""

import datetime as dt

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from accounts import roles
from pledges.models import PledgeStatus
from tests.factories import login_staff, make_resident, make_staff
from tests.verification.conftest import make_plan, make_pledges
from tests.verification.test_findings import PDF, PNG, draw_one
from verification import services
from verification.models import CheckTask, Draw, Evidence, Finding

pytestmark = pytest.mark.django_db


def test_the_workbench_lists_the_officers_tasks_by_due_date(client, officers, matter):
    make_pledges(matter, 20)
    services.draw_execute(plan=make_plan(matter=matter, ratio="1"))
    officer = officers[0]
    login_staff(client, officer)
    page = client.get("/checks/").content.decode()
    mine = CheckTask.objects.filter(lead=officer)
    assert mine.exists()
    for task in mine:
        assert f"/checks/tasks/{task.pk}/" in page
    for task in CheckTask.objects.exclude(lead=officer):
        assert f"/checks/tasks/{task.pk}/" not in page


def test_the_workbench_is_not_for_residents_or_clerks(client, resident):
    client.force_login(resident)
    assert client.get("/checks/").status_code == 404
    login_staff(client, make_staff(roles.WINDOW_CLERK, "clerk"))
    assert client.get("/checks/").status_code == 404


def test_the_lead_records_a_false_finding_with_a_file_on_the_task_page(client, officers, matter):
    task = draw_one(matter)
    login_staff(client, task.lead)
    page = client.get(f"/checks/tasks/{task.pk}/")
    assert page.status_code == 200
    assert task.pledge.content["title"] in page.content.decode()
    client.post(f"/checks/tasks/{task.pk}/data-check/")
    response = client.post(
        f"/checks/tasks/{task.pk}/",
        {
            "result": "false",
            "method": "written",
            "reason": "提交的材料与事实不符",
            "files": [SimpleUploadedFile("材料.pdf", PDF, content_type="application/pdf")],
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    finding = Finding.objects.get(task=task)
    assert finding.result == "false" and finding.effective_at
    task.pledge.refresh_from_db()
    assert task.pledge.status == PledgeStatus.REVOCATION_PENDING
    shown = client.get(f"/checks/tasks/{task.pk}/").content.decode()
    assert 'id="credit-draft"' in shown


def test_the_task_page_shows_form_errors_instead_of_failing(client, officers, matter):
    task = draw_one(matter)
    login_staff(client, task.lead)
    response = client.post(
        f"/checks/tasks/{task.pk}/", {"result": "truthful", "method": "onsite", "reason": "x"}
    )
    assert response.status_code == 200
    assert "field-error" in response.content.decode()  # the notes field says what is missing
    assert not Finding.objects.exists()


def test_another_officer_cannot_open_the_task(client, officers, matter):
    task = draw_one(matter)
    other = next(o for o in officers if o.pk != task.lead_id)
    login_staff(client, other)
    assert client.get(f"/checks/tasks/{task.pk}/").status_code == 404


def test_a_supervisor_sees_the_task_and_reassigns_it(client, officers, supervisor, matter):
    task = draw_one(matter)
    new = next(o for o in officers if o.pk != task.lead_id and o.username != "officer-town")
    login_staff(client, supervisor)
    assert client.get(f"/checks/tasks/{task.pk}/").status_code == 200
    client.post(f"/checks/tasks/{task.pk}/reassign/", {"lead": new.pk})
    task.refresh_from_db()
    assert task.lead == new


def test_a_supervisor_draws_now_from_the_draws_page(client, supervisor, officers, matter):
    make_pledges(matter, 10)
    plan = make_plan(matter=matter, ratio="0.3")
    login_staff(client, supervisor)
    assert f'data-plan="{plan.pk}"' in client.get("/checks/draws/").content.decode()
    response = client.post(f"/checks/draws/run/{plan.pk}/")
    draw = Draw.objects.get()
    assert response.url == f"/checks/draws/{draw.pk}/"
    detail = client.get(response.url).content.decode()
    assert draw.seed in detail and draw.population_sha256 in detail
    again = client.post(f"/checks/draws/run/{plan.pk}/")
    assert again.url == "/checks/draws/" and Draw.objects.count() == 1


def test_an_officer_reads_draws_but_cannot_run_them(client, officers, matter):
    plan = make_plan(matter=matter)
    login_staff(client, officers[0])
    assert client.get("/checks/draws/").status_code == 200
    assert client.post(f"/checks/draws/run/{plan.pk}/").status_code == 404


# ---- the resident ------------------------------------------------------------------------------


def test_the_resident_sees_the_check_and_uploads_material(client, officers, matter):
    resident = make_resident("checked")
    task = draw_one(matter, resident=resident)
    client.force_login(resident)
    page = client.get("/checks/my/").content.decode()
    assert task.pledge.number in page
    client.post(
        f"/checks/my/{task.pk}/material/",
        {"file": SimpleUploadedFile("收入证明.png", PNG, content_type="image/png"), "note": "材料"},
    )
    evidence = Evidence.objects.get(task=task)
    assert evidence.kind == Evidence.Kind.RESIDENT and evidence.content_type == "image/png"
    # The resident reads their own upload; the lead reads it too.
    assert client.get(f"/checks/evidence/{evidence.pk}/").status_code == 200
    login_staff(client, task.lead)
    assert client.get(f"/checks/evidence/{evidence.pk}/").status_code == 200


def test_a_resident_cannot_add_material_to_someone_elses_check(client, officers, matter):
    task = draw_one(matter)
    client.force_login(make_resident("nosy"))
    response = client.post(
        f"/checks/my/{task.pk}/material/",
        {"file": SimpleUploadedFile("x.png", PNG, content_type="image/png")},
    )
    assert response.status_code == 404
    assert not Evidence.objects.exists()


def test_a_file_that_is_not_an_image_or_pdf_is_refused_whatever_its_name(client, officers, matter):
    resident = make_resident("sneaky")
    task = draw_one(matter, resident=resident)
    client.force_login(resident)
    client.post(
        f"/checks/my/{task.pk}/material/",
        {"file": SimpleUploadedFile("photo.png", b"<script>alert(1)</script>", "image/png")},
    )
    assert not Evidence.objects.exists()


def test_the_resident_does_not_read_the_officers_evidence(client, officers, matter):
    resident = make_resident("curious")
    task = draw_one(matter, resident=resident)
    evidence = services.data_check_run(task=task, actor=task.lead)
    client.force_login(resident)
    assert client.get(f"/checks/evidence/{evidence.pk}/").status_code == 404


# ---- one public ----------------------------------------------------------------------------------


def test_the_public_page_lists_finished_draws_with_counts_and_no_personal_data(client, officers):
    from tests.verification.test_findings import MatterFactory_with_methods

    matter = MatterFactory_with_methods()
    resident = make_resident("public", name="张秘密")
    task = draw_one(matter, resident=resident)
    assert "张秘密" not in client.get("/spot-checks/").content.decode()
    draw = task.draw
    assert (
        f"/spot-checks/{draw.pk}/population.tsv" not in client.get("/spot-checks/").content.decode()
    )
    assert client.get(f"/spot-checks/{draw.pk}/population.tsv").status_code == 404

    services.data_check_run(task=task, actor=task.lead)
    services.finding_record(
        task=task, actor=task.lead, result="false", method="data_check", reason="不符"
    )
    page = client.get("/spot-checks/").content.decode()
    assert draw.seed in page and draw.population_sha256 in page
    assert matter.name in page
    assert "张秘密" not in page and task.pledge.number not in page
    download = client.get(f"/spot-checks/{draw.pk}/population.tsv")
    assert download.status_code == 200
    assert b"".join(download.streaming_content).decode().startswith(task.pledge.number)


def test_an_unfinished_draw_is_public_once_its_publication_date_has_passed(
    client, officers, matter
):
    task = draw_one(matter)
    Draw.objects.filter(pk=task.draw_id).update(
        publish_due=timezone.localdate() - dt.timedelta(days=1)
    )
    page = client.get("/spot-checks/").content.decode()
    assert task.draw.seed in page
