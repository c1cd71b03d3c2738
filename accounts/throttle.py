"""Failed sign-ins are limited per username and IP; successful ones are not.

A wrong password and a wrong second-factor code both count. The failure that reaches the
limit writes ``auth.lockout`` to the audit log; each attempt refused while locked writes
``auth.locked_out`` (the callers do).
"""

import hashlib

from django.conf import settings
from django.core.cache import cache


def _key(username: str, ip: str | None) -> str:
    # The username is whatever was typed (spaces, control characters, 150 characters): a
    # digest keeps the key valid for every cache backend (memcached refuses such keys).
    digest = hashlib.sha256(username.strip().lower().encode()).hexdigest()[:32]
    return f"login-failures:{digest}:{ip or '-'}"


def login_blocked(username: str, ip: str | None) -> bool:
    return cache.get(_key(username, ip), 0) >= settings.CHENGNUO_LOGIN_FAILURE_LIMIT


def login_failed(username: str, ip: str | None) -> int:
    """Count one failure; return the failures in the current window."""
    key = _key(username, ip)
    window = settings.CHENGNUO_LOGIN_FAILURE_WINDOW_SECONDS
    if cache.add(key, 1, window):
        count = 1
    else:
        try:
            count = cache.incr(key)
        except ValueError:
            cache.set(key, 1, window)
            count = 1
    if count == settings.CHENGNUO_LOGIN_FAILURE_LIMIT:
        from core.audit import audit_record

        audit_record(
            actor=None,
            action="auth.lockout",
            data={"username": username, "window_seconds": window, "failures": count},
        )
    return count
