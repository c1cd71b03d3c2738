"""Complaints: anyone files one and follows it with a token; the bureau triages, forwards with
a deadline in working days, records the answer and the correction, closes and publishes;
overdue corrections are flagged; script shows as text everywhere."""

import datetime as dt
import re
import threading

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import override_settings
from freezegun import freeze_time

from core.errors import Conflict, DomainError, NotAllowed
from core.models import AuditEvent, Holiday, Notification
from oversight import selectors, services
from oversight.models import Complaint, ComplaintAttachment, ComplaintEvent
from tests.conftest import client_for
from tests.factories import make_staff

from .conftest import PDF_BYTES, PNG_BYTES, pdf_text

pytestmark = pytest.mark.django_db

SCRIPT = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def body(**overrides):
    data = {
        "agency": "某银行营业部",
        "certificate": "亲属关系证明",
        "description": "办理业务时要求到社区开具亲属关系证明。",
        "occurred_on": "2026-11-20",
        "place": "济源市某路",
        "contact": "13900000000",
    }
    data.update(overrides)
    return data


def file_complaint(**overrides):
    values = body(**overrides)
    values["occurred_on"] = dt.date.fromisoformat(values["occurred_on"])
    from django.contrib.auth.models import AnonymousUser

    return services.complaint_file(data=values, actor=AnonymousUser())


# ---- filing and following ---------------------------------------------------------------


def test_anyone_files_a_complaint_and_gets_a_tracking_number_and_token(api_client):
    response = api_client.post("/api/v1/complaints/", body(), format="json")
    assert response.status_code == 201, response.json()
    data = response.json()
    assert re.fullmatch(r"TS-\d{4}-\d{6}", data["tracking_number"])
    assert data["status"] == "received"
    assert data["track_url"].endswith(
        f"/complaints/track/{data['tracking_number']}/{data['token']}/"
    )
    complaint = Complaint.objects.get(tracking_number=data["tracking_number"])
    assert complaint.channel == "online" and complaint.submitted_by is None
    # The contact is encrypted at rest.
    with connection.cursor() as cursor:
        cursor.execute("SELECT contact FROM oversight_complaint WHERE id = %s", [complaint.pk])
        assert "13900000000" not in cursor.fetchone()[0]

    followed = api_client.get(
        f"/api/v1/complaints/{data['tracking_number']}/", {"token": data["token"]}
    )
    assert followed.status_code == 200
    assert followed.json()["agency"] == "某银行营业部"
    assert "contact" not in followed.json()
    wrong = api_client.get(f"/api/v1/complaints/{data['tracking_number']}/", {"token": "x" * 32})
    assert wrong.status_code == 404


def test_tracking_numbers_count_up_per_year():
    with freeze_time("2026-12-31 10:00:00"):
        first = file_complaint(occurred_on="2026-12-30")
        second = file_complaint(occurred_on="2026-12-30")
    with freeze_time("2027-01-02 10:00:00"):
        third = file_complaint(occurred_on="2027-01-01")
    assert [first.tracking_number, second.tracking_number, third.tracking_number] == [
        "TS-2026-000001",
        "TS-2026-000002",
        "TS-2027-000001",
    ]


def test_concurrent_complaints_get_distinct_gap_free_numbers(shared_database):
    from django.db import connections

    numbers, errors = [], []
    barrier = threading.Barrier(6)

    def worker():
        try:
            barrier.wait(timeout=30)
            numbers.append(file_complaint().tracking_number)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    year = dt.date.today().year
    assert sorted(numbers) == [f"TS-{year}-{n:06d}" for n in range(1, 7)]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"agency": ""}, "agency"),
        ({"certificate": ""}, "certificate"),
        ({"description": ""}, "description"),
        ({"occurred_on": "not a date"}, "occurred_on"),
        ({"occurred_on": "2099-01-01"}, "occurred_on"),
        ({"description": "x" * 5001}, "description"),
    ],
)
def test_bad_input_gets_a_message_per_field(api_client, change, field):
    response = api_client.post("/api/v1/complaints/", body(**change), format="json")
    assert response.status_code == 400
    assert field in response.json(), response.json()
    assert Complaint.objects.count() == 0


def test_a_body_that_is_not_an_object_is_a_400(api_client):
    response = api_client.post("/api/v1/complaints/", ["x"], format="json")
    assert response.status_code == 400
    assert Complaint.objects.count() == 0


def test_the_honeypot_refuses_robots(api_client, client):
    response = api_client.post("/api/v1/complaints/", body(website="http://spam"), format="json")
    assert response.status_code == 400
    page = client.post("/complaints/new/", {**body(), "website": "http://spam"})
    assert page.status_code == 200
    assert Complaint.objects.count() == 0


@override_settings(CHENGNUO_OVERSIGHT_COMPLAINT_RATE=(2, 3600))
def test_complaints_are_rate_limited_per_ip_but_not_hotline_staff(api_client):
    assert api_client.post("/api/v1/complaints/", body(), format="json").status_code == 201
    assert api_client.post("/api/v1/complaints/", body(), format="json").status_code == 201
    third = api_client.post("/api/v1/complaints/", body(), format="json")
    assert third.status_code == 429
    other_ip = api_client.post("/api/v1/complaints/", body(), format="json", REMOTE_ADDR="10.0.0.9")
    assert other_ip.status_code == 201
    clerk = make_staff("window_clerk", "hotline-clerk")
    hotline = client_for(clerk).post("/api/v1/complaints/", body(channel="hotline"), format="json")
    assert hotline.status_code == 201
    assert Complaint.objects.filter(channel="hotline").get().entered_by == clerk


@override_settings(CHENGNUO_OVERSIGHT_COMPLAINT_RATE=(1, 3600))
def test_the_complaint_page_shares_the_limit_per_ip(client, api_client):
    assert client.post("/complaints/new/", body()).status_code == 302
    second = client.post("/complaints/new/", body())
    assert second.status_code == 200
    assert "Too many reports" in second.content.decode()
    assert api_client.post("/api/v1/complaints/", body(), format="json").status_code == 429
    assert Complaint.objects.count() == 1


def test_a_retried_post_with_its_idempotency_key_files_once(resident):
    client = client_for(resident)
    headers = {"HTTP_IDEMPOTENCY_KEY": "call-42"}
    first = client.post("/api/v1/complaints/", body(), format="json", **headers)
    second = client.post("/api/v1/complaints/", body(), format="json", **headers)
    assert first.status_code == second.status_code == 201
    assert first.json()["tracking_number"] == second.json()["tracking_number"]
    assert Complaint.objects.count() == 1


def test_only_staff_enter_hotline_calls(api_client, resident):
    response = client_for(resident).post(
        "/api/v1/complaints/", body(channel="hotline"), format="json"
    )
    assert response.status_code == 403
    assert (
        api_client.post("/api/v1/complaints/", body(channel="hotline"), format="json").status_code
        == 403
    )


def test_a_logged_in_resident_is_recorded_and_notified_when_closed(resident, officer):
    response = client_for(resident).post("/api/v1/complaints/", body(), format="json")
    complaint = Complaint.objects.get(tracking_number=response.json()["tracking_number"])
    assert complaint.submitted_by == resident
    services.complaint_triage(complaint=complaint, actor=officer, accept=True)
    services.complaint_forward(complaint=complaint, actor=officer, superior_name="市金融办")
    services.complaint_record_answer(
        complaint=complaint, actor=officer, answer="已整改", correction="取消该要求"
    )
    services.complaint_close(complaint=complaint, actor=officer, outcome="已纠正")
    assert Notification.objects.filter(recipient=resident, kind="complaint.closed").exists()


# ---- attachments ------------------------------------------------------------------------


def test_attachments_are_sniffed_stored_privately_and_hashed(api_client):
    response = api_client.post(
        "/api/v1/complaints/",
        {
            **body(),
            "attachments": [
                SimpleUploadedFile("photo.png", PNG_BYTES, content_type="image/png"),
                SimpleUploadedFile("note.pdf", PDF_BYTES, content_type="application/pdf"),
            ],
        },
        format="multipart",
    )
    assert response.status_code == 201, response.json()
    stored = ComplaintAttachment.objects.order_by("id")
    assert [a.content_type for a in stored] == ["image/png", "application/pdf"]
    from django.conf import settings

    assert stored[0].file.storage.location == settings.STORAGES["private"]["OPTIONS"]["location"]
    import hashlib

    assert stored[0].sha256 == hashlib.sha256(PNG_BYTES).hexdigest()


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("photo.png", b"<html><script>alert(1)</script></html>"),
        ("evil.svg", b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'),
        ("run.exe", b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 100),
    ],
)
def test_an_attachment_that_is_not_a_photo_or_pdf_is_refused(api_client, name, content):
    response = api_client.post(
        "/api/v1/complaints/",
        {**body(), "attachments": [SimpleUploadedFile(name, content, content_type="image/png")]},
        format="multipart",
    )
    assert response.status_code == 400
    assert "attachments" in response.json()
    assert Complaint.objects.count() == 0


@override_settings(CHENGNUO_OVERSIGHT_ATTACHMENT_MAX_BYTES=100)
def test_an_oversized_attachment_is_refused(api_client):
    big = PNG_BYTES + b"\x00" * 200
    response = api_client.post(
        "/api/v1/complaints/",
        {**body(), "attachments": [SimpleUploadedFile("big.png", big)]},
        format="multipart",
    )
    assert response.status_code == 400
    assert Complaint.objects.count() == 0


def test_attachments_are_served_to_the_bureau_only(officer, client):
    from tests.factories import login_staff

    complaint = services.complaint_file(
        data={**body(), "occurred_on": dt.date(2026, 11, 20)},
        actor=officer,
        attachments=[SimpleUploadedFile("a.png", PNG_BYTES)],
    )
    attachment = complaint.attachments.get()
    url = f"/bureau/complaints/{complaint.tracking_number}/attachments/{attachment.pk}/"
    assert client.get(url).status_code == 302  # to sign-in
    login_staff(client, officer)
    response = client.get(url)
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert b"".join(response.streaming_content) == PNG_BYTES


# ---- the bureau's workflow --------------------------------------------------------------


def test_the_bureau_forwards_with_a_working_day_deadline_and_closes(officer, departments):
    Holiday.objects.create(date=dt.date(2026, 11, 26), name="假日")
    client = client_for(officer)
    with freeze_time("2026-11-23 10:00:00"):  # a Monday
        complaint = file_complaint()
        number = complaint.tracking_number
        assert (
            client.post(
                f"/api/v1/complaints/{number}/triage/", {"decision": "accept"}, format="json"
            ).status_code
            == 200
        )
        forwarded = client.post(
            f"/api/v1/complaints/{number}/forward/",
            {"superior": "MZ", "working_days": 5, "note": "内部：电话已通知"},
            format="json",
        )
    assert forwarded.status_code == 200, forwarded.json()
    # Five working days after Monday 23rd, skipping the holiday on Thursday 26th.
    assert forwarded.json()["correction_deadline"] == "2026-12-01"
    assert forwarded.json()["superior"] == "MZ"
    answered = client.post(
        f"/api/v1/complaints/{number}/answer/",
        {"answer": "已责令整改", "correction": "已取消要求提供亲属关系证明"},
        format="json",
    )
    assert answered.json()["status"] == "corrected"
    closed = client.post(
        f"/api/v1/complaints/{number}/close/", {"outcome": "已纠正"}, format="json"
    )
    assert closed.json()["status"] == "closed"
    published = client.post(
        f"/api/v1/complaints/{number}/publish/", {"summary": "某银行要求亲属关系证明，已纠正。"}
    )
    assert published.status_code == 200
    # The public sees the case on the notices page, without the contact or the internal note.
    notices = client_for(None).get("/api/v1/complaints/notices/").json()
    assert notices["results"][0]["tracking_number"] == number
    public = (
        client_for(None)
        .get(f"/api/v1/complaints/{number}/", {"token": selectors.complaint_token(complaint)})
        .json()
    )
    assert "内部" not in str(public["events"])
    assert [e["kind"] for e in public["events"]] == [
        "received",
        "accepted",
        "forwarded",
        "answered",
        "corrected",
        "closed",
        "published",
    ]
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {"complaint.filed", "complaint.forwarded", "complaint.closed"} <= actions


def test_steps_out_of_order_are_refused_with_409(officer):
    complaint = file_complaint()
    client = client_for(officer)
    number = complaint.tracking_number
    response = client.post(f"/api/v1/complaints/{number}/close/", {"outcome": "x"}, format="json")
    assert response.status_code == 409
    response = client.post(f"/api/v1/complaints/{number}/publish/", {"summary": "x"}, format="json")
    assert response.status_code == 409
    with pytest.raises(Conflict):
        services.complaint_forward(complaint=complaint, actor=officer, superior_name="x")


def test_a_dismissal_needs_a_reason(officer):
    complaint = file_complaint()
    with pytest.raises(DomainError):
        services.complaint_triage(complaint=complaint, actor=officer, accept=False)
    complaint = services.complaint_triage(
        complaint=complaint, actor=officer, accept=False, note="不属于证明事项"
    )
    assert complaint.status == "dismissed" and complaint.closed_at


def test_only_oversight_officers_handle_complaints(staff):
    complaint = file_complaint()
    for role, user in staff.items():
        if role == "oversight_officer":
            continue
        with pytest.raises(NotAllowed):
            services.complaint_triage(complaint=complaint, actor=user, accept=True)


def test_overdue_corrections_are_flagged_once_and_the_officer_notified(officer):
    complaint = file_complaint()
    services.complaint_triage(complaint=complaint, actor=officer, accept=True)
    with freeze_time("2026-11-23 10:00:00"):
        services.complaint_forward(
            complaint=complaint, actor=officer, superior_name="某上级", working_days=2
        )
    with freeze_time("2026-11-25 09:00:00"):  # the deadline itself: not yet overdue
        assert services.complaints_flag_overdue() == 0
    with freeze_time("2026-11-26 09:00:00"):
        from oversight.tasks import flag_overdue_complaints

        assert flag_overdue_complaints.delay().get() == 1
        assert services.complaints_flag_overdue() == 0  # safe to run twice
    complaint.refresh_from_db()
    assert complaint.overdue_since == dt.date(2026, 11, 25)
    assert complaint.is_overdue
    assert Notification.objects.filter(recipient=officer, kind="complaint.overdue").count() == 1
    assert ComplaintEvent.objects.filter(complaint=complaint, kind="overdue").count() == 1
    # A correction recorded late still ends the overdue flag in the lists.
    services.complaint_record_answer(
        complaint=complaint, actor=officer, answer="迟复", correction="已纠正"
    )
    complaint.refresh_from_db()
    assert not complaint.is_overdue


# ---- script stays text ------------------------------------------------------------------


def test_script_in_a_complaint_shows_as_text_on_every_page(officer, client):
    from tests.factories import login_staff

    complaint = file_complaint(
        agency=SCRIPT, certificate=SCRIPT, description=SCRIPT, place=SCRIPT, contact=SCRIPT
    )
    services.complaint_triage(complaint=complaint, actor=officer, accept=True, note=SCRIPT)
    services.complaint_forward(complaint=complaint, actor=officer, superior_name=SCRIPT)
    services.complaint_record_answer(
        complaint=complaint, actor=officer, answer=SCRIPT, correction=SCRIPT
    )
    services.complaint_close(complaint=complaint, actor=officer, outcome=SCRIPT)
    services.complaint_publish(complaint=complaint, actor=officer, summary=SCRIPT)
    track = client.get(selectors.complaint_track_path(complaint)).content.decode()
    notices = client.get("/notices/").content.decode()
    login_staff(client, officer)
    detail = client.get(f"/bureau/complaints/{complaint.tracking_number}/").content.decode()
    listing = client.get("/bureau/complaints/").content.decode()
    for page in (track, notices, detail, listing):
        assert "<script>alert" not in page
        assert "<img src=x" not in page
        assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page


def test_script_in_a_complaint_prints_as_text_in_the_pdf(
    officer, client, tmp_path, no_weasyprint_warnings
):
    from tests.factories import login_staff

    complaint = file_complaint(agency=SCRIPT, description=SCRIPT + "\n第二行")
    login_staff(client, officer)
    response = client.get(f"/bureau/complaints/{complaint.tracking_number}/pdf/")
    assert response.status_code == 200
    assert response.content.startswith(b"%PDF")
    text = pdf_text(response.content, tmp_path)
    squeezed = re.sub(r"\s+", "", text)
    assert '<script>alert("x")</script>' in squeezed
    assert complaint.tracking_number in text


# ---- pages ------------------------------------------------------------------------------


def test_a_resident_files_on_the_page_and_lands_on_the_tracking_page(client):
    response = client.post("/complaints/new/", body(), follow=True)
    assert response.status_code == 200
    complaint = Complaint.objects.get()
    assert response.redirect_chain[-1][0] == selectors.complaint_track_path(complaint)
    page = response.content.decode()
    assert complaint.tracking_number in page
    assert selectors.complaint_token(complaint) in page


def test_the_lookup_form_finds_a_report_by_number_and_code(client):
    complaint = file_complaint()
    response = client.get(
        "/complaints/track/",
        {
            "number": complaint.tracking_number.lower(),
            "token": selectors.complaint_token(complaint),
        },
    )
    assert response.status_code == 302
    wrong = client.get("/complaints/track/", {"number": complaint.tracking_number, "token": "x"})
    assert wrong.status_code == 200
    assert Complaint.objects.count() == 1


def test_the_bureau_handles_a_case_on_its_page(officer, departments, client):
    from tests.factories import login_staff

    complaint = file_complaint()
    login_staff(client, officer)
    url = f"/bureau/complaints/{complaint.tracking_number}/"
    client.post(url, {"action": "triage", "triage-decision": "accept"})
    client.post(
        url,
        {
            "action": "forward",
            "forward-superior": departments["MZ"].pk,
            "forward-working_days": 10,
        },
    )
    client.post(url, {"action": "answer", "answer-answer": "已整改", "answer-correction": "已纠正"})
    client.post(url, {"action": "close", "close-outcome": "结案"})
    complaint.refresh_from_db()
    assert complaint.status == "closed"
    assert complaint.superior == departments["MZ"]


def test_a_hotline_call_is_entered_on_the_staff_page(client):
    from tests.factories import login_staff

    clerk = make_staff("window_clerk", "hotline-page")
    login_staff(client, clerk)
    response = client.post("/bureau/complaints/hotline/", body())
    assert response.status_code == 302
    complaint = Complaint.objects.get()
    assert complaint.channel == "hotline" and complaint.entered_by == clerk
