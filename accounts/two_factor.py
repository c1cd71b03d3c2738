"""Two-factor sign-in for staff (双因素认证): TOTP authenticators and recovery codes.

Every staff role (any role but ``resident``) and every account that may open the Django
admin must pass a second factor after the password, in every mode. The factor is a TOTP
authenticator app (django-otp's ``TOTPDevice``, RFC 6238: 6 digits, 30-second steps, one step
of clock tolerance, each code accepted once) or one of ten single-use recovery codes
(django-otp's ``StaticDevice``). A staff account without an authenticator cannot sign in;
the administrator provisions one (``create_account … --totp-secret BASE32``).
"""

import base64
import binascii
import re

from django.conf import settings
from django.db import transaction
from django_otp import devices_for_user, verify_token
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from . import roles

TOTP_DEVICE_NAME = "authenticator"
RECOVERY_DEVICE_NAME = "recovery codes"
# 80 bits at least (16 base32 characters); RFC 4226 recommends 160 (32 characters).
MIN_SECRET_BYTES = 10
_TOTP_CODE = re.compile(r"^[0-9]{6}$")


class InvalidSecret(ValueError):
    """The TOTP secret is not base32 or too short."""


def requires_two_factor(user) -> bool:
    """Staff roles, and anyone who can open the admin, sign in with a second factor."""
    if user is None or not user.is_authenticated:
        return False
    return roles.is_staff_role(user) or user.is_staff or user.is_superuser


def has_authenticator(user) -> bool:
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def decode_secret(secret_base32: str) -> bytes:
    """The key bytes of a base32 secret as authenticator apps show it (blanks and case free)."""
    cleaned = re.sub(r"[\s-]", "", secret_base32 or "").upper()
    padded = cleaned + "=" * (-len(cleaned) % 8)
    try:
        key = base64.b32decode(padded)
    except (binascii.Error, ValueError) as exc:
        raise InvalidSecret("the TOTP secret must be base32 (letters A-Z and digits 2-7)") from exc
    if len(key) < MIN_SECRET_BYTES:
        raise InvalidSecret(
            f"the TOTP secret must hold at least {MIN_SECRET_BYTES * 8} bits "
            f"({MIN_SECRET_BYTES * 8 // 5} base32 characters)"
        )
    return key


def totp_provision(*, user, secret_base32: str) -> TOTPDevice:
    """Give ``user`` an authenticator with this secret, replacing any earlier one."""
    key = decode_secret(secret_base32)
    with transaction.atomic():
        TOTPDevice.objects.filter(user=user).delete()
        return TOTPDevice.objects.create(
            user=user, name=TOTP_DEVICE_NAME, key=key.hex(), confirmed=True
        )


def recovery_codes_issue(*, user, count: int | None = None) -> list[str]:
    """A fresh set of single-use recovery codes; the earlier set stops working."""
    count = count or settings.CHENGNUO_RECOVERY_CODE_COUNT
    with transaction.atomic():
        StaticDevice.objects.filter(user=user).delete()
        device = StaticDevice.objects.create(user=user, name=RECOVERY_DEVICE_NAME, confirmed=True)
        codes = [StaticToken.random_token() for _ in range(count)]
        StaticToken.objects.bulk_create(StaticToken(device=device, token=code) for code in codes)
    return codes


def recovery_codes_left(user) -> int:
    return StaticToken.objects.filter(device__user=user, device__confirmed=True).count()


def second_factor_verify(user, code: str):
    """The device that accepts ``code`` (a 6-digit TOTP code or a recovery code), or ``None``.

    A TOTP code is accepted once (a replay in the same 30 seconds fails); a recovery code is
    used up. django-otp slows down guessing per device (an increasing delay after failures).
    """
    code = re.sub(r"[\s-]", "", code or "")
    if not code:
        return None
    if _TOTP_CODE.match(code):
        candidates = TOTPDevice.objects.devices_for_user(user)
    else:
        code = code.lower()
        candidates = StaticDevice.objects.devices_for_user(user)
    for device in candidates:
        verified = verify_token(user, device.persistent_id, code)
        if verified is not None:
            return verified
    return None


def seconds_to_wait(user) -> int:
    """How long django-otp still refuses codes after recent wrong ones (0: none).

    Each wrong code doubles the wait (1, 2, 4 … seconds); a right code resets it.
    """
    from django.utils import timezone

    waits = []
    for device in devices_for_user(user):
        allowed, info = device.verify_is_allowed()
        if not allowed and info and info.get("locked_until"):
            waits.append((info["locked_until"] - timezone.now()).total_seconds())
    return max(0, int(max(waits, default=0)) + 1) if waits else 0


def factor_kind(device) -> str:
    if isinstance(device, TOTPDevice):
        return "totp"
    if isinstance(device, StaticDevice):
        return "recovery_code"
    return type(device).__name__.lower()


def devices_of(user) -> list:
    return list(devices_for_user(user))
