"""Failed sign-ins are limited per username and IP; successful ones are not."""

from django.conf import settings
from django.core.cache import cache


def _key(username: str, ip: str | None) -> str:
    return f"login-failures:{username.strip().lower()}:{ip or '-'}"


def login_blocked(username: str, ip: str | None) -> bool:
    return cache.get(_key(username, ip), 0) >= settings.CHENGNUO_LOGIN_FAILURE_LIMIT


def login_failed(username: str, ip: str | None) -> None:
    key = _key(username, ip)
    window = settings.CHENGNUO_LOGIN_FAILURE_WINDOW_SECONDS
    if cache.add(key, 1, window):
        return
    try:
        cache.incr(key)
    except ValueError:
        cache.set(key, 1, window)
