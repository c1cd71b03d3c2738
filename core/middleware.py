"""Carries the current request's IP and user agent to services (for the audit log)."""

from contextvars import ContextVar

_request_context: ContextVar[dict | None] = ContextVar("chengnuo_request", default=None)


def client_ip(request) -> str | None:
    """The client address. Behind a proxy, configure it to set REMOTE_ADDR (never trust XFF)."""
    return request.META.get("REMOTE_ADDR")


def current_context() -> dict:
    return _request_context.get() or {}


class RequestContextMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        token = _request_context.set(
            {
                "ip": client_ip(request),
                "user_agent": request.META.get("HTTP_USER_AGENT", "")[:400],
            }
        )
        try:
            return self.get_response(request)
        finally:
            _request_context.reset(token)
