"""A request id on every log line, from the web request into the Celery tasks it dispatches.

The middleware takes the ``X-Request-ID`` header a proxy (nginx's ``$request_id``) or a client
sent, when it is a safe token, or makes a new one; it answers with the same header. The id
lives in a context variable, so every log record written while the request runs carries it
(``RequestIdFilter``). A task published meanwhile carries it in a message header
(``before_task_publish``) and the worker restores it while the task runs (``task_prerun``), so
one grep follows a resident's click through the web log and the worker log.
"""

import logging
import re
import time
import uuid
from contextvars import ContextVar

HEADER = "X-Request-ID"
#: The name of the Celery message header that carries the id.
TASK_HEADER = "chengnuo_request_id"
# Letters, digits and ``-_.:`` only, at most 128 characters: never a log-injection vector.
_SAFE = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")

_request_id: ContextVar[str | None] = ContextVar("chengnuo_request_id", default=None)
# Tokens to reset the context variable after each task, by task id.
_task_tokens: dict[str, object] = {}

access_logger = logging.getLogger("chengnuo.access")


def get_request_id() -> str | None:
    """The id of the request or task being handled in this context, if any."""
    return _request_id.get()


def set_request_id(value: str | None):
    """Set the id for this context; returns a token for ``reset_request_id``."""
    return _request_id.set(value)


def reset_request_id(token) -> None:
    _request_id.reset(token)


def new_request_id() -> str:
    return uuid.uuid4().hex


def safe_request_id(value: str | None) -> str | None:
    """``value`` when it is a token safe to log, else ``None``."""
    if value and _SAFE.match(value):
        return value
    return None


class RequestIdFilter(logging.Filter):
    """Adds ``record.request_id`` (``-`` outside a request or task) for the formatters."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = _request_id.get() or "-"
        return True


def view_name(request) -> str:
    """The URL name that answered (``pledges:home``), a bounded label for logs and metrics."""
    match = getattr(request, "resolver_match", None)
    return (match.view_name or match._func_path) if match else "<unresolved>"


class RequestIdMiddleware:
    """Sets the request id, answers with it, and writes one access line per request.

    Put it first in ``MIDDLEWARE`` so that redirects and refusals by later middleware are
    logged with their id too.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request_id = safe_request_id(request.headers.get(HEADER)) or new_request_id()
        request.request_id = request_id
        token = _request_id.set(request_id)
        started = time.perf_counter()
        try:
            response = self.get_response(request)
            response[HEADER] = request_id
            if access_logger.isEnabledFor(logging.INFO):
                access_logger.info(
                    "%s %s %s",
                    request.method,
                    request.path,
                    response.status_code,
                    extra={
                        "request_id": request_id,
                        "method": request.method,
                        "path": request.path,
                        "status": response.status_code,
                        "view": view_name(request),
                        "duration_ms": round((time.perf_counter() - started) * 1000, 1),
                    },
                )
            return response
        finally:
            _request_id.reset(token)


# ---- Celery ----------------------------------------------------------------------------


def _on_before_task_publish(sender=None, headers=None, **kwargs):
    """Put the current id into the outgoing message's headers."""
    request_id = _request_id.get()
    if request_id and headers is not None and TASK_HEADER not in headers:
        headers[TASK_HEADER] = request_id


def _on_task_prerun(sender=None, task_id=None, task=None, **kwargs):
    """Restore the publishing request's id while the task runs (a new one if it had none)."""
    request = getattr(task, "request", None)
    if request is None or getattr(request, "is_eager", False):
        # An eager task runs inside the request that called it: its id is already set.
        return
    carried = safe_request_id(getattr(request, TASK_HEADER, None))
    if carried is None:
        headers = getattr(request, "headers", None) or {}
        carried = safe_request_id(headers.get(TASK_HEADER))
    # Beat's tasks have no request: the task id names their log lines.
    _task_tokens[task_id] = _request_id.set(carried or f"task-{task_id}")


def _on_task_postrun(sender=None, task_id=None, **kwargs):
    token = _task_tokens.pop(task_id, None)
    if token is not None:
        try:
            _request_id.reset(token)
        except ValueError:  # set in another context (should not happen with prefork/solo)
            _request_id.set(None)


def connect_celery_signals() -> None:
    """Called once from ``CoreConfig.ready`` in every process (web and worker)."""
    from celery.signals import before_task_publish, task_postrun, task_prerun

    before_task_publish.connect(_on_before_task_publish, weak=False, dispatch_uid="chengnuo.rid")
    task_prerun.connect(_on_task_prerun, weak=False, dispatch_uid="chengnuo.rid")
    task_postrun.connect(_on_task_postrun, weak=False, dispatch_uid="chengnuo.rid")
