"""The pledge API contract: signing, listing, withdrawing, deciding, and bad input."""

import pytest
from django.db import connection
from django.test import RequestFactory

from pledges import services
from pledges.api import PledgeSerializer, pledge_representation
from pledges.models import Pledge, PledgeStatus
from tests.conftest import client_for
from tests.factories import (
    SIGNATURE_PNG,
    MatterFactory,
    make_resident,
    pledge_body,
    sign_at_window,
    sign_pledge,
    valid_id_number,
)

pytestmark = pytest.mark.django_db


def test_resident_signs_a_pledge_and_gets_number_and_links(resident):
    matter = MatterFactory()
    response = client_for(resident).post(
        "/api/v1/pledges/", pledge_body(resident, matter), format="json"
    )
    assert response.status_code == 201, response.data
    body = response.json()
    assert body["number"].startswith("CN-")
    assert len(body["number"]) == len("CN-2026-000001")
    assert body["status"] == "signed"
    assert body["matter"] == matter.code
    assert body["template_version"] == 1
    assert len(body["content_sha256"]) == 64
    assert body["pdf_url"].endswith(f"/api/v1/pledges/{body['number']}/pdf/")
    assert f"/verify/{body['number']}/" in body["verify_url"]
    assert "*" in body["applicant"]["id_number"]
    pledge = Pledge.objects.get(number=body["number"])
    assert pledge.signature.name
    assert pledge.content["notice"] == matter.current_template().notice


def test_idempotency_key_returns_the_first_result(resident):
    matter = MatterFactory()
    client = client_for(resident)
    headers = {"HTTP_IDEMPOTENCY_KEY": "abc-123"}
    first = client.post("/api/v1/pledges/", pledge_body(resident, matter), format="json", **headers)
    second = client.post(
        "/api/v1/pledges/", pledge_body(resident, matter), format="json", **headers
    )
    assert first.status_code == second.status_code == 201
    assert first.json()["number"] == second.json()["number"]
    assert Pledge.objects.count() == 1


@pytest.mark.parametrize(
    ("change", "field", "status"),
    [
        ({"matter": "NOPE-1"}, "matter", 400),
        ({"statements_accepted": False}, "statements_accepted", 400),
        ({"signature": {"typed_name": "王五", "image": SIGNATURE_PNG}}, "typed_name", 400),
        (
            {"signature": {"typed_name": "张三", "image": "data:text/html;base64,PGI+"}},
            "signature",
            400,
        ),
        (
            {"signature": {"typed_name": "张三", "image": "data:image/png;base64,AAAA"}},
            "signature",
            400,
        ),
    ],
)
def test_bad_input_gets_a_message_per_field(resident, change, field, status):
    matter = MatterFactory()
    response = client_for(resident).post(
        "/api/v1/pledges/", pledge_body(resident, matter, **change), format="json"
    )
    assert response.status_code == status
    assert field in response.json(), response.json()
    assert Pledge.objects.count() == 0


def test_invalid_id_number_is_refused_on_its_field(resident):
    matter = MatterFactory()
    body = pledge_body(resident, matter)
    body["applicant"]["id_number"] = "11010519491231002Y"
    response = client_for(resident).post("/api/v1/pledges/", body, format="json")
    assert response.status_code == 400
    assert "id_number" in response.json()


def test_oversized_signature_is_refused(resident, settings):
    settings.CHENGNUO_SIGNATURE_MAX_BYTES = 10
    matter = MatterFactory()
    response = client_for(resident).post(
        "/api/v1/pledges/", pledge_body(resident, matter), format="json"
    )
    assert response.status_code == 400
    assert "signature" in response.json()


def test_excluded_and_non_pledge_matters_are_refused(resident):
    for matter in (MatterFactory(excluded=True), MatterFactory(must_not_issue=True)):
        response = client_for(resident).post(
            "/api/v1/pledges/", pledge_body(resident, matter), format="json"
        )
        assert response.status_code == 400
        assert "matter" in response.json()


def test_resident_cannot_pledge_for_someone_else(resident, other_resident):
    matter = MatterFactory()
    body = pledge_body(resident, matter)
    body["applicant"]["id_number"] = other_resident.person.id_number
    body["applicant"]["name"] = other_resident.person.name
    response = client_for(resident).post("/api/v1/pledges/", body, format="json")
    assert response.status_code == 403
    assert response.json()["code"] == "not_self"


@pytest.mark.parametrize("payload", ["[1, 2]", '"text"', "not json"])
def test_body_that_is_not_a_json_object_is_400(resident, payload):
    response = client_for(resident).post(
        "/api/v1/pledges/", data=payload, content_type="application/json"
    )
    assert response.status_code == 400


def test_errors_are_in_chinese_by_default(resident):
    matter = MatterFactory()
    response = client_for(resident).post(
        "/api/v1/pledges/", pledge_body(resident, matter, statements_accepted=False), format="json"
    )
    message = response.json()["statements_accepted"][0]
    assert any("\u4e00" <= ch <= "\u9fff" for ch in message), message


def test_window_clerk_pledges_for_anyone_at_the_window(staff):
    matter = MatterFactory()
    clerk = staff["window_clerk"]
    number = valid_id_number()
    body = {
        "matter": matter.code,
        "channel": "window",
        "applicant": {"name": "王五", "id_number": number, "phone": "13912345678"},
        "statements_accepted": True,
        "signature": {"typed_name": "王五", "image": SIGNATURE_PNG},
    }
    response = client_for(clerk).post("/api/v1/pledges/", body, format="json")
    assert response.status_code == 201, response.json()
    pledge = Pledge.objects.get(number=response.json()["number"])
    assert pledge.channel == "window"
    assert pledge.clerk == clerk


def test_resident_lists_only_own_pledges(resident, other_resident):
    mine = sign_pledge(resident)
    sign_pledge(other_resident)
    response = client_for(resident).get("/api/v1/pledges/")
    assert [row["number"] for row in response.json()["results"]] == [mine.number]
    theirs = Pledge.objects.exclude(pk=mine.pk).get()
    assert client_for(resident).get(f"/api/v1/pledges/{theirs.number}/").status_code == 404


def test_staff_filter_by_matter_and_status(resident, staff):
    clerk = staff["window_clerk"]
    first = sign_at_window(clerk, resident.person)
    sign_at_window(clerk, resident.person)
    client = client_for(clerk)
    response = client.get("/api/v1/pledges/", {"matter": first.matter.code, "status": "signed"})
    assert [row["number"] for row in response.json()["results"]] == [first.number]


def at_the_window(clerk, resident):
    """An API client of ``clerk`` who looked ``resident`` up by ID number at the window."""
    client = client_for(clerk)
    lookup = client.post(
        "/api/v1/pledges/lookup/", {"id_number": resident.person.id_number}, format="json"
    )
    assert lookup.status_code == 200, lookup.content
    return client


def test_withdraw_then_decide_conflicts(resident, staff):
    pledge = sign_pledge(resident)
    response = client_for(resident).post(f"/api/v1/pledges/{pledge.number}/withdraw/", {})
    assert response.status_code == 200
    assert response.json()["status"] == PledgeStatus.WITHDRAWN
    response = at_the_window(staff["window_clerk"], resident).post(
        f"/api/v1/pledges/{pledge.number}/decision/", {}
    )
    assert response.status_code == 409


def test_decided_pledge_cannot_be_withdrawn(resident, staff):
    pledge = sign_pledge(resident)
    response = at_the_window(staff["window_clerk"], resident).post(
        f"/api/v1/pledges/{pledge.number}/decision/", {"note": "准予许可"}
    )
    assert response.status_code == 200
    assert response.json()["status"] == "decided"
    response = client_for(resident).post(f"/api/v1/pledges/{pledge.number}/withdraw/", {})
    assert response.status_code == 409


def test_catalog_is_public_and_filters(db):
    pledge_matter = MatterFactory(name="申请法律援助")
    MatterFactory(must_not_issue=True, name="亲属关系证明")
    client = client_for(None)
    everything = client.get("/api/v1/matters/").json()
    assert everything["count"] == 2
    only = client.get("/api/v1/matters/", {"pledgeable": "true"}).json()
    assert [row["code"] for row in only["results"]] == [pledge_matter.code]
    search = client.get("/api/v1/matters/", {"search": "法律援助"}).json()
    assert search["count"] == 1
    detail = client.get(f"/api/v1/matters/{pledge_matter.code}/").json()
    assert detail["template"]["version"] == 1
    assert len(detail["template"]["statements"]) == 5
    assert client.get("/api/v1/matters/", {"page_size": 500}).status_code == 200


def test_token_login_and_failure_limit(resident):
    client = client_for(None)
    ok = client.post("/api/v1/auth/token/", {"username": "alice", "password": "pass-Word-123"})
    assert ok.status_code == 200 and ok.json()["token"]
    for _ in range(5):
        bad = client.post("/api/v1/auth/token/", {"username": "alice", "password": "wrong"})
        assert bad.status_code == 400
    blocked = client.post("/api/v1/auth/token/", {"username": "alice", "password": "pass-Word-123"})
    assert blocked.status_code == 429
    # Another username from the same address is not affected.
    make_resident("carol")
    other = client.post("/api/v1/auth/token/", {"username": "carol", "password": "pass-Word-123"})
    assert other.status_code == 200


def test_successful_logins_are_not_limited(resident):
    client = client_for(None)
    for _ in range(8):
        ok = client.post("/api/v1/auth/token/", {"username": "alice", "password": "pass-Word-123"})
        assert ok.status_code == 200


def test_id_numbers_are_not_stored_in_clear(resident):
    pledge = sign_pledge(resident)
    number = resident.person.id_number
    with connection.cursor() as cursor:
        for table in ("accounts_person", "pledges_pledge"):
            cursor.execute(f"SELECT * FROM {table}")
            for row in cursor.fetchall():
                assert number not in " ".join(str(value) for value in row)
    assert number not in str(pledge.content)


def test_the_answer_to_a_signing_is_the_pledge_serializers_output(resident, staff):
    request = RequestFactory().post("/api/v1/pledges/")
    clerk = staff["window_clerk"]
    online = sign_pledge(resident)
    withdrawn = services.pledge_withdraw(pledge=sign_pledge(resident), actor=resident)
    decided = services.pledge_decide(pledge=sign_at_window(clerk), actor=clerk)
    for pledge in (online, withdrawn, decided):
        pledge = Pledge.objects.get(pk=pledge.pk)
        for context_request in (request, None):
            expected = PledgeSerializer(pledge, context={"request": context_request}).data
            body = pledge_representation(pledge, context_request)
            assert list(body) == list(expected)
            assert body == expected
    assert pledge_representation(withdrawn, request)["withdrawn_at"] is not None
    assert pledge_representation(decided, request)["decided_at"] is not None
