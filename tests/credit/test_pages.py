"""Pages: the resident's records and forms, the credit office, public disclosure."""

import pytest
from freezegun import freeze_time

from credit import services
from credit.models import AccessLog, CreditRecord, Objection, RecordState, RepairApplication
from tests.credit.factories import (
    close_hearing,
    confirmed,
    draft,
    fake_pdf,
    pdf_upload,
)
from tests.factories import login_staff, make_resident, make_staff

pytestmark = pytest.mark.django_db


@pytest.fixture
def officer_client(client, officer):
    return login_staff(client, officer)


# ---- the resident -----------------------------------------------------------------------


def test_my_credit_lists_only_my_records(client, resident, other_resident, officer):
    mine = confirmed(resident.person, officer)
    theirs = confirmed(other_resident.person, officer)
    client.force_login(resident)
    html = client.get("/credit/").content.decode()
    assert f"/credit/records/{mine.pk}/" in html
    assert f"/credit/records/{theirs.pk}/" not in html
    assert client.get(f"/credit/records/{theirs.pk}/").status_code == 404


def test_the_nav_links_to_my_credit_for_residents(client, resident):
    client.force_login(resident)
    assert 'href="/credit/"' in client.get("/").content.decode()


def test_statement_with_a_file_through_the_page(client, resident):
    record = draft(resident.person)
    client.force_login(resident)
    page = client.get(f"/credit/records/{record.pk}/")
    assert 'id="statement-form"' in page.content.decode()
    response = client.post(
        f"/credit/records/{record.pk}/statement/", {"text": "我已如实申报", "files": [pdf_upload()]}
    )
    assert response.status_code == 302
    assert record.statements.get().attachments.count() == 1


def test_a_disguised_file_is_refused_on_the_page_with_a_message(client, resident):
    record = draft(resident.person)
    client.force_login(resident)
    page = client.post(
        f"/credit/records/{record.pk}/statement/", {"text": "x", "files": [fake_pdf()]}
    )
    assert page.status_code == 200
    assert page.context["statement_form"].errors["files"]
    assert not record.statements.exists()


def test_objection_through_the_page_marks_the_record(client, resident, officer):
    record = confirmed(resident.person, officer)
    client.force_login(resident)
    response = client.post(f"/credit/records/{record.pk}/objection/", {"reasons": "认定有误"})
    assert response.status_code == 302
    assert CreditRecord.objects.get(pk=record.pk).state == RecordState.UNDER_OBJECTION


def test_objection_on_someone_elses_record_page_is_404(client, resident, other_resident, officer):
    record = confirmed(resident.person, officer)
    client.force_login(other_resident)
    response = client.post(f"/credit/records/{record.pk}/objection/", {"reasons": "x"})
    assert response.status_code == 404
    assert not Objection.objects.exists()


def test_the_page_says_when_repair_becomes_possible(client, resident, officer):
    with freeze_time("2026-03-10 10:00:00+08:00"):
        record = confirmed(resident.person, officer, severity="general")
        client.force_login(resident)
        html = client.get(f"/credit/records/{record.pk}/").content.decode()
        assert 'id="repair-later"' in html and "2026-06-10" in html
        assert 'id="repair-form"' not in html
        response = client.post(
            f"/credit/records/{record.pk}/repair/", {"credit_pledge": "p", "correction": "c"}
        )
    assert response.status_code == 200
    assert "2026-06-10" in str(response.context["repair_form"].non_field_errors())
    with freeze_time("2026-06-10 10:00:00+08:00"):
        client.force_login(resident)
        assert 'id="repair-form"' in client.get(f"/credit/records/{record.pk}/").content.decode()


# ---- the credit office ------------------------------------------------------------------


@pytest.mark.parametrize("role", ["window_clerk", "verification_officer", "oversight_officer"])
def test_the_office_is_for_credit_officers_only(client, resident, role):
    record = draft(resident.person)
    login_staff(client, make_staff(role, f"{role}-page"))
    assert client.get("/credit/office/").status_code == 404
    assert client.get(f"/credit/office/records/{record.pk}/?reason=x").status_code == 404


def test_residents_do_not_reach_the_office(client, resident):
    client.force_login(resident)
    assert client.get("/credit/office/").status_code == 404


def test_the_office_queue_lists_drafts_with_their_deadlines(officer_client, resident):
    record = draft(resident.person)
    html = officer_client.get("/credit/office/").content.decode()
    assert f"/credit/office/records/{record.pk}/" in html
    assert record.hearing_deadline.isoformat() in html
    assert resident.person.name not in html  # the queue shows masked ID numbers only
    assert 'href="/credit/office/"' in html  # nav link for credit officers


def test_the_office_asks_why_before_showing_a_record(officer_client, resident, officer):
    record = draft(resident.person)
    page = officer_client.get(f"/credit/office/records/{record.pk}/")
    html = page.content.decode()
    assert 'id="reason-form"' in html
    assert record.source not in html
    assert not AccessLog.objects.exists()
    page = officer_client.get(f"/credit/office/records/{record.pk}/", {"reason": "审查初稿"})
    assert record.source in page.content.decode()
    log = AccessLog.objects.get()
    assert (log.actor, log.reason) == (officer, "审查初稿")


def test_the_person_sees_who_looked_on_their_page(client, officer_client, resident, officer):
    record = draft(resident.person)
    officer_client.get(f"/credit/office/records/{record.pk}/", {"reason": "审查初稿"})
    resident_client = type(client)()
    resident_client.force_login(resident)
    html = resident_client.get(f"/credit/records/{record.pk}/").content.decode()
    assert "审查初稿" in html
    assert officer.display_name in html


def test_the_office_decides_on_the_page_and_a_second_decision_is_refused(officer_client, resident):
    record = close_hearing(draft(resident.person))
    url = f"/credit/office/records/{record.pk}/decide/"
    body = {"decision": "confirm", "severity": "general", "basis": "《条例》", "view_reason": "r"}
    assert officer_client.post(url, body).status_code == 302
    again = officer_client.post(url, {"decision": "annul", "reason": "x", "view_reason": "r"})
    assert again.status_code == 200
    assert again.context["decision_form"].non_field_errors()
    assert CreditRecord.objects.get(pk=record.pk).state == RecordState.CONFIRMED


def test_the_office_decides_objections_and_repairs_on_the_page(officer_client, resident, officer):
    record = confirmed(resident.person, officer, severity="minor")
    objection = services.objection_file(record=record, actor=resident, reasons="r")
    response = officer_client.post(
        f"/credit/office/objections/{objection.pk}/decide/",
        {"decision": "rejected", "reason": "依据充分"},
    )
    assert response.status_code == 302
    repair = services.repair_apply(record=record, actor=resident, credit_pledge="p", correction="c")
    response = officer_client.post(
        f"/credit/office/repairs/{repair.pk}/decide/", {"decision": "approved"}
    )
    assert response.status_code == 302
    assert RepairApplication.objects.get(pk=repair.pk).status == "approved"
    assert CreditRecord.objects.get(pk=record.pk).state == RecordState.REPAIRED


def test_the_office_finds_records_by_id_number(officer_client, resident, other_resident, officer):
    mine = confirmed(resident.person, officer)
    theirs = confirmed(other_resident.person, officer)
    html = officer_client.get("/credit/office/", {"id_number": resident.person.id_number}).content
    assert f"/credit/office/records/{mine.pk}/".encode() in html
    assert f"/credit/office/records/{theirs.pk}/".encode() not in html


def test_the_office_verifies_the_ledger_on_its_page(officer_client, resident, officer):
    confirmed(resident.person, officer)
    page = officer_client.post("/credit/office/ledger/")
    assert page.context["result"].ok
    assert 'id="verify-result"' in page.content.decode()


# ---- files -------------------------------------------------------------------------------


def test_files_are_downloads_for_the_person_and_the_office_only(
    client, officer_client, resident, other_resident
):
    record = draft(resident.person)
    services.statement_submit(record=record, actor=resident, text="x", files=[pdf_upload()])
    attachment = record.attachments.get()
    response = officer_client.get(f"/credit/files/{attachment.pk}/")
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment;")
    owner = type(client)()
    owner.force_login(resident)
    assert owner.get(f"/credit/files/{attachment.pk}/").status_code == 200
    stranger = type(client)()
    stranger.force_login(other_resident)
    assert stranger.get(f"/credit/files/{attachment.pk}/").status_code == 404
    anonymous = type(client)()
    assert anonymous.get(f"/credit/files/{attachment.pk}/").status_code == 302


# ---- public disclosure -------------------------------------------------------------------


def test_the_public_page_shows_published_records_masked(client, officer):
    person = make_resident("pub1", name="王小明").person
    with freeze_time("2026-03-10 10:00:00+08:00"):
        confirmed(person, officer, severity="general")
        html = client.get("/credit/public/").content.decode()
    assert "王**" in html
    assert "王小明" not in html
    assert person.id_masked not in html
    assert "低保申请经济困难证明" in html
    assert "2026-03-10" in html and "2027-03-09" in html


def test_the_public_page_leaves_out_minor_repaired_and_annulled_records(client, officer):
    minor = make_resident("pub2", name="赵一").person
    repaired = make_resident("pub3", name="钱二").person
    annulled = make_resident("pub4", name="孙三").person
    confirmed(minor, officer, severity="minor")
    record = confirmed(repaired, officer, severity="minor")
    repair = services.repair_apply(
        record=record, actor=repaired.account, credit_pledge="p", correction="c"
    )
    services.repair_decide(repair=repair, actor=officer, decision="approved")
    services.record_decide(
        record=close_hearing(draft(annulled)), actor=officer, decision="annul", reason="误报"
    )
    html = client.get("/credit/public/").content.decode()
    for name in ("赵*", "钱*", "孙*"):
        assert name not in html


def test_an_expired_record_leaves_the_public_page_before_the_expiry_task(client, officer):
    person = make_resident("pub5", name="周五").person
    with freeze_time("2026-03-10 10:00:00+08:00"):
        record = confirmed(person, officer, severity="general")
    with freeze_time("2027-03-09 23:00:00+08:00"):
        assert "周*" in client.get("/credit/public/").content.decode()
    with freeze_time("2027-03-10 00:00:01+08:00"):
        assert CreditRecord.objects.get(pk=record.pk).state == RecordState.CONFIRMED
        assert "周*" not in client.get("/credit/public/").content.decode()


def test_the_public_page_needs_no_sign_in(client):
    assert client.get("/credit/public/").status_code == 200


def test_mask_name_keeps_only_the_family_name():
    from credit.models import mask_name

    assert mask_name("张三") == "张*"
    assert mask_name("欧阳小明") == "欧***"
    assert mask_name("李") == "李*"
    assert mask_name("") == ""
