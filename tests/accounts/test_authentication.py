"""API token authentication: one query for the token, the account, its person, unit and roles."""

import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils.translation import gettext
from rest_framework.authtoken.models import Token
from rest_framework.settings import api_settings
from rest_framework.test import APIClient, APIRequestFactory

from accounts import roles
from accounts.authentication import TokenAuthentication
from pledges.models import Pledge
from tests.factories import MatterFactory, make_resident, make_staff, pledge_body, sign_pledge

pytestmark = pytest.mark.django_db


def token_client(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client


def authenticate(key: str):
    request = APIRequestFactory().get("/api/v1/pledges/", HTTP_AUTHORIZATION=f"Token {key}")
    return TokenAuthentication().authenticate(request)


def test_the_project_authenticates_api_tokens_with_its_own_class():
    assert TokenAuthentication in api_settings.DEFAULT_AUTHENTICATION_CLASSES


def test_token_account_person_and_roles_come_in_one_query(resident):
    key = Token.objects.create(user=resident).key
    with CaptureQueriesContext(connection) as queries:
        user, token = authenticate(key)
        assert token.key == key
        assert user.pk == resident.pk
        assert user.person.name == "张三"
        assert user.person.id_number == resident.person.id_number  # decrypted as the ORM does
        assert user.person.account is user
        assert user.unit is None
        assert roles.has_role(user, roles.RESIDENT)
        assert not roles.is_staff_role(user)
    assert len(queries) == 1


def test_a_staff_account_gets_its_unit_and_every_role(db):
    clerk = make_staff(roles.WINDOW_CLERK, "clerk")
    clerk.groups.add(Group.objects.get(name=roles.VERIFICATION_OFFICER))
    key = Token.objects.create(user=clerk).key
    with CaptureQueriesContext(connection) as queries:
        user, _token = authenticate(key)
        assert user.person is None
        assert user.unit.code == "HALL"
        assert user._role_names == {roles.WINDOW_CLERK, roles.VERIFICATION_OFFICER}
        assert roles.has_role(user, roles.VERIFICATION_OFFICER)
        assert not roles.has_role(user, roles.RESIDENT)
    assert len(queries) == 1


def test_groups_that_are_not_roles_are_left_out_of_the_role_cache(resident):
    resident.groups.add(Group.objects.create(name="newsletter,window_clerk"))
    user, _token = authenticate(Token.objects.create(user=resident).key)
    assert user._role_names == {roles.RESIDENT}
    assert not roles.has_role(user, roles.WINDOW_CLERK)


def test_an_account_without_roles_has_an_empty_role_cache(db):
    user = make_resident("plain")
    user.groups.clear()
    authenticated, _token = authenticate(Token.objects.create(user=user).key)
    assert authenticated._role_names == set()
    assert not roles.has_role(authenticated, *roles.ALL_ROLES)


def test_an_unknown_token_is_refused(resident):
    Token.objects.create(user=resident)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token " + "0" * 40)
    response = client.get("/api/v1/pledges/")
    assert response.status_code == 401
    assert response.json()["detail"] == gettext("Invalid token.")  # DRF's message


def test_the_token_of_an_inactive_account_is_refused(resident):
    client = token_client(resident)
    assert client.get("/api/v1/pledges/").status_code == 200
    resident.is_active = False
    resident.save()
    response = client.get("/api/v1/pledges/")
    assert response.status_code == 401
    assert response.json()["detail"] == gettext("User inactive or deleted.")


def test_a_malformed_token_header_is_refused(resident):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token two parts")
    assert client.get("/api/v1/pledges/").status_code == 401


def test_signing_through_a_token_needs_no_query_for_roles_or_person(
    resident, django_assert_num_queries
):
    """Token with account, person and roles (1), matter with its current text (1); in the
    transaction: eligibility, the year's number, the pledge, the audit event (4). The
    test's own transaction turns BEGIN and COMMIT into a savepoint and its release (2).
    The year's counter exists already (the year's first pledge creates it)."""
    matter = MatterFactory()
    sign_pledge(resident, matter)
    client = token_client(resident)
    body = pledge_body(resident, matter)
    with django_assert_num_queries(8) as queries:
        response = client.post("/api/v1/pledges/", body, format="json")
    assert response.status_code == 201, response.json()
    statements = [query["sql"] for query in queries.captured_queries]
    assert not any(sql.startswith('SELECT "auth_group"') for sql in statements)
    assert not any(sql.startswith('SELECT "accounts_person"') for sql in statements)
    assert Pledge.objects.get(number=response.json()["number"]).person == resident.person
