"""Privacy: the versioned notice, explicit consent at registration, and a person's copy of
everything held about them (JSON and PDF)."""

import hashlib
import json
import logging
import re
import subprocess

import pytest
from django.urls import reverse

from accounts import id_numbers, privacy
from accounts.models import PrivacyConsent, RegistryEntry, User
from accounts.services import account_register
from core.errors import DomainError
from core.models import AuditEvent
from core.notifications import notify
from tests.factories import (
    MatterFactory,
    UnitFactory,
    login_staff,
    make_staff,
    sign_pledge,
    valid_id_number,
)

pytestmark = pytest.mark.django_db

REGISTER = "/accounts/register/"
PHONE = "13712340000"


@pytest.fixture
def town():
    return UnitFactory(town=True, code="419001-J01", name="沁园街道")


@pytest.fixture
def newcomer():
    number = valid_id_number()
    RegistryEntry.objects.create(id_hash=id_numbers.keyed_hash(number), name="孙八")
    return {"name": "孙八", "id_number": number}


def registration_data(newcomer, town, code, **overrides):
    data = {
        "username": "sunba",
        "real_name": newcomer["name"],
        "id_number": newcomer["id_number"],
        "phone": PHONE,
        "code": code,
        "town": str(town.pk),
        "address": "沁园街道示范路3号",
        "password": "qiao-Mai-7788",
        "privacy_version": privacy.CURRENT_VERSION,
        "register": "1",
    }
    data.update(overrides)
    return data


def sent_code(client, newcomer, town, sms_outbox) -> str:
    client.post(REGISTER, {**registration_data(newcomer, town, ""), "send_code": "1"})
    return re.search(r"(?<!\d)(\d{6})(?!\d)", sms_outbox[-1][1]).group(1)


# ---- notice and consent -----------------------------------------------------------------


def test_privacy_notice_page_shows_the_current_version_and_its_hash(client):
    response = client.get("/accounts/privacy/")
    assert response.status_code == 200
    body = response.content.decode()
    assert privacy.CURRENT_VERSION in body
    assert privacy.notice_sha256() in body
    assert "敏感个人信息" in body
    assert client.get(f"/accounts/privacy/{privacy.CURRENT_VERSION}/").status_code == 200
    assert client.get("/accounts/privacy/1999-01/").status_code == 404


def test_notice_hash_is_the_sha256_of_the_versioned_text():
    html = privacy.notice_html(privacy.CURRENT_VERSION)
    assert privacy.notice_sha256() == hashlib.sha256(html.encode()).hexdigest()
    assert f'data-version="{privacy.CURRENT_VERSION}"' in html


def test_registration_page_asks_for_consent_and_links_the_notice(client, town):
    body = client.get(REGISTER).content.decode()
    assert 'name="privacy_consent"' in body
    assert reverse("accounts:privacy") in body
    assert f'name="privacy_version" value="{privacy.CURRENT_VERSION}"' in body


def test_registration_without_consent_is_refused(client, newcomer, town, sms_outbox):
    code = sent_code(client, newcomer, town, sms_outbox)
    response = client.post(REGISTER, registration_data(newcomer, town, code))
    assert response.status_code == 200
    assert "privacy_consent" in response.context["form"].errors
    assert not User.objects.filter(username="sunba").exists()


def test_registration_with_consent_stores_version_hash_and_time(client, newcomer, town, sms_outbox):
    code = sent_code(client, newcomer, town, sms_outbox)
    response = client.post(REGISTER, registration_data(newcomer, town, code, privacy_consent="on"))
    assert response.status_code == 302
    user = User.objects.get(username="sunba")
    consent = PrivacyConsent.objects.get(person=user.person)
    assert consent.account == user
    assert consent.notice_version == privacy.CURRENT_VERSION
    assert consent.notice_sha256 == privacy.notice_sha256()
    assert consent.consented_at is not None
    assert consent.ip == "127.0.0.1"
    event = AuditEvent.objects.get(action="privacy.consented")
    assert event.person_hash == user.person.id_hash


def test_registration_refuses_consent_to_a_version_that_is_not_current(newcomer, town, sms_outbox):
    from core.otp import otp_issue

    otp_issue(phone=PHONE, purpose="register")
    code = re.search(r"(?<!\d)(\d{6})(?!\d)", sms_outbox[-1][1]).group(1)
    with pytest.raises(DomainError) as error:
        account_register(
            username="sunba",
            password="qiao-Mai-7788",
            real_name=newcomer["name"],
            id_number=newcomer["id_number"],
            phone=PHONE,
            code=code,
            address="",
            town=town,
            privacy_notice_version="2020-01",
        )
    assert error.value.field == "privacy_consent"
    assert not PrivacyConsent.objects.exists()


# ---- the person's copy of their data ------------------------------------------------------


@pytest.fixture
def alice_with_history(resident, other_resident):
    matter = MatterFactory()
    mine = sign_pledge(resident, matter)
    sign_pledge(other_resident, matter)
    notify(recipient=resident, kind="test", title="您的承诺书已签署", body="编号 " + mine.number)
    return resident, mine


def test_my_data_json_holds_every_section_of_this_person_only(client, alice_with_history):
    resident, pledge = alice_with_history
    client.force_login(resident)
    response = client.get("/accounts/my-data/download.json")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response["Content-Disposition"].startswith("attachment;")
    assert response["Cache-Control"] == "no-store"
    data = json.loads(response.content)
    sections = data["sections"]
    assert {"identity", "pledges", "notifications", "audit_log"} <= set(sections)
    assert sections["identity"]["person"]["name"] == "张三"
    assert sections["identity"]["account"]["username"] == "alice"
    numbers = [p["number"] for p in sections["pledges"]["pledges"]]
    assert numbers == [pledge.number]
    assert sections["pledges"]["pledges"][0]["content"]["statements"]
    assert sections["notifications"][0]["title"] == "您的承诺书已签署"
    assert any(e["action"] == "pledge.signed" for e in sections["audit_log"])


def test_my_data_shows_no_clear_id_number_and_no_keyed_hash(client, alice_with_history):
    resident, _ = alice_with_history
    client.force_login(resident)
    text = client.get("/accounts/my-data/download.json").content.decode()
    person = resident.person
    assert person.id_number not in text
    assert person.id_hash not in text
    assert person.id_masked in text
    assert "李四" not in text  # the other resident's pledge is not there


def test_my_data_pdf_renders_cleanly_with_the_persons_data(
    client, alice_with_history, tmp_path, caplog
):
    resident, pledge = alice_with_history
    client.force_login(resident)
    with caplog.at_level(logging.WARNING, logger="weasyprint"):
        response = client.get("/accounts/my-data/download.pdf")
    assert [r for r in caplog.records if r.name.startswith("weasyprint")] == []
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"].startswith("attachment;")
    assert response.content.startswith(b"%PDF")
    path = tmp_path / "my-data.pdf"
    path.write_bytes(response.content)
    text = subprocess.run(
        ["pdftotext", "-enc", "UTF-8", str(path), "-"], capture_output=True, check=True
    ).stdout.decode()
    assert pledge.number in text
    assert "张三" in text
    assert resident.person.id_number not in text


def test_my_data_downloads_are_audited(client, alice_with_history):
    resident, _ = alice_with_history
    client.force_login(resident)
    client.get("/accounts/my-data/download.json")
    event = AuditEvent.objects.get(action="privacy.exported")
    assert event.actor == resident
    assert event.person_hash == resident.person.id_hash
    assert event.data["format"] == "json"


def test_my_data_page_lists_sections_and_needs_sign_in(client, alice_with_history):
    resident, _ = alice_with_history
    assert client.get("/accounts/my-data/").status_code == 302
    client.force_login(resident)
    response = client.get("/accounts/my-data/")
    assert response.status_code == 200
    assert "download.pdf" in response.content.decode()
    assert client.get("/accounts/my-data/download.exe").status_code == 404


def test_staff_member_gets_their_account_data(client):
    clerk = make_staff("window_clerk", "clerk")
    login_staff(client, clerk)
    data = json.loads(client.get("/accounts/my-data/download.json").content)
    assert data["sections"]["identity"]["account"]["username"] == "clerk"
    assert "person" not in data["sections"]["identity"]


def test_my_data_api_returns_json_and_pdf(api_client, alice_with_history):
    resident, pledge = alice_with_history
    assert api_client.get("/api/v1/me/data/").status_code in (401, 403)
    api_client.force_authenticate(resident)
    response = api_client.get("/api/v1/me/data/")
    assert response.status_code == 200
    assert response.json()["sections"]["pledges"]["pledges"][0]["number"] == pledge.number
    pdf = api_client.get("/api/v1/me/data/?file_format=pdf")
    assert pdf.status_code == 200
    assert pdf.content.startswith(b"%PDF")
