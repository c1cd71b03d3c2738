"""Staff sign in with a second factor (TOTP or a recovery code), on the pages, the admin and
the API; residents with the password alone."""

import base64
import warnings

import pytest
from django.core.cache import CacheKeyWarning
from django.core.management import CommandError, call_command
from django.test import Client
from django_otp.plugins.otp_totp.models import TOTPDevice
from freezegun import freeze_time

from accounts import two_factor
from core.models import AuditEvent
from tests.factories import TEST_TOTP_SECRET, login_staff, make_resident, make_staff, totp_code

pytestmark = pytest.mark.django_db

PASSWORD = "pass-Word-123"
LOGIN = "/accounts/login/"
CODE_STEP = "/accounts/login/code/"
TOKEN = "/api/v1/auth/token/"


@pytest.fixture
def clerk():
    return make_staff("window_clerk", "clerk")


def password_step(client, username, next_url=""):
    data = {"username": username, "password": PASSWORD}
    if next_url:
        data["next"] = next_url
    return client.post(LOGIN, data)


def signed_in_user_id(client):
    return client.session.get("_auth_user_id")


# ---- pages ------------------------------------------------------------------------------


def test_staff_password_alone_does_not_sign_in(client, clerk):
    response = password_step(client, "clerk")
    assert response.status_code == 302
    assert response["Location"] == CODE_STEP
    assert signed_in_user_id(client) is None
    assert client.get("/window/").status_code == 302  # still anonymous: to the login page


def test_staff_signs_in_with_password_and_authenticator_code(client, clerk):
    password_step(client, "clerk", next_url="/window/")
    response = client.post(CODE_STEP, {"code": totp_code(clerk)})
    assert response.status_code == 302
    assert response["Location"] == "/window/"
    assert signed_in_user_id(client) == str(clerk.pk)
    assert client.get("/window/").status_code == 200
    event = AuditEvent.objects.filter(action="auth.login", actor=clerk).get()
    assert event.data["second_factor"] == "totp"


def test_staff_session_idles_out_sooner_than_a_residents(client, clerk, settings):
    settings.CHENGNUO_STAFF_SESSION_IDLE_SECONDS = 600
    password_step(client, "clerk")
    client.post(CODE_STEP, {"code": totp_code(clerk)})
    assert client.session.get_expiry_age() == 600


def test_wrong_code_is_refused_recorded_and_counts_towards_the_lockout(client, clerk, settings):
    settings.CHENGNUO_LOGIN_FAILURE_LIMIT = 3
    password_step(client, "clerk")
    for _ in range(3):
        response = client.post(CODE_STEP, {"code": "000000"})
        assert response.status_code == 200
        assert "code" in response.context["form"].errors
    assert AuditEvent.objects.filter(action="auth.otp_failed").count() == 3
    assert AuditEvent.objects.filter(action="auth.lockout", data__username="clerk").exists()
    # Locked: even the right code is refused now.
    response = client.post(CODE_STEP, {"code": totp_code(clerk)})
    assert signed_in_user_id(client) is None
    assert "15" in str(response.context["form"].non_field_errors())
    assert AuditEvent.objects.filter(action="auth.locked_out").exists()


def test_a_code_works_once(client, clerk):
    code = totp_code(clerk)
    password_step(client, "clerk")
    client.post(CODE_STEP, {"code": code})
    assert signed_in_user_id(client) == str(clerk.pk)
    other = Client()
    password_step(other, "clerk")
    response = other.post(CODE_STEP, {"code": code})
    assert signed_in_user_id(other) is None
    assert "code" in response.context["form"].errors


def test_recovery_code_signs_in_once(client, clerk):
    codes = two_factor.recovery_codes_issue(user=clerk)
    assert len(codes) == 10 and len(set(codes)) == 10
    password_step(client, "clerk")
    client.post(CODE_STEP, {"code": codes[0].upper()})
    assert signed_in_user_id(client) == str(clerk.pk)
    assert two_factor.recovery_codes_left(clerk) == 9
    event = AuditEvent.objects.filter(action="auth.login", actor=clerk).get()
    assert event.data["second_factor"] == "recovery_code"
    other = Client()
    password_step(other, "clerk")
    other.post(CODE_STEP, {"code": codes[0]})
    assert signed_in_user_id(other) is None


def test_staff_without_authenticator_cannot_sign_in_and_is_told_whom_to_ask(client):
    make_staff("credit_officer", "nodevice", totp=False)
    response = password_step(client, "nodevice")
    assert response.status_code == 200
    assert signed_in_user_id(client) is None
    assert response.context["form"].non_field_errors()  # "contact the administrator"
    assert AuditEvent.objects.filter(action="auth.no_second_factor").exists()


def test_every_staff_role_needs_the_second_factor(client, staff):
    for role, user in staff.items():
        fresh = Client()
        response = password_step(fresh, user.username)
        assert response.status_code == 302, role
        assert response["Location"] == CODE_STEP, role
        assert signed_in_user_id(fresh) is None, role


def test_resident_signs_in_with_password_alone(client, resident):
    response = password_step(client, "alice")
    assert response.status_code == 302
    assert signed_in_user_id(client) == str(resident.pk)
    assert AuditEvent.objects.filter(action="auth.login", actor=resident).exists()


def test_password_step_expires(client, clerk, settings):
    with freeze_time("2026-03-02 09:00:00"):
        password_step(client, "clerk")
    with freeze_time("2026-03-02 09:06:00"):
        response = client.post(CODE_STEP, {"code": totp_code(clerk)})
    assert response.status_code == 302
    assert response["Location"] == LOGIN
    assert signed_in_user_id(client) is None


def test_failed_page_sign_in_is_in_the_audit_log(client, clerk):
    client.post(LOGIN, {"username": "clerk", "password": "wrong-password"})
    event = AuditEvent.objects.get(action="auth.failed")
    assert event.data == {"username": "clerk", "channel": "page"}
    assert event.actor is None


def test_unverified_staff_session_reaches_only_the_code_step(client, clerk):
    client.force_login(clerk)  # a session without the second factor
    response = client.get("/window/?q=x")
    assert response.status_code == 302
    assert response["Location"].startswith(CODE_STEP + "?next=")
    api = client.get("/api/v1/pledges/")
    assert api.status_code == 403
    assert api.json()["code"] == "otp_required"
    # The code step completes it.
    response = client.post(CODE_STEP + "?next=/window/", {"code": totp_code(clerk)})
    assert response["Location"] == "/window/"
    assert client.get("/window/").status_code == 200


def test_login_staff_helper_passes_the_second_factor(client, clerk):
    login_staff(client, clerk)
    assert client.get("/window/").status_code == 200


def test_admin_login_goes_through_the_two_step_sign_in(client):
    response = client.get("/admin/login/?next=/admin/")
    assert response.status_code == 302
    assert response["Location"].startswith(LOGIN + "?next=")
    admin = make_staff("catalog_admin", "cat-admin")
    client.force_login(admin)
    assert client.get("/admin/").status_code == 302  # not verified yet
    login_staff(client, admin)
    assert client.get("/admin/").status_code == 200


def test_recovery_codes_page_issues_a_new_set(client, clerk):
    old = two_factor.recovery_codes_issue(user=clerk)
    login_staff(client, clerk)
    response = client.post("/accounts/two-factor/")
    codes = response.context["codes"]
    assert len(codes) == 10
    assert not set(codes) & set(old)
    assert two_factor.second_factor_verify(clerk, old[0]) is None
    assert AuditEvent.objects.filter(action="auth.recovery_codes_issued").exists()


def test_recovery_codes_page_is_for_staff_only(client, resident):
    client.force_login(resident)
    assert client.get("/accounts/two-factor/").status_code == 404


# ---- API --------------------------------------------------------------------------------


def test_api_staff_token_needs_the_code(api_client, clerk):
    response = api_client.post(TOKEN, {"username": "clerk", "password": PASSWORD}, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "otp_required"
    assert "otp" in response.json()


def test_api_staff_token_refuses_a_wrong_code(api_client, clerk):
    response = api_client.post(
        TOKEN, {"username": "clerk", "password": PASSWORD, "otp": "123456"}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_otp"
    assert AuditEvent.objects.filter(action="auth.otp_failed").exists()


def test_api_staff_token_with_a_valid_code(api_client, clerk):
    response = api_client.post(
        TOKEN,
        {"username": "clerk", "password": PASSWORD, "otp": totp_code(clerk)},
        format="json",
    )
    assert response.status_code == 200
    token = response.json()["token"]
    event = AuditEvent.objects.get(action="auth.token_issued")
    assert event.data["second_factor"] == "totp"
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert api_client.get("/api/v1/pledges/").status_code == 200


def test_api_resident_token_needs_no_code(api_client, resident):
    response = api_client.post(TOKEN, {"username": "alice", "password": PASSWORD}, format="json")
    assert response.status_code == 200
    assert response.json()["token"]


def test_api_staff_without_authenticator_is_refused(api_client):
    make_staff("window_clerk", "bare", totp=False)
    response = api_client.post(
        TOKEN, {"username": "bare", "password": PASSWORD, "otp": "123456"}, format="json"
    )
    assert response.status_code == 403
    assert response.json()["code"] == "second_factor_not_set_up"


def test_api_failed_password_is_recorded_once(api_client, clerk):
    api_client.post(TOKEN, {"username": "clerk", "password": "nope"}, format="json")
    events = AuditEvent.objects.filter(action="auth.failed")
    assert events.count() == 1
    assert events.get().data == {"username": "clerk", "channel": "api"}


def test_api_wrong_codes_lock_out_like_wrong_passwords(api_client, clerk, settings):
    settings.CHENGNUO_LOGIN_FAILURE_LIMIT = 2
    body = {"username": "clerk", "password": PASSWORD, "otp": "000000"}
    api_client.post(TOKEN, body, format="json")
    api_client.post(TOKEN, body, format="json")
    response = api_client.post(TOKEN, {**body, "otp": totp_code(clerk)}, format="json")
    assert response.status_code == 429


def test_failures_under_any_typed_username_are_counted(api_client, settings):
    """Whatever is typed (spaces, control characters, 150 characters) makes a cache key every
    backend accepts: memcached refuses such keys, and Django warns of them (an error here)."""
    settings.CHENGNUO_LOGIN_FAILURE_LIMIT = 2
    body = {"username": "名 字\t" * 30, "password": "nope"}
    with warnings.catch_warnings():
        warnings.simplefilter("error", CacheKeyWarning)
        statuses = [api_client.post(TOKEN, body, format="json").status_code for _ in range(3)]
    assert statuses == [400, 400, 429]


# ---- provisioning -----------------------------------------------------------------------


def test_create_account_provisions_the_authenticator(capsys):
    from tests.factories import UnitFactory

    UnitFactory(code="SF", name="市司法局")
    call_command(
        "create_account",
        "newclerk",
        "--role",
        "window_clerk",
        "--password",
        "Long-enough-pw-1",
        "--unit",
        "SF",
        "--totp-secret",
        "jbsw y3dp ehpk 3pxp",
        "--recovery-codes",
    )
    out = capsys.readouterr().out
    device = TOTPDevice.objects.get(user__username="newclerk")
    assert device.key == base64.b32decode("JBSWY3DPEHPK3PXP").hex()
    assert "recovery codes" in out
    assert two_factor.recovery_codes_left(device.user) == 10


def test_create_account_refuses_a_bad_secret():
    from tests.factories import UnitFactory

    UnitFactory(code="SF", name="市司法局")
    with pytest.raises(CommandError, match="base32"):
        call_command(
            "create_account",
            "x1",
            "--role",
            "window_clerk",
            "--password",
            "Long-enough-pw-1",
            "--unit",
            "SF",
            "--totp-secret",
            "not-base32-!!",
        )
    with pytest.raises(CommandError, match="80 bits"):
        call_command(
            "create_account",
            "x2",
            "--role",
            "window_clerk",
            "--password",
            "Long-enough-pw-1",
            "--unit",
            "SF",
            "--totp-secret",
            "JBSWY3DP",
        )


def test_demo_staff_share_the_documented_secret():
    from accounts import demo

    demo.load_units()
    demo.load_accounts()
    devices = TOTPDevice.objects.filter(user__username__startswith="demo-")
    expected = base64.b32decode(demo.DEMO_TOTP_SECRET).hex()
    staff_names = {a.username for a in demo.DEMO_ACCOUNTS if a.role != "resident"}
    assert {d.user.username for d in devices} == staff_names
    assert {d.key for d in devices} == {expected}
    assert demo.DEMO_TOTP_SECRET == "JBSWY3DPEHPK3PXP"


def test_test_staff_use_the_known_secret():
    user = make_staff("window_clerk", "known")
    device = TOTPDevice.objects.get(user=user)
    assert device.key == base64.b32decode(TEST_TOTP_SECRET).hex()


def test_resident_helper_accounts_have_no_authenticator():
    user = make_resident("plain")
    assert not two_factor.has_authenticator(user)
    assert not two_factor.requires_two_factor(user)


def test_after_a_wrong_code_the_page_says_how_long_to_wait(client, clerk):
    password_step(client, "clerk")
    client.post(CODE_STEP, {"code": "000000"})
    response = client.post(CODE_STEP, {"code": totp_code(clerk)})  # within django-otp's delay
    assert signed_in_user_id(client) is None
    wait = two_factor.seconds_to_wait(clerk)
    assert wait >= 1
    assert str(wait) in str(response.context["form"].errors["code"])
