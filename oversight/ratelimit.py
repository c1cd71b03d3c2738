"""The public complaint form's limit per IP address (shared by the page and the API).

A fixed window in the cache: the first complaint from an address opens the window, and
further ones are refused once the count is reached until it closes. Staff entering hotline
calls are not limited.
"""

from django.core.cache import cache

from . import conf


def _key(ip: str | None) -> str:
    return f"oversight:complaints:{ip or '-'}"


def complaint_allowed(ip: str | None) -> bool:
    """Count one attempt from ``ip``; False once the address has used up its window."""
    limit, window = conf.complaint_rate_limit()
    key = _key(ip)
    if cache.add(key, 1, window):
        return True
    try:
        count = cache.incr(key)
    except ValueError:
        cache.set(key, 1, window)
        return True
    return count <= limit
