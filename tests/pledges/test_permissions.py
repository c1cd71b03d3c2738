"""Who may do what: every role against every pledge and catalog endpoint, API and pages.

Rows are actors (anonymous, the pledge's owner, another resident, each staff role, and a
clerk of another hall); columns are endpoints. A cell holds the expected status code, and for
the endpoints that change a pledge, the pledge's status afterwards: a refusal must leave the
pledge as it was. The owner signed online and then came to the ``window_clerk``'s window,
who looked them up by ID number: that opens the pledge to that clerk and to no other
(docs/access.md); no other staff role reads pledges.
"""

import pytest
from django.test import Client
from django.utils import timezone

from accounts.roles import STAFF_ROLES, is_staff_role
from pledges.models import CertificateChoice, Pledge
from pledges.services import window_person_lookup
from tests.conftest import client_for
from tests.factories import (
    MatterFactory,
    UnitFactory,
    login_staff,
    make_resident,
    make_staff,
    pledge_body,
    sign_at_window,
    sign_pledge,
    totp_code,
)

pytestmark = pytest.mark.django_db

PASSWORD = "pass-Word-123"
ACTORS = ("anonymous", "resident", "other_resident", *STAFF_ROLES, "other_clerk")


def _row(default, **cells):
    """Expected values for every actor: ``default`` unless named."""
    return {actor: cells.get(actor, default) for actor in ACTORS}


# ---- the expected matrix: API -------------------------------------------------------------

API = {
    "matters_list": _row(200),
    "matter_detail": _row(200),
    "pledges_list": _row(200, anonymous=401),
    "pledge_create": _row(403, anonymous=401, resident=201, window_clerk=201, other_clerk=201),
    "pledge_detail": _row(404, anonymous=401, resident=200, window_clerk=200),
    "pledge_withdraw": _row(404, anonymous=401, resident=200, window_clerk=200),
    "pledge_decision": _row(403, anonymous=401, window_clerk=200, other_clerk=404),
    "token": _row(200, anonymous=400),
}
# How many pledges each actor sees in the list (the owner's one pledge exists).
VISIBLE = _row(0, anonymous=None, resident=1, window_clerk=1)
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
    "pledge_page": _row(404, anonymous=LOGIN, resident=200, window_clerk=200),
    "pledge_page_withdraw": _row(404, anonymous=LOGIN, resident=302, window_clerk=302),
    "choose_certificate": _row(404, anonymous=LOGIN, resident=302, other_resident=302),
    "window": _row(404, anonymous=LOGIN, window_clerk=200, other_clerk=200),
    "window_decide": _row(404, anonymous=LOGIN, window_clerk=302),
}
PAGE_STATE = {
    "pledge_page_withdraw": _row("signed", resident="withdrawn", window_clerk="withdrawn"),
    "window_decide": _row("signed", window_clerk="decided"),
}


@pytest.fixture
def world(db):
    """The owner's signed pledge, and one account per actor; the owner came to the window of
    ``window_clerk`` (looked up by ID number), not to ``other_clerk``'s hall."""
    owner = make_resident("owner", name="张三")
    users = {
        "anonymous": None,
        "resident": owner,
        "other_resident": make_resident("stranger", name="李四"),
    }
    for role in STAFF_ROLES:
        users[role] = make_staff(role, f"{role}-user")
    users["other_clerk"] = make_staff(
        "window_clerk", "other-clerk", unit=UnitFactory(code="HALL2", hall=True)
    )
    matter = MatterFactory()
    pledge = sign_pledge(owner, matter)
    window_person_lookup(actor=users["window_clerk"], id_number=owner.person.id_number)
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
        if is_staff_role(user):
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
    if is_staff_role(user):
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


# ---- the window clerk's scope ------------------------------------------------------------


def test_a_lookup_opens_a_residents_online_pledges_for_the_working_day_only(world, settings):
    import datetime as dt

    from freezegun import freeze_time

    settings.CHENGNUO_WINDOW_SERVICE_HOURS = 8
    clerk = world["users"]["window_clerk"]
    url = f"/api/v1/pledges/{world['pledge'].number}/"
    assert client_for(clerk).get(url).status_code == 200
    with freeze_time(timezone.now() + dt.timedelta(hours=8, minutes=1)):
        assert client_for(clerk).get(url).status_code == 404
        assert client_for(clerk).get("/api/v1/pledges/").json()["count"] == 0


def test_a_pledge_recorded_at_a_hall_is_every_clerk_of_that_hall_and_no_other(world):
    clerk = world["users"]["window_clerk"]
    colleague = make_staff("window_clerk", "colleague")  # the same hall
    pledge = sign_at_window(clerk, world["users"]["other_resident"].person)
    url = f"/api/v1/pledges/{pledge.number}/"
    assert client_for(colleague).get(url).status_code == 200
    assert client_for(world["users"]["other_clerk"]).get(url).status_code == 404
    assert client_for(world["users"]["verification_officer"]).get(url).status_code == 404


def test_a_pledge_decided_at_a_hall_stays_in_its_scope_after_the_lookup_expires(world, settings):
    from pledges.services import pledge_decide

    clerk = world["users"]["window_clerk"]
    pledge_decide(pledge=world["pledge"], actor=clerk)
    settings.CHENGNUO_WINDOW_SERVICE_HOURS = 0  # every lookup has expired
    url = f"/api/v1/pledges/{world['pledge'].number}/"
    assert client_for(clerk).get(url).status_code == 200
    assert client_for(world["users"]["other_clerk"]).get(url).status_code == 404


def test_the_api_lookup_is_for_window_clerks_is_audited_and_refuses_a_bad_number(world):
    from core.models import AuditEvent

    other_clerk = world["users"]["other_clerk"]
    owner = world["users"]["resident"]
    url = "/api/v1/pledges/lookup/"
    body = {"id_number": owner.person.id_number.lower()}
    assert client_for(world["users"]["resident"]).post(url, body).status_code == 403
    assert client_for(world["users"]["credit_officer"]).post(url, body).status_code == 403
    assert client_for(None).post(url, body).status_code == 401
    bad = client_for(other_clerk).post(url, {"id_number": "11010519491231002Y"}, format="json")
    assert bad.status_code == 400 and "id_number" in bad.json()
    assert client_for(other_clerk).post(url, {}, format="json").status_code == 400

    found = client_for(other_clerk).post(url, body, format="json")

    assert [row["number"] for row in found.json()["results"]] == [world["pledge"].number]
    event = AuditEvent.objects.filter(action="pledge.window_lookup", actor=other_clerk).get()
    assert event.person_hash == owner.person.id_hash
    assert event.actor_unit == "HALL2"
