"""The verification API: who may do what (a role × endpoint matrix), the task list contract,
findings with evidence, 409 on a repeat, countersign, assist requests, reassignment."""

import base64

import pytest

from accounts import roles
from tests.conftest import client_for
from tests.factories import UnitFactory, make_resident
from tests.verification.conftest import make_plan, make_pledges
from tests.verification.test_findings import PDF, PNG, draw_one
from verification import services
from verification.models import CheckTask, Draw, Evidence, Finding, SpotCheckPlan

pytestmark = pytest.mark.django_db

API = "/api/v1/verification"


def data_uri(content: bytes, mime="application/pdf") -> str:
    return f"data:{mime};base64," + base64.b64encode(content).decode()


@pytest.fixture
def drawn(officers, matter):
    """A drawn task with its data check done, and a plan with new pledges to draw."""
    task = draw_one(matter)
    services.data_check_run(task=task, actor=task.lead)
    return task


# ---- the matrix ---------------------------------------------------------------------------------

ALL = ("anonymous", "resident", *roles.STAFF_ROLES)
READERS = {"verification_officer", "verification_supervisor", "catalog_admin", "oversight_officer"}


def actor_for(name, staff, resident):
    if name == "anonymous":
        return None
    if name == "resident":
        return resident
    return staff[name]


@pytest.mark.parametrize("who", ALL)
def test_who_reads_plans(who, staff, resident, matter):
    make_plan(matter=matter)
    response = client_for(actor_for(who, staff, resident)).get(f"{API}/plans/")
    expected = 200 if who in READERS else (401 if who == "anonymous" else 403)
    assert response.status_code == expected, response.content


@pytest.mark.parametrize("who", ALL)
def test_only_the_catalog_administrator_keeps_plans(who, staff, resident, matter):
    body = {
        "name": "抽查",
        "matter": matter.code,
        "ratio": "0.05",
        "minimum": 2,
        "cadence": "daily",
    }
    response = client_for(actor_for(who, staff, resident)).post(
        f"{API}/plans/", body, format="json"
    )
    expected = 201 if who == "catalog_admin" else (401 if who == "anonymous" else 403)
    assert response.status_code == expected, response.content
    if expected == 201:
        plan = SpotCheckPlan.objects.get()
        assert plan.periodic_task.crontab.hour == "0"
        assert response.json()["crontab"] == "5 0 * * *"


@pytest.mark.parametrize("who", ALL)
def test_who_lists_draws(who, staff, resident):
    response = client_for(actor_for(who, staff, resident)).get(f"{API}/draws/")
    expected = 200 if who in READERS else (401 if who == "anonymous" else 403)
    assert response.status_code == expected


@pytest.mark.parametrize("who", ALL)
def test_who_runs_a_draw(who, staff, resident, matter):
    make_pledges(matter, 10)
    plan = make_plan(matter=matter, ratio="0.2")
    response = client_for(actor_for(who, staff, resident)).post(
        f"{API}/draws/", {"plan": plan.pk}, format="json"
    )
    runners = {"verification_supervisor", "catalog_admin"}
    expected = 201 if who in runners else (401 if who == "anonymous" else 403)
    assert response.status_code == expected, response.content
    assert Draw.objects.count() == (1 if expected == 201 else 0)


@pytest.mark.parametrize("who", ALL)
def test_who_lists_tasks(who, staff, resident):
    response = client_for(actor_for(who, staff, resident)).get(f"{API}/tasks/")
    allowed = {"verification_officer", "verification_supervisor"}
    expected = 200 if who in allowed else (401 if who == "anonymous" else 403)
    assert response.status_code == expected


@pytest.mark.parametrize(
    ("who", "status"),
    # An officer who is not on the task does not see it (404); the supervisor of its
    # department sees it but may not record its finding (403); other roles are refused.
    [
        ("other_officer", 404),
        ("supervisor", 403),
        ("resident", 403),
        ("owner", 403),
        ("window_clerk", 403),
    ],
)
def test_a_finding_on_a_task_you_do_not_lead_is_refused(
    who, status, drawn, officers, supervisor, staff
):
    actor = {
        "other_officer": next(o for o in officers if o.pk != drawn.lead_id),
        "supervisor": supervisor,
        "resident": make_resident("stranger"),
        "owner": drawn.pledge.account,
        "window_clerk": staff["window_clerk"],
    }[who]
    response = client_for(actor).post(
        f"{API}/tasks/{drawn.pk}/findings/",
        {"result": "truthful", "method": "data_check", "reason": "x"},
        format="json",
    )
    assert response.status_code == status
    assert not Finding.objects.exists()


def test_a_finding_on_no_task_is_404(drawn):
    response = client_for(drawn.lead).post(
        f"{API}/tasks/999999/findings/", {"result": "truthful"}, format="json"
    )
    assert response.status_code == 404


# ---- the task list ------------------------------------------------------------------------------


def test_an_officer_sees_the_tasks_they_lead_by_due_date(officers, matter):
    make_pledges(matter, 40)
    services.draw_execute(plan=make_plan(matter=matter, ratio="1", method="onsite"))
    officer = officers[0]
    body = client_for(officer).get(f"{API}/tasks/?page_size=200").json()
    led = CheckTask.objects.filter(lead=officer)
    assert body["count"] == led.count() > 0
    row = body["results"][0]
    assert set(row) >= {
        "id",
        "pledge_number",
        "matter",
        "method",
        "due_date",
        "lead",
        "second",
        "status",
    }
    assert {r["lead"] for r in body["results"]} == {officer.username}
    dues = [r["due_date"] for r in body["results"]]
    assert dues == sorted(dues)

    second = client_for(officer).get(f"{API}/tasks/?as=second&page_size=200").json()
    assert {r["second"] for r in second["results"]} == {officer.username}
    assert second["count"] == CheckTask.objects.filter(second=officer).count()


def test_a_supervisor_sees_every_task(officers, supervisor, matter):
    make_pledges(matter, 12)
    services.draw_execute(plan=make_plan(matter=matter, ratio="1"))
    body = client_for(supervisor).get(f"{API}/tasks/").json()
    assert body["count"] == 12


def test_task_detail_shows_the_frozen_pledge_and_the_matters_methods(drawn, officers):
    body = client_for(drawn.lead).get(f"{API}/tasks/{drawn.pk}/").json()
    assert body["pledge"]["content"] == drawn.pledge.content
    assert body["pledge"]["content_sha256"] == drawn.pledge.content_sha256
    assert body["methods"] == ["data_check", "written", "onsite"]
    assert body["evidence"][0]["kind"] == "data_check"
    stranger = next(o for o in officers if o.pk != drawn.lead_id)
    assert client_for(stranger).get(f"{API}/tasks/{drawn.pk}/").status_code == 404


# ---- findings -----------------------------------------------------------------------------------


def test_the_lead_records_a_false_finding_with_evidence_then_a_repeat_is_409(drawn):
    url = f"{API}/tasks/{drawn.pk}/findings/"
    data_check = Evidence.objects.get(task=drawn)
    body = {
        "result": "false",
        "method": "data_check",
        "reason": "系统显示名下有房产",
        "evidence": [data_check.pk, {"name": "房产登记.pdf", "data": data_uri(PDF)}],
    }
    response = client_for(drawn.lead).post(url, body, format="json")
    assert response.status_code == 201, response.content
    finding = response.json()
    assert finding["result"] == "false" and finding["credit_record_id"]
    assert finding["effective_at"] and finding["late"] is False
    uploaded = Evidence.objects.get(original_name="房产登记.pdf")
    assert uploaded.content_type == "application/pdf" and uploaded.finding_id == finding["id"]
    assert {e["id"] for e in finding["evidence"]} == {data_check.pk, uploaded.pk}

    again = client_for(drawn.lead).post(url, {**body, "result": "truthful"}, format="json")
    assert again.status_code == 409
    assert again.json()["code"] == "finding_exists"
    assert client_for(drawn.lead).get(url).json()["result"] == "false"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"result": "nope"}, "result"),
        ({"method": "telepathy"}, "method"),
        ({"reason": ""}, "reason"),
        ({"evidence": [{"name": "x.exe", "data": data_uri(b"MZ\x90\x00binary")}]}, "evidence"),
        ({"evidence": ["not-a-file"]}, "evidence"),
        ({"method": "onsite"}, "notes"),
    ],
)
def test_bad_findings_get_400_with_the_field(drawn, body, field):
    data = {"result": "truthful", "method": "data_check", "reason": "ok", **body}
    response = client_for(drawn.lead).post(f"{API}/tasks/{drawn.pk}/findings/", data, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()
    assert not Finding.objects.exists()


def test_an_oversized_evidence_file_is_refused(drawn, settings):
    settings.CHENGNUO_VERIFICATION_EVIDENCE_MAX_BYTES = 1000
    big = PDF + b"0" * 2000
    response = client_for(drawn.lead).post(
        f"{API}/tasks/{drawn.pk}/findings/",
        {
            "result": "truthful",
            "method": "data_check",
            "reason": "ok",
            "evidence": [{"name": "big.pdf", "data": data_uri(big)}],
        },
        format="json",
    )
    assert response.status_code == 400
    assert "evidence" in response.json()


def test_evidence_upload_sniffs_the_type_and_serves_it_only_to_those_allowed(
    drawn, officers, settings
):
    url = f"{API}/tasks/{drawn.pk}/evidence/"
    fake = client_for(drawn.lead).post(
        url,
        {"data": data_uri(b"<html>not a picture</html>", "image/png"), "name": "x.png"},
        format="json",
    )
    assert fake.status_code == 400
    response = client_for(drawn.lead).post(
        url, {"data": data_uri(PNG, "image/png"), "name": "现场.png"}, format="json"
    )
    assert response.status_code == 201
    item = response.json()
    assert item["content_type"] == "image/png"
    file_url = item["url"]
    got = client_for(drawn.lead).get(file_url)
    assert got.status_code == 200
    assert b"".join(got.streaming_content) == PNG
    assert got["X-Content-Type-Options"] == "nosniff"
    assert got["Content-Disposition"].startswith("attachment")
    stranger = next(o for o in officers if o.pk != drawn.lead_id)
    assert client_for(stranger).get(file_url).status_code == 404
    assert client_for(drawn.pledge.account).get(file_url).status_code == 404
    assert client_for(None).get(file_url).status_code in (401, 403)
    # Not under the web root: the media URL does not serve it.
    evidence = Evidence.objects.get(pk=item["id"])
    assert evidence.file.path.startswith(str(settings.PRIVATE_ROOT))
    assert not evidence.file.path.startswith(str(settings.MEDIA_ROOT))


def test_on_site_finding_then_countersign_through_the_api(officers, matter):
    task = draw_one(matter, method="onsite")
    response = client_for(task.lead).post(
        f"{API}/tasks/{task.pk}/findings/",
        {"result": "truthful", "method": "onsite", "reason": "属实", "notes": "现场核实"},
        format="json",
    )
    assert response.status_code == 201
    assert response.json()["effective_at"] is None
    listed = client_for(task.second).get(f"{API}/tasks/?as=second").json()["results"]
    assert [r["status"] for r in listed] == ["awaiting_countersign"]
    assert client_for(task.lead).post(f"{API}/tasks/{task.pk}/countersign/").status_code == 403
    ok = client_for(task.second).post(f"{API}/tasks/{task.pk}/countersign/", {"note": "同意"})
    assert ok.status_code == 200 and ok.json()["effective_at"]
    assert client_for(task.second).post(f"{API}/tasks/{task.pk}/countersign/").status_code == 409


def test_assist_requests_are_sent_and_answered(officers):
    from tests.factories import MatterFactory

    matter = MatterFactory(verification_methods=["assisted"])
    task = draw_one(matter)
    UnitFactory(code="PA", name="市公安局")
    url = f"{API}/tasks/{task.pk}/assist-requests/"
    created = client_for(task.lead).post(url, {"department": "PA", "question": "核查户籍"})
    assert created.status_code == 201, created.content
    request_id = created.json()["id"]
    assert (
        client_for(task.lead).post(url, {"department": "NOPE", "question": "x"}).status_code == 400
    )
    answered = client_for(task.lead).post(
        f"{url}{request_id}/answer/", {"answer": "户籍属实", "file": data_uri(PDF)}, format="json"
    )
    assert answered.status_code == 200, answered.content
    assert answered.json()["evidence"]["content_type"] == "application/pdf"
    assert client_for(task.lead).get(url).json()[0]["answer"] == "户籍属实"
    finding = client_for(task.lead).post(
        f"{API}/tasks/{task.pk}/findings/",
        {"result": "truthful", "method": "assisted", "reason": "公安协查属实"},
        format="json",
    )
    assert finding.status_code == 201


def test_a_supervisor_reassigns_but_not_to_an_officer_with_a_conflict(drawn, officers, supervisor):
    new = next(o for o in officers if o.pk != drawn.lead_id and o.username != "officer-town")
    url = f"{API}/tasks/{drawn.pk}/reassign/"
    assert client_for(drawn.lead).post(url, {"lead": new.username}).status_code == 403
    response = client_for(supervisor).post(url, {"lead": new.username})
    assert response.status_code == 200 and response.json()["lead"] == new.username
    # The applicant's own town office has a conflict.
    town_officer = next(o for o in officers if o.username == "officer-town")
    from pledges.models import Pledge

    Pledge.objects.filter(pk=drawn.pledge_id).update(applicant_town=town_officer.unit)
    refused = client_for(supervisor).post(url, {"lead": town_officer.username})
    assert refused.status_code == 400 and "lead" in refused.json()
    drawn.refresh_from_db()
    assert drawn.lead == new


def test_running_a_draw_with_nothing_new_answers_200_nothing_to_draw(staff, matter):
    make_pledges(matter, 3)
    plan = make_plan(matter=matter)
    client = client_for(staff["verification_supervisor"])
    first = client.post(f"{API}/draws/", {"plan": plan.pk}, format="json")
    assert first.status_code == 201
    assert first.json()["population_count"] == 3
    second = client.post(f"{API}/draws/", {"plan": plan.pk}, format="json")
    assert second.status_code == 200 and second.json()["code"] == "nothing_to_draw"
    population = client.get(first.json()["population_url"])
    assert population.status_code == 200
    assert population["X-Content-SHA256"] == first.json()["population_sha256"]


def test_bad_plans_get_400(staff, matter):
    client = client_for(staff["catalog_admin"])
    both = client.post(
        f"{API}/plans/",
        {"name": "x", "matter": matter.code, "risk_level": "low", "ratio": "0.1"},
        format="json",
    )
    assert both.status_code == 400 and "matter" in both.json()
    too_much = client.post(
        f"{API}/plans/", {"name": "x", "risk_level": "low", "ratio": "1.5"}, format="json"
    )
    assert too_much.status_code == 400 and "ratio" in too_much.json()
