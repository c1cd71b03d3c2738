"""The credit API: who may call what (a role × endpoint matrix), filters, reasons, conflicts."""

import datetime as dt

import pytest
from django.utils import timezone

from accounts.roles import STAFF_ROLES
from core.models import AuditEvent
from credit import services
from credit.models import AccessLog, CreditRecord, Objection, RecordState
from tests.conftest import client_for
from tests.credit.factories import PNG_BYTES, close_hearing, confirmed, draft, fake_pdf, pdf_upload

pytestmark = pytest.mark.django_db

ROLES = ["anonymous", "owner", "other_resident", *STAFF_ROLES]


@pytest.fixture
def world(resident, other_resident, staff):
    """The owner's records in every situation the endpoints need, and one user per role."""
    officer = staff["credit_officer"]
    pending = close_hearing(draft(resident.person))
    decided = confirmed(resident.person, officer, severity="minor")
    objected = confirmed(resident.person, officer, severity="minor")
    objection = services.objection_file(
        record=objected, actor=resident, reasons="r", files=[pdf_upload()]
    )
    repaired = confirmed(resident.person, officer, severity="minor")
    repair = services.repair_apply(
        record=repaired, actor=resident, credit_pledge="p", correction="c"
    )
    users = {"anonymous": None, "owner": resident, "other_resident": other_resident, **staff}
    return {
        "users": users,
        "pending": pending,
        "decided": decided,
        "objection": objection,
        "repair": repair,
        "file": objection.attachments.get(),
    }


def expect(role, officer, owner, other_resident, other_staff):
    if role == "anonymous":
        return 401
    return {"credit_officer": officer, "owner": owner, "other_resident": other_resident}.get(
        role, other_staff
    )


# name: method, url, body, expected status for (credit officer, owner, other resident,
# any other staff role); anonymous callers always get 401.
ENDPOINTS = {
    "records list": ("get", "/api/v1/credit/records/", None, (200, 403, 403, 403)),
    "record detail": (
        "get",
        "/api/v1/credit/records/{decided}/?reason=复核",
        None,
        (200, 403, 403, 403),
    ),
    "record decision": (
        "post",
        "/api/v1/credit/records/{pending}/decisions/",
        {"decision": "confirm", "severity": "general", "basis": "b"},
        (200, 403, 403, 403),
    ),
    "objections list": ("get", "/api/v1/credit/objections/", None, (200, 200, 200, 403)),
    "objection detail": (
        "get",
        "/api/v1/credit/objections/{objection}/",
        None,
        (200, 200, 404, 403),
    ),
    "objection decision": (
        "post",
        "/api/v1/credit/objections/{objection}/decision/",
        {"decision": "rejected", "reason": "依据充分"},
        (200, 403, 403, 403),
    ),
    "repairs list": ("get", "/api/v1/credit/repairs/", None, (200, 200, 200, 403)),
    "repair decision": (
        "post",
        "/api/v1/credit/repairs/{repair}/decision/",
        {"decision": "approved"},
        (200, 403, 403, 403),
    ),
    "ledger verify": ("get", "/api/v1/credit/ledger/verify/", None, (200, 403, 403, 403)),
    "file an objection": (
        "post",
        "/api/v1/credit/objections/",
        {"record": "{decided}", "reasons": "错误"},
        (403, 201, 404, 403),
    ),
    "my records": ("get", "/api/v1/me/credit/", None, (200, 200, 200, 200)),
    "my record": ("get", "/api/v1/me/credit/{decided}/", None, (404, 200, 404, 404)),
    "file download": ("get", "/api/v1/credit/files/{file}/", None, (200, 200, 404, 404)),
}


def _fill(value, world):
    ids = {
        "pending": world["pending"].pk,
        "decided": world["decided"].pk,
        "objection": world["objection"].pk,
        "repair": world["repair"].pk,
        "file": world["file"].pk,
    }
    if isinstance(value, str):
        return value.format(**ids)
    if isinstance(value, dict):
        return {k: _fill(v, world) for k, v in value.items()}
    return value


@pytest.mark.parametrize("endpoint", list(ENDPOINTS))
@pytest.mark.parametrize("role", ROLES)
def test_permission_matrix(world, role, endpoint):
    method, url, body, expected = ENDPOINTS[endpoint]
    user = world["users"][role]
    client = client_for(user)
    url = _fill(url, world)
    if method == "get":
        response = client.get(url)
    else:
        response = client.post(url, _fill(body, world), format="json")
    assert response.status_code == expect(role, *expected), (role, endpoint, response.content)


def test_me_credit_lists_only_the_persons_own_records(world):
    owner = client_for(world["users"]["owner"]).get("/api/v1/me/credit/").json()
    other = client_for(world["users"]["other_resident"]).get("/api/v1/me/credit/").json()
    officer = client_for(world["users"]["credit_officer"]).get("/api/v1/me/credit/").json()
    assert owner["count"] == CreditRecord.objects.count() == 4
    assert other["count"] == 0
    assert officer["count"] == 0


def test_residents_see_only_their_own_objections(world, other_resident):
    response = client_for(other_resident).get("/api/v1/credit/objections/")
    assert response.status_code == 200
    assert response.json()["count"] == 0
    assert (
        client_for(other_resident)
        .get(f"/api/v1/credit/objections/{world['objection'].pk}/")
        .status_code
        == 404
    )


def test_an_objection_on_someone_elses_record_is_404(world, other_resident):
    response = client_for(other_resident).post(
        "/api/v1/credit/objections/",
        {"record": world["decided"].pk, "reasons": "不是我的"},
        format="json",
    )
    assert response.status_code == 404
    assert not Objection.objects.filter(record=world["decided"]).exists()


def test_an_objection_on_a_record_that_does_not_exist_is_404(resident):
    response = client_for(resident).post(
        "/api/v1/credit/objections/", {"record": 999999, "reasons": "x"}, format="json"
    )
    assert response.status_code == 404


# ---- reasons and the access log ----------------------------------------------------------


def test_record_detail_without_a_reason_is_400_and_not_logged(world):
    client = client_for(world["users"]["credit_officer"])
    response = client.get(f"/api/v1/credit/records/{world['decided'].pk}/")
    assert response.status_code == 400
    assert "reason" in response.json()
    blank = client.get(f"/api/v1/credit/records/{world['decided'].pk}/?reason=%20")
    assert blank.status_code == 400
    assert not AccessLog.objects.exists()


def test_a_staff_read_is_logged_and_shown_to_the_person(world):
    officer = world["users"]["credit_officer"]
    record = world["decided"]
    response = client_for(officer).get(f"/api/v1/credit/records/{record.pk}/?reason=核对异议材料")
    assert response.status_code == 200
    body = response.json()
    assert body["person"]["name"] == record.person.name
    assert [e["type"] for e in body["events"]][:2] == ["record.drafted", "record.confirmed"]
    log = AccessLog.objects.get()
    assert (log.actor, log.record, log.reason) == (officer, record, "核对异议材料")
    assert AuditEvent.objects.filter(action="credit.record_viewed", object_id=str(record.pk))
    mine = client_for(world["users"]["owner"]).get(f"/api/v1/me/credit/{record.pk}/").json()
    assert mine["access_log"][0]["reason"] == "核对异议材料"
    assert mine["access_log"][0]["actor_name"] == officer.display_name


def test_the_person_reading_their_own_record_is_not_logged(world):
    client_for(world["users"]["owner"]).get(f"/api/v1/me/credit/{world['decided'].pk}/")
    assert not AccessLog.objects.exists()


# ---- list filters ------------------------------------------------------------------------


def test_records_filter_by_status_severity_and_id_number(world, other_resident, staff):
    officer = staff["credit_officer"]
    confirmed(other_resident.person, officer, severity="serious")
    client = client_for(officer)
    assert client.get("/api/v1/credit/records/?status=pending_review").json()["count"] == 1
    assert client.get("/api/v1/credit/records/?severity=serious").json()["count"] == 1
    by_id = client.get(
        "/api/v1/credit/records/", {"id_number": other_resident.person.id_number.lower()}
    ).json()
    assert by_id["count"] == 1
    row = by_id["results"][0]
    assert row["id_masked"] == other_resident.person.id_masked
    assert row["person_name"] != other_resident.person.name
    assert row["person_name"].startswith(other_resident.person.name[0])


def test_bad_filters_are_400_per_field(world):
    client = client_for(world["users"]["credit_officer"])
    response = client.get("/api/v1/credit/records/?status=lost&id_number=123")
    assert response.status_code == 400
    assert {"status", "id_number"} <= set(response.json())


# ---- decisions ---------------------------------------------------------------------------


def test_decision_confirm_returns_the_windows(world):
    client = client_for(world["users"]["credit_officer"])
    response = client.post(
        f"/api/v1/credit/records/{world['pending'].pk}/decisions/",
        {"decision": "confirm", "severity": "serious", "basis": "《条例》第十条"},
        format="json",
    )
    assert response.status_code == 200
    body = response.json()
    today = timezone.localdate()
    assert body["state"] == "confirmed"
    assert body["decided_on"] == today.isoformat()
    assert dt.date.fromisoformat(body["publication_ends_on"]).year == today.year + 3


def test_deciding_twice_is_409(world):
    client = client_for(world["users"]["credit_officer"])
    url = f"/api/v1/credit/records/{world['pending'].pk}/decisions/"
    first = client.post(url, {"decision": "annul", "reason": "误报"}, format="json")
    second = client.post(
        url, {"decision": "confirm", "severity": "general", "basis": "b"}, format="json"
    )
    assert first.status_code == 200
    assert second.status_code == 409
    assert second.json()["code"] == "already_decided"
    assert CreditRecord.objects.get(pk=world["pending"].pk).state == RecordState.ANNULLED


def test_decision_input_errors_are_400_per_field(world):
    client = client_for(world["users"]["credit_officer"])
    url = f"/api/v1/credit/records/{world['pending'].pk}/decisions/"
    assert "decision" in client.post(url, {"decision": "maybe"}, format="json").json()
    missing = client.post(url, {"decision": "confirm", "basis": "b"}, format="json")
    assert missing.status_code == 400 and "severity" in missing.json()
    no_reason = client.post(url, {"decision": "annul"}, format="json")
    assert no_reason.status_code == 400 and "reason" in no_reason.json()
    not_object = client.post(url, ["x"], format="json")
    assert not_object.status_code == 400


def test_deciding_an_unknown_record_is_404(world):
    client = client_for(world["users"]["credit_officer"])
    response = client.post(
        "/api/v1/credit/records/987654/decisions/", {"decision": "annul", "reason": "r"}
    )
    assert response.status_code == 404


def test_objection_decision_twice_is_409(world):
    client = client_for(world["users"]["credit_officer"])
    url = f"/api/v1/credit/objections/{world['objection'].pk}/decision/"
    assert client.post(url, {"decision": "rejected", "reason": "r"}).status_code == 200
    again = client.post(url, {"decision": "upheld", "reason": "r", "outcome": "annul"})
    assert again.status_code == 409


def test_repair_before_the_minimum_is_400_with_the_date(resident, staff):
    record = confirmed(resident.person, staff["credit_officer"], severity="general")
    response = client_for(resident).post(
        "/api/v1/credit/repairs/",
        {"record": record.pk, "credit_pledge": "承诺", "correction": "已改正"},
        format="json",
    )
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "too_early"
    assert body["possible_from"] == record.repair_possible_on.isoformat()


def test_repair_approved_through_the_api_stops_blocking(world, resident):
    officer_client = client_for(world["users"]["credit_officer"])
    decided = world["decided"]
    apply = client_for(resident).post(
        "/api/v1/credit/repairs/",
        {
            "record": decided.pk,
            "credit_pledge": "本人承诺",
            "correction": "已改正",
            "files": [pdf_upload()],
        },
        format="multipart",
    )
    assert apply.status_code == 201, apply.json()
    assert apply.json()["files"][0]["content_type"] == "application/pdf"
    repair_id = apply.json()["id"]
    decided_response = officer_client.post(
        f"/api/v1/credit/repairs/{repair_id}/decision/", {"decision": "approved"}
    )
    assert decided_response.status_code == 200
    assert decided_response.json()["record_state"] == "repaired"


# ---- files ---------------------------------------------------------------------------------


def test_statement_with_a_file_through_the_api(resident):
    record = draft(resident.person)
    response = client_for(resident).post(
        f"/api/v1/me/credit/{record.pk}/statement/",
        {"text": "我有话说", "files": [pdf_upload("说明.pdf")]},
        format="multipart",
    )
    assert response.status_code == 201, response.json()
    assert response.json()["files"][0]["name"] == "说明.pdf"


def test_statement_on_someone_elses_record_is_404(resident, other_resident):
    record = draft(resident.person)
    response = client_for(other_resident).post(
        f"/api/v1/me/credit/{record.pk}/statement/", {"text": "x"}, format="json"
    )
    assert response.status_code == 404


def test_a_file_whose_content_is_not_an_allowed_type_is_400(resident):
    record = draft(resident.person)
    response = client_for(resident).post(
        f"/api/v1/me/credit/{record.pk}/statement/",
        {"text": "x", "files": [fake_pdf()]},
        format="multipart",
    )
    assert response.status_code == 400
    assert "files" in response.json()


def test_too_many_files_are_400(settings, resident):
    settings.CHENGNUO_CREDIT_UPLOAD_MAX_FILES = 1
    record = draft(resident.person)
    response = client_for(resident).post(
        f"/api/v1/me/credit/{record.pk}/statement/",
        {"text": "x", "files": [pdf_upload(), pdf_upload("b.pdf")]},
        format="multipart",
    )
    assert response.status_code == 400


def test_files_are_served_as_attachments_with_the_sniffed_type(world):
    from django.core.files.uploadedfile import SimpleUploadedFile

    record = draft(world["users"]["owner"].person)
    upload = SimpleUploadedFile("photo.pdf", PNG_BYTES, content_type="application/pdf")
    statement = services.statement_submit(
        record=record, actor=world["users"]["owner"], text="x", files=[upload]
    )
    attachment = statement.attachments.get()
    assert attachment.content_type == "image/png"
    assert attachment.file.name.endswith(".png")
    response = client_for(world["users"]["credit_officer"]).get(
        f"/api/v1/credit/files/{attachment.pk}/"
    )
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert response["Content-Disposition"].startswith("attachment;")
    assert b"".join(response.streaming_content) == PNG_BYTES
    assert AuditEvent.objects.filter(action="credit.file_downloaded").exists()


def test_uploaded_files_live_in_private_storage(world, settings):
    attachment = world["file"]
    assert attachment.file.path.startswith(str(settings.PRIVATE_ROOT))
    assert not attachment.file.path.startswith(str(settings.MEDIA_ROOT))


def test_ledger_verify_endpoint_reports_the_chain(world):
    body = client_for(world["users"]["credit_officer"]).get("/api/v1/credit/ledger/verify/").json()
    assert body["ok"] is True
    assert body["first_bad_seq"] is None
    assert body["checked"] == body["head_seq"] > 5


def test_a_retried_objection_with_the_same_idempotency_key_files_once(world, resident):
    client = client_for(resident)
    body = {"record": world["decided"].pk, "reasons": "重复提交"}
    first = client.post(
        "/api/v1/credit/objections/", body, format="json", HTTP_IDEMPOTENCY_KEY="k1"
    )
    again = client.post(
        "/api/v1/credit/objections/", body, format="json", HTTP_IDEMPOTENCY_KEY="k1"
    )
    assert first.status_code == again.status_code == 201
    assert first.json()["id"] == again.json()["id"]
    assert Objection.objects.filter(record=world["decided"]).count() == 1
