"""While the database is away: 503 with ``Retry-After``, never a 500 page.

A restarting or unreachable database makes every query raise ``OperationalError`` (or
``InterfaceError`` on a connection that was cut). Django's ``handler500`` is called for any
uncaught exception, from a view or from a middleware (sessions, accounts), while the exception
is still being handled; ``server_error`` looks at it and answers 503 (JSON under ``/api/``, a
short page elsewhere) with a retry hint, or Django's usual 500 for anything else.

Nothing here touches the database, and the web processes need no restart: Django drops a
connection that failed (``CONN_HEALTH_CHECKS``) and opens a new one for the next request once
the database answers again.
"""

import sys

from django.db import InterfaceError, OperationalError
from django.http import HttpResponse, JsonResponse
from django.template.loader import render_to_string
from django.utils.translation import gettext as _
from django.views import defaults

from .health import RETRY_AFTER_SECONDS  # what ``/readyz`` says too

DATABASE_ERRORS = (OperationalError, InterfaceError)


def is_database_unavailable(exc: BaseException | None) -> bool:
    """``exc``, or an exception it was raised from, is the database failing."""
    seen = 0
    while exc is not None and seen < 5:
        if isinstance(exc, DATABASE_ERRORS):
            return True
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return False


def unavailable_response(request) -> HttpResponse:
    detail = _("The service is briefly unavailable. Please try again in a few seconds.")
    if request.path.startswith("/api/"):
        response = JsonResponse({"code": "unavailable", "detail": detail}, status=503)
    else:
        html = render_to_string("503.html", {"detail": detail, "retry_after": RETRY_AFTER_SECONDS})
        response = HttpResponse(html, status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    response["Cache-Control"] = "no-store"
    return response


def server_error(request, template_name=defaults.ERROR_500_TEMPLATE_NAME):
    """``handler500``: 503 when the database is away, Django's 500 page otherwise."""
    if is_database_unavailable(sys.exc_info()[1]):
        return unavailable_response(request)
    return defaults.server_error(request, template_name)
