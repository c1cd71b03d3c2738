"""Who may do what: every role against every pledge and catalog endpoint, API and pages.

Rows are actors (anonymous, the pledge's owner, another resident, each staff role); columns
are endpoints. A cell holds the expected status code, and for the endpoints that change a
pledge, the pledge's status afterwards: a refusal must leave the pledge as it was.
"""

import pytest
from django.test import Client

from accounts.roles import STAFF_ROLES
from pledges.models import CertificateChoice, Pledge
from tests.conftest import client_for
from tests.factories import (
    MatterFactory,
    login_staff,
    make_resident,
    make_staff,
    pledge_body,
    sign_pledge,
    totp_code,
)

pytestmark = pytest.mark.django_db

PASSWORD = "pass-Word-123"
ACTORS = ("anonymous", "resident", "other_resident", *STAFF_ROLES)
OTHER_STAFF = tuple(role for role in STAFF_ROLES if role != "window_clerk")


def _row(default, **cells):
    """Expected values for every actor: ``default`` unless named."""
    return {actor: cells.get(actor, default) for actor in ACTORS}


def _staff(value):
    return {role: value for role in STAFF_ROLES}


def _other_staff(value):
    return {role: value for role in OTHER_STAFF}


# ---- the expected matrix: API -------------------------------------------------------------

API = {
    "matters_list": _row(200),
    "matter_detail": _row(200),
    "pledges_list": _row(200, anonymous=401),
    "pledge_create": _row(403, anonymous=401, resident=201, window_clerk=201, **_other_staff(403)),
    "pledge_detail": _row(200, anonymous=401, other_resident=404),
    "pledge_withdraw": _row(
        200, anonymous=401, other_resident=404, **_other_staff(403), window_clerk=200
    ),
    "pledge_decision": _row(403, anonymous=401, window_clerk=200),
    "token": _row(200, anonymous=400),
}
# How many pledges each actor sees in the list (the owner's one pledge exists).
VISIBLE = _row(1, anonymous=None, other_resident=0)
# The pledge's status after a state-changing call.
API_STATE = {
    "pledge_withdraw": _row("signed", resident="withdrawn", window_clerk="withdrawn"),
    "pledge_decision": _row("signed", window_clerk="decided"),
}

# ---- the expected matrix: pages -----------------------------------------------------------

LOGIN = "login"  # a redirect to the sign-in page
PAGES = {
    "home": _row(200),
    "matter_page": _row(200),
    "my_pledges": _row(404, anonymous=LOGIN, resident=200, other_resident=200),
    "pledge_page": _row(200, anonymous=LOGIN, other_resident=404),
    "pledge_page_withdraw": _row(302, anonymous=LOGIN, other_resident=404),
    "choose_certificate": _row(404, anonymous=LOGIN, resident=302, other_resident=302),
    "window": _row(404, anonymous=LOGIN, window_clerk=200),
    "window_decide": _row(404, anonymous=LOGIN, window_clerk=302),
}
PAGE_STATE = {
    "pledge_page_withdraw": _row("signed", resident="withdrawn", window_clerk="withdrawn"),
    "window_decide": _row("signed", window_clerk="decided"),
}


@pytest.fixture
def world(db):
    """The owner's signed pledge, and one account per actor."""
    owner = make_resident("owner", name="张三")
    users = {
        "anonymous": None,
        "resident": owner,
        "other_resident": make_resident("stranger", name="李四"),
    }
    for role in STAFF_ROLES:
        users[role] = make_staff(role, f"{role}-user")
    matter = MatterFactory()
    pledge = sign_pledge(owner, matter)
    return {"users": users, "matter": matter, "pledge": pledge, "owner": owner}


def _call_api(endpoint, actor, world):
    user = world["users"][actor]
    client = client_for(user)
    number = world["pledge"].number
    code = world["matter"].code
    if endpoint == "matters_list":
        return client.get("/api/v1/matters/")
    if endpoint == "matter_detail":
        return client.get(f"/api/v1/matters/{code}/")
    if endpoint == "pledges_list":
        return client.get("/api/v1/pledges/")
    if endpoint == "pledge_create":
        body = pledge_body(world["owner"], world["matter"])
        return client.post("/api/v1/pledges/", body, format="json")
    if endpoint == "pledge_detail":
        return client.get(f"/api/v1/pledges/{number}/")
    if endpoint == "pledge_withdraw":
        return client.post(f"/api/v1/pledges/{number}/withdraw/", {}, format="json")
    if endpoint == "pledge_decision":
        return client.post(f"/api/v1/pledges/{number}/decision/", {}, format="json")
    if endpoint == "token":
        credentials = {"username": user.username if user else "nobody", "password": PASSWORD}
        if actor in STAFF_ROLES:
            credentials["otp"] = totp_code(user)  # staff add their second factor
        return client_for(None).post("/api/v1/auth/token/", credentials, format="json")
    raise AssertionError(endpoint)


@pytest.mark.parametrize("actor", ACTORS)
@pytest.mark.parametrize("endpoint", list(API))
def test_api_matrix(world, endpoint, actor):
    response = _call_api(endpoint, actor, world)
    assert response.status_code == API[endpoint][actor], response.content
    if endpoint in API_STATE:
        world["pledge"].refresh_from_db()
        assert world["pledge"].status == API_STATE[endpoint][actor]
    if endpoint == "pledges_list" and response.status_code == 200:
        assert response.json()["count"] == VISIBLE[actor]
    if endpoint == "pledge_create":
        expected = 2 if response.status_code == 201 else 1
        assert Pledge.objects.count() == expected


def _call_page(endpoint, actor, world):
    user = world["users"][actor]
    client = Client()
    if actor in STAFF_ROLES:
        login_staff(client, user)  # signed in with the second factor passed
    elif user is not None:
        client.force_login(user)
    number = world["pledge"].number
    code = world["matter"].code
    if endpoint == "home":
        return client.get("/")
    if endpoint == "matter_page":
        return client.get(f"/matters/{code}/")
    if endpoint == "my_pledges":
        return client.get("/pledges/")
    if endpoint == "pledge_page":
        return client.get(f"/pledges/{number}/")
    if endpoint == "pledge_page_withdraw":
        return client.post(f"/pledges/{number}/", {"reason": "x"})
    if endpoint == "choose_certificate":
        return client.post(f"/matters/{code}/certificate/")
    if endpoint == "window":
        return client.get("/window/", {"q": number})
    if endpoint == "window_decide":
        return client.post(f"/window/{number}/decision/", {"note": "准予许可"})
    raise AssertionError(endpoint)


@pytest.mark.parametrize("actor", ACTORS)
@pytest.mark.parametrize("endpoint", list(PAGES))
def test_page_matrix(world, endpoint, actor):
    response = _call_page(endpoint, actor, world)
    expected = PAGES[endpoint][actor]
    if expected == LOGIN:
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/")
    else:
        assert response.status_code == expected
    if endpoint in PAGE_STATE:
        world["pledge"].refresh_from_db()
        assert world["pledge"].status == PAGE_STATE[endpoint][actor]
    if endpoint == "choose_certificate":
        assert CertificateChoice.objects.exists() is (expected == 302)


def test_a_resident_token_works_on_the_api_and_a_forged_one_does_not(world):
    token = _call_api("token", "resident", world).json()["token"]
    client = client_for(None)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert client.get("/api/v1/pledges/").json()["count"] == 1
    client.credentials(HTTP_AUTHORIZATION="Token " + "0" * 40)
    assert client.get("/api/v1/pledges/").status_code == 401


def test_a_resident_without_a_person_sees_no_pledges(world):
    bare = make_resident("bare")
    bare.person = None
    bare.save()
    assert client_for(bare).get("/api/v1/pledges/").json()["count"] == 0
    number = world["pledge"].number
    assert client_for(bare).get(f"/api/v1/pledges/{number}/").status_code == 404
