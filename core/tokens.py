"""Signed tokens for public links (QR verification, complaint tracking).

A token is an HMAC over a purpose and a value with the project's secret key, so a link can
be checked without storing anything and cannot be guessed or moved to another record.
"""

from django.core import signing


def make_token(purpose: str, value: str) -> str:
    signer = signing.Signer(salt=f"chengnuo.{purpose}")
    return signer.signature(str(value))[:32]


def check_token(purpose: str, value: str, token: str) -> bool:
    """Whether ``token`` was made for ``value`` by the secret key or one of its fallbacks
    (``SECRET_KEY_FALLBACKS``), so links printed before a key rotation keep working."""
    from django.conf import settings
    from django.utils.crypto import constant_time_compare

    if not token:
        return False
    signer = signing.Signer(salt=f"chengnuo.{purpose}")
    return any(
        constant_time_compare(signer.signature(str(value), key=key)[:32], token)
        for key in [settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS]
    )


def make_expiring(purpose: str, value: str) -> str:
    return signing.TimestampSigner(salt=f"chengnuo.{purpose}").sign(str(value))


def read_expiring(purpose: str, signed: str, max_age: int) -> str | None:
    try:
        return signing.TimestampSigner(salt=f"chengnuo.{purpose}").unsign(signed, max_age=max_age)
    except signing.BadSignature:
        return None
