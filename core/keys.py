"""Key rings: the current key signs, older keys still verify while a rotation runs.

Settings hold each signing key with a list of fallbacks from the environment
(``LEDGER_HMAC_KEY`` + ``LEDGER_HMAC_KEY_FALLBACKS``, ``EXPORT_SIGNING_KEY`` +
``EXPORT_SIGNING_KEY_FALLBACKS``; Django's own ``SECRET_KEY`` + ``SECRET_KEY_FALLBACKS``).
To rotate: put the new key first and the old one in the fallbacks, deploy, re-sign what
must carry the new key (or let it age out), then drop the fallback. ``key_id`` names a key
without revealing it, so a stored signature can say which key made it.
"""

import hashlib
import hmac

from django.conf import settings


def key_ring(name: str) -> list[str]:
    """``[current, *fallbacks]`` for the key setting ``name`` (e.g. ``"LEDGER_HMAC_KEY"``)."""
    fallbacks = getattr(settings, f"{name}_FALLBACKS", None) or []
    return [getattr(settings, name), *fallbacks]


def key_id(key: str) -> str:
    """A short, non-secret name for ``key``: the first 8 hex digits of its SHA-256."""
    return hashlib.sha256(key.encode()).hexdigest()[:8]


def hmac_sign(name: str, message: bytes) -> str:
    """HMAC-SHA256 of ``message`` under the current key of ``name``, in hex."""
    return hmac.new(key_ring(name)[0].encode(), message, hashlib.sha256).hexdigest()


def hmac_verify(name: str, message: bytes, signature: str) -> bool:
    """Whether ``signature`` was made over ``message`` by any key of the ring ``name``."""
    return any(
        hmac.compare_digest(hmac.new(key.encode(), message, hashlib.sha256).hexdigest(), signature)
        for key in key_ring(name)
    )


def signing_key_for(name: str, wanted_id: str) -> str | None:
    """The key of the ring ``name`` whose ``key_id`` is ``wanted_id``, if still configured."""
    for key in key_ring(name):
        if key_id(key) == wanted_id:
            return key
    return None
