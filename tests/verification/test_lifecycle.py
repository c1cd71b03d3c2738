"""Pledge state changes after signing (pledges/lifecycle.py) and the revocation at the window,
through the service, the API and the page."""

import pytest

from accounts import roles
from core.errors import Conflict, DomainError, NotAllowed
from pledges import lifecycle
from pledges.models import Pledge, PledgeStatus
from tests.conftest import client_for
from tests.factories import (
    MatterFactory,
    login_staff,
    make_resident,
    make_staff,
    sign_at_window,
    sign_pledge,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def pledge(resident):
    return sign_pledge(resident, MatterFactory())


@pytest.fixture
def pending(pledge):
    lifecycle.pledge_record_check(
        pledge=pledge, outcome=lifecycle.Outcome.FOUND_FALSE, source="test"
    )
    pledge.refresh_from_db()
    assert pledge.status == PledgeStatus.REVOCATION_PENDING
    return pledge


@pytest.mark.parametrize(
    ("start", "target", "allowed"),
    [
        (PledgeStatus.SIGNED, PledgeStatus.UNDER_CHECK, True),
        (PledgeStatus.DECIDED, PledgeStatus.UNDER_CHECK, True),
        (PledgeStatus.WITHDRAWN, PledgeStatus.UNDER_CHECK, False),
        (PledgeStatus.UNDER_CHECK, PledgeStatus.VERIFIED, True),
        (PledgeStatus.UNDER_CHECK, PledgeStatus.FOUND_FALSE, True),
        (PledgeStatus.UNDER_CHECK, PledgeStatus.BREACH, True),
        (PledgeStatus.UNDER_CHECK, PledgeStatus.WITHDRAWN, False),
        (PledgeStatus.UNDER_CHECK, PledgeStatus.DECIDED, True),
        (PledgeStatus.FOUND_FALSE, PledgeStatus.REVOCATION_PENDING, True),
        (PledgeStatus.BREACH, PledgeStatus.REVOCATION_PENDING, True),
        (PledgeStatus.FOUND_FALSE, PledgeStatus.VERIFIED, False),
        (PledgeStatus.REVOCATION_PENDING, PledgeStatus.REVOKED, True),
        (PledgeStatus.REVOCATION_PENDING, PledgeStatus.VERIFIED, False),
        (PledgeStatus.REVOKED, PledgeStatus.SIGNED, False),
        (PledgeStatus.VERIFIED, PledgeStatus.UNDER_CHECK, True),
    ],
)
def test_transition_table_for_verification(start, target, allowed):
    assert Pledge(status=start).can_move_to(target) is allowed


def test_a_pledge_under_check_can_no_longer_be_withdrawn(pledge, resident):
    from pledges.services import pledge_withdraw

    lifecycle.pledge_mark_under_check(pledge=pledge, source="test")
    with pytest.raises(Conflict):
        pledge_withdraw(pledge=pledge, actor=resident)


def test_a_withdrawn_pledge_cannot_be_put_under_check(pledge, resident):
    from pledges.services import pledge_withdraw

    pledge_withdraw(pledge=pledge, actor=resident)
    with pytest.raises(Conflict):
        lifecycle.pledge_mark_under_check(pledge=pledge, source="test")


def test_the_batch_mark_touches_only_checkable_pledges(pledge, resident):
    from pledges.services import pledge_withdraw

    other = sign_pledge(resident, MatterFactory())
    pledge_withdraw(pledge=other, actor=resident)
    changed = lifecycle.pledges_mark_under_check(
        pledges=Pledge.objects.values("pk"), source="verification.draw:1"
    )
    assert changed == 1
    assert set(Pledge.objects.values_list("status", flat=True)) == {"under_check", "withdrawn"}


def test_a_window_clerk_records_the_revocation(pending):
    clerk = make_staff(roles.WINDOW_CLERK, "clerk")
    pledge = lifecycle.pledge_revoke(pledge=pending, actor=clerk, note="撤销低保审批决定")
    assert pledge.status == PledgeStatus.REVOKED
    assert pledge.revoked_by == clerk and pledge.revoked_at
    assert pledge.revocation_note == "撤销低保审批决定"
    with pytest.raises(Conflict):
        lifecycle.pledge_revoke(pledge=pledge, actor=clerk, note="again")


def test_only_a_window_clerk_revokes_and_says_what(pending):
    with pytest.raises(NotAllowed):
        lifecycle.pledge_revoke(
            pledge=pending, actor=make_staff(roles.VERIFICATION_OFFICER, "o"), note="x"
        )
    with pytest.raises(DomainError):
        lifecycle.pledge_revoke(pledge=pending, actor=make_staff(roles.WINDOW_CLERK, "c"), note="")


# ---- the API --------------------------------------------------------------------------------


@pytest.mark.parametrize("role", [*roles.STAFF_ROLES, "resident", "anonymous"])
def test_revocation_api_is_for_window_clerks(role, pending):
    user = {"resident": pending.account, "anonymous": None}.get(role) or (
        None if role == "anonymous" else make_staff(role, f"{role}-x")
    )
    response = client_for(user).post(
        f"/api/v1/pledges/{pending.number}/revocation/", {"note": "撤销决定"}, format="json"
    )
    expected = 200 if role == roles.WINDOW_CLERK else (401 if role == "anonymous" else 403)
    assert response.status_code == expected, response.content
    if expected == 200:
        body = response.json()
        assert body["status"] == "revoked" and body["revocation_note"] == "撤销决定"
        assert body["revoked_by"] == "window_clerk-x"


def test_revocation_api_refuses_bad_requests(pledge, pending):
    user = make_staff(roles.WINDOW_CLERK, "clerk")
    clerk = client_for(user)
    url = f"/api/v1/pledges/{pending.number}/revocation/"
    assert clerk.post(url, {}, format="json").status_code == 400
    assert clerk.post(url, {"note": "撤销"}, format="json").status_code == 200
    again = clerk.post(url, {"note": "撤销"}, format="json")
    assert again.status_code == 409 and again.json()["code"] == "invalid_state"
    signed = sign_at_window(user, make_resident("carol", name="王五").person, MatterFactory())
    not_pending = clerk.post(f"/api/v1/pledges/{signed.number}/revocation/", {"note": "x"})
    assert not_pending.status_code == 409
    # An online pledge no hall handled, not awaiting revocation: not the window's.
    online = sign_pledge(make_resident("dave", name="赵六"), MatterFactory())
    assert (
        clerk.post(f"/api/v1/pledges/{online.number}/revocation/", {"note": "x"}).status_code == 404
    )
    assert (
        clerk.post("/api/v1/pledges/CN-2000-000001/revocation/", {"note": "x"}).status_code == 404
    )


# ---- the page -------------------------------------------------------------------------------


def test_the_window_page_lists_pending_revocations_and_records_one(client, pending):
    login_staff(client, make_staff(roles.WINDOW_CLERK, "clerk"))
    page = client.get("/checks/revocations/")
    assert page.status_code == 200
    assert pending.number in page.content.decode()
    response = client.post(f"/checks/revocations/{pending.number}/", {"note": "撤销许可"})
    assert response.status_code == 302
    pending.refresh_from_db()
    assert pending.status == PledgeStatus.REVOKED
    assert (
        f"/checks/revocations/{pending.number}/"
        not in client.get("/checks/revocations/").content.decode()
    )


def test_the_revocation_page_is_not_for_others(client, pending):
    client.force_login(pending.account)
    assert client.get("/checks/revocations/").status_code == 404
    assert client.post(f"/checks/revocations/{pending.number}/", {"note": "x"}).status_code == 404
