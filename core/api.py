"""API conventions shared by every app: pagination, error format, idempotent POSTs.

Errors are always ``{"field": ["message", ...], ...}`` for input problems, plus ``code`` and
``detail`` for refusals, in the request's language (Chinese by default).
"""

import functools

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from .errors import DomainError
from .models import IdempotentRequest


class Pagination(PageNumberPagination):
    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = 200


def domain_error_response(error: DomainError) -> Response:
    body = {"code": error.code, "detail": error.message, **error.extra}
    if error.field:
        body[error.field] = [error.message]
    return Response(body, status=error.status)


def exception_handler(exc, context):
    if isinstance(exc, DomainError):
        return domain_error_response(exc)
    if isinstance(exc, DjangoValidationError):
        detail = exc.message_dict if hasattr(exc, "error_dict") else {"detail": exc.messages}
        exc = exceptions.ValidationError(detail)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if (
        response is not None
        and isinstance(exc, exceptions.APIException)
        and isinstance(response.data, dict)
        and "code" not in response.data
    ):
        codes = exc.get_codes()
        if isinstance(codes, str):
            response.data["code"] = codes
        elif isinstance(exc, exceptions.ValidationError):
            response.data["code"] = "invalid"
    return response


class _Replay(Exception):
    pass


def idempotent(view_method):
    """Replay the first answer to a POST that repeats its ``Idempotency-Key`` header.

    The view and the stored answer commit together: of two concurrent requests with one key,
    the second rolls back whatever it wrote and returns the first one's answer.
    """

    @functools.wraps(view_method)
    def wrapper(self, request, *args, **kwargs):
        key = request.headers.get("Idempotency-Key", "").strip()[:200]
        if not key or not request.user.is_authenticated:
            return view_method(self, request, *args, **kwargs)
        lookup = {"user": request.user, "key": key, "endpoint": request.path}
        previous = IdempotentRequest.objects.filter(**lookup).first()
        if previous:
            return Response(previous.body, status=previous.status_code)
        try:
            with transaction.atomic():
                response = view_method(self, request, *args, **kwargs)
                if status.is_success(response.status_code):
                    try:
                        with transaction.atomic():
                            IdempotentRequest.objects.create(
                                **lookup, status_code=response.status_code, body=response.data
                            )
                    except IntegrityError as exc:
                        raise _Replay from exc
        except _Replay:
            previous = IdempotentRequest.objects.get(**lookup)
            return Response(previous.body, status=previous.status_code)
        return response

    return wrapper
