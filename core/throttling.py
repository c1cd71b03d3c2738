"""API rate limits per token and per address, as fixed-window counters.

DRF's ``SimpleRateThrottle`` keeps a list of every request's time in the cache and rewrites it
on each request, so a generous limit (thousands a minute) costs a growing pickle per call.
These keep one integer per client and window (``cache.add`` then ``cache.incr``), O(1) however
high the rate. The counters live in the ``throttle`` cache: the shared cache (Redis) when
``CACHE_URL`` is set, else each process's memory (a file-cache round trip would cost about
1.8 ms a request; per-process limits are the embedded mode's trade-off). Rates come from
``REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]`` (``user``, ``anon``), set from the environment
in settings; ``None`` turns a throttle off.
"""

import time

from django.conf import settings
from django.core.cache import caches
from rest_framework.throttling import SimpleRateThrottle

#: The cache alias for the counters, when settings define it (see ``CACHES["throttle"]``).
CACHE_ALIAS = "throttle"


class _FixedWindowThrottle(SimpleRateThrottle):
    @property
    def cache(self):
        """The ``throttle`` cache if configured, else the default one."""
        return caches[CACHE_ALIAS if CACHE_ALIAS in settings.CACHES else "default"]

    def allow_request(self, request, view):
        if self.rate is None:
            return True
        ident = self.get_cache_key(request, view)
        if ident is None:
            return True
        window_start = int(time.time()) // self.duration * self.duration
        self.window_end = window_start + self.duration
        key = f"{ident}:{window_start}"
        try:
            if self.cache.add(key, 1, self.duration + 1):
                return True
            count = self.cache.incr(key)
        except Exception:  # noqa: BLE001 - a cache outage must not take the API down
            return True
        return count <= self.num_requests

    def wait(self):
        return max(0.0, self.window_end - time.time())


class TokenRateThrottle(_FixedWindowThrottle):
    """Requests per authenticated account (its token or session), per window."""

    scope = "user"

    def get_cache_key(self, request, view):
        if not (request.user and request.user.is_authenticated):
            return None
        return f"throttle:user:{request.user.pk}"


class AnonymousRateThrottle(_FixedWindowThrottle):
    """Requests per client address for anonymous callers, per window."""

    scope = "anon"

    def get_cache_key(self, request, view):
        if request.user and request.user.is_authenticated:
            return None
        return f"throttle:anon:{self.get_ident(request)}"
