"""A database that is away answers 503 with Retry-After (JSON for the API, a page for the
site), from a view or a middleware; any other failure stays a 500."""

from unittest import mock

import pytest
from django.db import InterfaceError, OperationalError
from django.db.backends.utils import CursorWrapper
from django.test import Client
from rest_framework.test import APIClient

from core import unavailable

pytestmark = pytest.mark.django_db


def database_fails(error: Exception):
    """Every query of the request raises ``error``, as with the database cut off."""
    return mock.patch.object(CursorWrapper, "execute", side_effect=error)


def test_api_answers_503_json_with_retry_after_while_the_database_is_away(resident):
    client = APIClient(raise_request_exception=False)
    client.force_authenticate(resident)
    with database_fails(OperationalError("server closed the connection unexpectedly")):
        response = client.get("/api/v1/matters/")
    assert response.status_code == 503
    assert response["Retry-After"] == str(unavailable.RETRY_AFTER_SECONDS)
    assert response["Cache-Control"] == "no-store"
    assert response.json()["code"] == "unavailable"
    assert response.json()["detail"]


def test_a_page_answers_503_html_that_retries_by_itself(resident):
    client = Client(raise_request_exception=False)
    client.force_login(resident)
    # The session is read in a middleware, before any view: that failure is caught too.
    with database_fails(InterfaceError("connection already closed")):
        response = client.get("/")
    assert response.status_code == 503
    assert response["Content-Type"].startswith("text/html")
    assert response["Retry-After"] == str(unavailable.RETRY_AFTER_SECONDS)
    page = response.content.decode()
    assert f'http-equiv="refresh" content="{unavailable.RETRY_AFTER_SECONDS}"' in page


def test_a_failure_that_is_not_the_database_stays_a_500(resident):
    client = APIClient(raise_request_exception=False)
    client.force_authenticate(resident)
    with database_fails(RuntimeError("a bug")):
        response = client.get("/api/v1/matters/")
    assert response.status_code == 500
    assert "Retry-After" not in response


def test_a_database_error_wrapped_by_another_counts():
    try:
        try:
            raise OperationalError("terminating connection due to administrator command")
        except OperationalError as exc:
            raise ValueError("rendering failed") from exc
    except ValueError as wrapped:
        assert unavailable.is_database_unavailable(wrapped)
    assert not unavailable.is_database_unavailable(ValueError("no database involved"))
    assert not unavailable.is_database_unavailable(None)
