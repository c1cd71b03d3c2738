"""Resident registration (phone code, real-name check, one account per ID number) and the
sign-in page's failure limit."""

import re

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from accounts import id_numbers, privacy
from accounts.models import Person, RegistryEntry
from accounts.services import account_register
from core.errors import DomainError
from core.models import OneTimeCode
from tests.factories import UnitFactory, make_resident, valid_id_number

pytestmark = pytest.mark.django_db

User = get_user_model()
URL = "/accounts/register/"
PHONE = "13712345678"
PASSWORD = "qiao-Mai-7788"


@pytest.fixture
def town():
    return UnitFactory(town=True, code="419001-J01", name="沁园街道")


@pytest.fixture
def registered():
    """A person of the population registry who has no account yet."""
    number = valid_id_number()
    RegistryEntry.objects.create(id_hash=id_numbers.keyed_hash(number), name="赵六")
    return {"name": "赵六", "id_number": number}


def form_data(registered, town, **overrides):
    data = {
        "username": "zhaoliu",
        "real_name": registered["name"],
        "id_number": registered["id_number"],
        "phone": PHONE,
        "code": "",
        "town": str(town.pk),
        "address": "沁园街道示范路2号",
        "password": PASSWORD,
        "privacy_consent": "on",
        "privacy_version": privacy.CURRENT_VERSION,
    }
    data.update(overrides)
    return data


def send_code(client, registered, town, sms_outbox, **overrides) -> str:
    data = form_data(registered, town, **overrides)
    data["send_code"] = "1"
    response = client.post(URL, data)
    assert response.status_code == 200
    assert not response.context["form"].errors, response.context["form"].errors
    phone, text = sms_outbox[-1]
    assert phone == data["phone"]
    return re.search(r"(?<!\d)(\d{6})(?!\d)", text).group(1)


def register(client, registered, town, code, **overrides):
    return client.post(URL, form_data(registered, town, code=code, register="1", **overrides))


# ---- the page ---------------------------------------------------------------------------


def test_registration_page_offers_the_towns(client, town):
    response = client.get(URL)
    assert response.status_code == 200
    assert town.name in response.content.decode()


def test_send_code_keeps_what_was_typed_and_sends_one_sms(client, registered, town, sms_outbox):
    code = send_code(client, registered, town, sms_outbox)
    assert len(sms_outbox) == 1
    assert re.fullmatch(r"\d{6}", code)
    page = client.post(URL, {**form_data(registered, town), "send_code": "1"})
    # A second code within the minute is refused; the form still shows the typed values.
    assert "code" in page.context["form"].errors
    assert len(sms_outbox) == 1
    assert registered["name"] in page.content.decode()
    stored = OneTimeCode.objects.get()
    assert code not in (stored.code_hash, stored.phone_hash)
    assert PHONE not in stored.phone_hash


def test_send_code_refuses_a_bad_phone_number(client, registered, town, sms_outbox):
    response = client.post(URL, {**form_data(registered, town, phone="12345"), "send_code": "1"})
    assert "phone" in response.context["form"].errors
    assert sms_outbox == []


def test_registration_with_the_code_creates_the_account_and_signs_in(
    client, registered, town, sms_outbox
):
    code = send_code(client, registered, town, sms_outbox)
    response = register(client, registered, town, code)
    assert response.status_code == 302
    assert response["Location"] == reverse("pledges:home")

    user = User.objects.get(username="zhaoliu")
    assert user.real_name == "赵六"
    assert user.phone == PHONE
    assert user.check_password(PASSWORD)
    assert list(user.groups.values_list("name", flat=True)) == ["resident"]
    person = user.person
    assert person.id_number == registered["id_number"]
    assert person.id_hash == id_numbers.keyed_hash(registered["id_number"])
    assert person.town == town
    assert person.address == "沁园街道示范路2号"
    assert int(client.session["_auth_user_id"]) == user.pk
    assert client.get(reverse("pledges:my_pledges")).status_code == 200


def test_a_lower_case_x_is_accepted_and_stored_upper_case(client, town, sms_outbox):
    number = "11010519491231002X"
    RegistryEntry.objects.create(id_hash=id_numbers.keyed_hash(number), name="钱七")
    registered = {"name": "钱七", "id_number": number.lower()}
    code = send_code(client, registered, town, sms_outbox)
    assert register(client, registered, town, code).status_code == 302
    assert User.objects.get(username="zhaoliu").person.id_number == number


def test_a_wrong_code_is_refused_and_counted(client, registered, town, sms_outbox):
    code = send_code(client, registered, town, sms_outbox)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    response = register(client, registered, town, wrong)
    assert response.status_code == 200
    assert "code" in response.context["form"].errors
    assert not User.objects.filter(username="zhaoliu").exists()
    assert OneTimeCode.objects.get().attempts == 1
    # The right code still works afterwards.
    assert register(client, registered, town, code).status_code == 302


def test_a_missing_code_is_asked_for(client, registered, town, sms_outbox):
    send_code(client, registered, town, sms_outbox)
    response = register(client, registered, town, "")
    assert "code" in response.context["form"].errors
    assert not User.objects.exists()


def test_a_name_that_does_not_match_the_registry_is_refused(client, registered, town, sms_outbox):
    code = send_code(client, registered, town, sms_outbox)
    response = register(client, registered, town, code, real_name="赵七")
    assert response.status_code == 200
    assert "real_name" in response.context["form"].errors
    assert not User.objects.exists()
    assert not Person.objects.exists()


def test_a_number_missing_from_the_registry_is_refused(client, town, sms_outbox):
    stranger = {"name": "孙八", "id_number": valid_id_number()}
    code = send_code(client, stranger, town, sms_outbox)
    response = register(client, stranger, town, code)
    assert "real_name" in response.context["form"].errors


def test_an_invalid_id_number_is_refused_on_its_field(client, registered, town, sms_outbox):
    response = register(client, registered, town, "123456", id_number="11010519491231002Y")
    assert "id_number" in response.context["form"].errors
    assert sms_outbox == []


def test_one_account_per_id_number(client, town, sms_outbox):
    existing = make_resident("first", name="周九")
    registered = {"name": "周九", "id_number": existing.person.id_number}
    code = send_code(client, registered, town, sms_outbox)
    response = register(client, registered, town, code, username="second")
    assert response.status_code == 200
    assert "id_number" in response.context["form"].errors
    assert not User.objects.filter(username="second").exists()


def test_a_person_known_from_a_window_pledge_can_register(client, registered, town, sms_outbox):
    """The person exists (a clerk recorded a pledge) but has no account: registering links it."""
    from accounts.services import person_get_or_create

    person = person_get_or_create(id_number=registered["id_number"], name="赵六")
    code = send_code(client, registered, town, sms_outbox)
    assert register(client, registered, town, code).status_code == 302
    assert User.objects.get(username="zhaoliu").person == person


def test_a_taken_username_is_refused(client, registered, town, sms_outbox):
    make_resident("zhaoliu")
    code = send_code(client, registered, town, sms_outbox)
    response = register(client, registered, town, code)
    assert "username" in response.context["form"].errors


def test_a_weak_password_is_refused(client, registered, town, sms_outbox):
    code = send_code(client, registered, town, sms_outbox)
    response = register(client, registered, town, code, password="123")
    assert "password" in response.context["form"].errors
    assert not User.objects.exists()


def test_the_real_name_check_needs_a_confirmed_phone_first(registered, town, sms_outbox):
    """Without a valid code the registry answers nothing: no oracle for name–number pairs."""
    with pytest.raises(DomainError) as error:
        account_register(
            username="probe",
            password=PASSWORD,
            real_name="随便猜",
            id_number=registered["id_number"],
            phone=PHONE,
            code="000000",
            address="",
            town=town,
            privacy_notice_version=privacy.CURRENT_VERSION,
        )
    assert error.value.field == "code"


# ---- signing in -------------------------------------------------------------------------


def test_sign_in_page_logs_in(client):
    make_resident("alice")
    response = client.post("/accounts/login/", {"username": "alice", "password": "pass-Word-123"})
    assert response.status_code == 302
    assert int(client.session["_auth_user_id"]) == User.objects.get(username="alice").pk


def test_sign_in_page_refuses_after_five_failures(client):
    make_resident("alice")
    make_resident("carol")
    for _ in range(5):
        failed = client.post("/accounts/login/", {"username": "alice", "password": "wrong"})
        assert failed.status_code == 200
        assert "_auth_user_id" not in client.session
    refused = client.post("/accounts/login/", {"username": "alice", "password": "pass-Word-123"})
    assert refused.status_code == 200
    assert "_auth_user_id" not in client.session
    assert [e.code for e in refused.context["form"].non_field_errors().as_data()] == ["throttled"]
    # Another username from the same address may still sign in.
    other = client.post("/accounts/login/", {"username": "carol", "password": "pass-Word-123"})
    assert other.status_code == 302


def test_successful_sign_ins_are_not_counted(client):
    make_resident("alice")
    for _ in range(7):
        client.post("/accounts/login/", {"username": "alice", "password": "pass-Word-123"})
        client.post("/accounts/logout/")
    assert "_auth_user_id" not in client.session
    response = client.post("/accounts/login/", {"username": "alice", "password": "pass-Word-123"})
    assert response.status_code == 302


def test_the_failure_limit_ignores_the_usernames_case(client):
    make_resident("alice")
    for name in ("alice", "ALICE", "Alice", "aLice", "alicE"):
        client.post("/accounts/login/", {"username": name, "password": "wrong"})
    refused = client.post("/accounts/login/", {"username": "alice", "password": "pass-Word-123"})
    assert "_auth_user_id" not in client.session
    assert refused.status_code == 200
