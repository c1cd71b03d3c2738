"""One-time codes sent by SMS: issue, then check once within their lifetime."""

import hashlib
import hmac
import secrets
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from .errors import DomainError
from .models import OneTimeCode
from .sms import sms_send


def _digest(value: str) -> str:
    return hmac.new(settings.SECRET_KEY.encode(), value.encode(), hashlib.sha256).hexdigest()


def otp_issue(*, phone: str, purpose: str) -> None:
    code = f"{secrets.randbelow(10**6):06d}"
    now = timezone.now()
    OneTimeCode.objects.create(
        phone_hash=_digest(phone),
        purpose=purpose,
        code_hash=_digest(f"{phone}:{purpose}:{code}"),
        expires_at=now + timedelta(seconds=settings.CHENGNUO_OTP_TTL_SECONDS),
    )
    sms_send(phone, _("Your Chengnuo verification code is %(code)s.") % {"code": code})


def otp_check(*, phone: str, purpose: str, code: str) -> None:
    """Consume a valid code or raise ``DomainError`` on the ``code`` field.

    Call it outside the caller's transaction: a wrong code must still count as an attempt.
    """
    now = timezone.now()
    error = None
    with transaction.atomic():
        entry = (
            OneTimeCode.objects.select_for_update()
            .filter(
                phone_hash=_digest(phone), purpose=purpose, used_at__isnull=True, expires_at__gt=now
            )
            .order_by("-created_at")
            .first()
        )
        if entry is None:
            error = _("The code has expired. Request a new one.")
        elif entry.attempts >= settings.CHENGNUO_OTP_MAX_ATTEMPTS:
            error = _("Too many wrong codes. Request a new one.")
        elif not hmac.compare_digest(
            entry.code_hash, _digest(f"{phone}:{purpose}:{(code or '').strip()}")
        ):
            entry.attempts += 1
            entry.save(update_fields=["attempts"])
            error = _("The code is wrong.")
        else:
            entry.used_at = now
            entry.save(update_fields=["used_at"])
    if error:
        raise DomainError(error, field="code")
