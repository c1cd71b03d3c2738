"""One-time codes: sent by SMS, stored only as hashes, good once, for a short time, for a
few tries."""

import re

import pytest
from freezegun import freeze_time

from core.errors import DomainError
from core.models import OneTimeCode
from core.otp import otp_check, otp_issue

pytestmark = pytest.mark.django_db

PHONE = "13700000001"


def issue(sms_outbox, phone=PHONE, purpose="register") -> str:
    otp_issue(phone=phone, purpose=purpose)
    sent_to, text = sms_outbox[-1]
    assert sent_to == phone
    return re.search(r"(?<!\d)(\d{6})(?!\d)", text).group(1)


def refused(**kwargs) -> str:
    with pytest.raises(DomainError) as error:
        otp_check(**kwargs)
    assert error.value.field == "code"
    return error.value.message


def test_issue_sends_a_six_digit_code_and_stores_only_hashes(sms_outbox):
    code = issue(sms_outbox)
    stored = OneTimeCode.objects.get()
    assert len(code) == 6
    for value in (stored.code_hash, stored.phone_hash):
        assert code not in value and PHONE not in value
    assert stored.purpose == "register"


def test_the_right_code_passes_once(sms_outbox):
    code = issue(sms_outbox)
    otp_check(phone=PHONE, purpose="register", code=code)
    assert OneTimeCode.objects.get().used_at is not None
    refused(phone=PHONE, purpose="register", code=code)


def test_blanks_around_the_code_are_ignored(sms_outbox):
    code = issue(sms_outbox)
    otp_check(phone=PHONE, purpose="register", code=f" {code} ")


def test_a_wrong_code_counts_an_attempt(sms_outbox):
    code = issue(sms_outbox)
    refused(phone=PHONE, purpose="register", code="abcdef")
    assert OneTimeCode.objects.get().attempts == 1
    otp_check(phone=PHONE, purpose="register", code=code)


def test_after_too_many_wrong_codes_even_the_right_one_fails(sms_outbox, settings):
    settings.CHENGNUO_OTP_MAX_ATTEMPTS = 3
    code = issue(sms_outbox)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    for _ in range(3):
        refused(phone=PHONE, purpose="register", code=wrong)
    refused(phone=PHONE, purpose="register", code=code)
    assert OneTimeCode.objects.get().used_at is None


def test_a_code_expires(sms_outbox, settings):
    settings.CHENGNUO_OTP_TTL_SECONDS = 300
    with freeze_time("2026-06-01 10:00:00"):
        code = issue(sms_outbox)
    with freeze_time("2026-06-01 10:04:59"):
        otp_check(phone=PHONE, purpose="register", code=code)
    with freeze_time("2026-06-01 10:10:00"):
        second = issue(sms_outbox)
    with freeze_time("2026-06-01 10:15:01"):
        refused(phone=PHONE, purpose="register", code=second)


def test_a_code_is_bound_to_its_phone_and_purpose(sms_outbox):
    code = issue(sms_outbox)
    refused(phone="13700000002", purpose="register", code=code)
    refused(phone=PHONE, purpose="password_reset", code=code)
    otp_check(phone=PHONE, purpose="register", code=code)


def test_the_newest_code_is_the_one_that_counts(sms_outbox, monkeypatch):
    codes = iter([111111, 222222])
    monkeypatch.setattr("core.otp.secrets.randbelow", lambda limit: next(codes))
    with freeze_time("2026-06-01 10:00:00"):
        first = issue(sms_outbox)
    with freeze_time("2026-06-01 10:01:00"):
        second = issue(sms_outbox)
        refused(phone=PHONE, purpose="register", code=first)
        otp_check(phone=PHONE, purpose="register", code=second)
    assert (first, second) == ("111111", "222222")


def test_no_code_issued_means_expired(sms_outbox):
    message = refused(phone=PHONE, purpose="register", code="123456")
    assert message
