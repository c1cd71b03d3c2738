"""The OpenAPI schema documents the refusals of each operation with the API's error body, and a
URL under /api/ that no route matches answers with that body too (tests/test_fuzz.py relies on
both)."""

import pytest
from drf_spectacular.generators import SchemaGenerator

ERROR = {"$ref": "#/components/schemas/Error"}


@pytest.fixture(scope="module")
def schema():
    return SchemaGenerator().get_schema(request=None, public=True)


def responses(schema, method, path) -> dict:
    return schema["paths"][path][method]["responses"]


def test_the_error_body_has_a_stable_code(schema):
    error = schema["components"]["schemas"]["Error"]
    assert error["required"] == ["code"]
    assert set(error["properties"]) == {"code", "detail"}


def test_a_signed_in_write_documents_every_refusal(schema):
    documented = responses(schema, "post", "/api/v1/pledges/{number}/withdraw/")
    assert set(documented) == {"200", "400", "401", "403", "404", "409", "415", "429", "503"}
    for code in ("400", "401", "403", "404", "409", "415", "429", "503"):
        assert documented[code]["content"] == {"application/json": {"schema": ERROR}}, code


def test_a_public_read_documents_only_what_can_happen(schema):
    # Anyone may read (no 403); a wrong token is still refused (401); an unknown code is 404.
    assert set(responses(schema, "get", "/api/v1/matters/{code}/")) == {
        "200",
        "400",
        "401",
        "404",
        "429",
        "503",
    }
    # No input, no 400; no path parameter or page, no 404; a read, no 409.
    assert set(responses(schema, "get", "/api/v1/credit/ledger/verify/")) == {
        "200",
        "401",
        "403",
        "429",
        "503",
    }


def test_the_token_endpoint_takes_no_credentials_so_never_answers_401(schema):
    assert "401" not in responses(schema, "post", "/api/v1/auth/token/")


def test_a_refusal_documented_by_hand_gets_the_error_body(schema):
    documented = responses(schema, "get", "/api/v1/pledges/{number}/pdf/")
    assert documented["404"]["description"] == "No such pledge visible to you."
    assert documented["404"]["content"] == {"application/json": {"schema": ERROR}}


@pytest.mark.django_db
def test_an_api_url_no_route_matches_answers_with_the_error_body(client):
    response = client.get("/api/v1/pledges/not-a-pledge-number/")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json()["code"] == "not_found"


@pytest.mark.django_db
def test_a_page_no_route_matches_stays_a_page(client):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")
