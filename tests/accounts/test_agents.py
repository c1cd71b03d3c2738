"""Agents (代办): a person authorises an agent for one matter; the window clerk records it
with the signed form's scan; the agent pledges for the person only with a valid one."""

import datetime as dt

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from accounts.models import AgentAuthorisation
from accounts.selectors import authorisation_for
from accounts.services import agent_authorisation_record, agent_authorisation_revoke
from core.errors import Conflict, DomainError, NotAllowed
from core.models import AuditEvent
from tests.factories import (
    SIGNATURE_PNG,
    MatterFactory,
    login_staff,
    make_resident,
    make_staff,
    pledge_body,
)

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.accounts.urls_with_agents")]

# The smallest files the content sniffer recognises.
PDF_BYTES = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG_BYTES = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)


def scan(data=PDF_BYTES, name="form.pdf", content_type="application/pdf"):
    return SimpleUploadedFile(name, data, content_type=content_type)


@pytest.fixture
def clerk():
    return make_staff("window_clerk", "clerk")


@pytest.fixture
def matter():
    return MatterFactory()


@pytest.fixture
def principal(db):
    return make_resident("principal", name="王五")


@pytest.fixture
def agent(db):
    return make_resident("agent", name="赵六")


def record(clerk, principal, agent, matter, **overrides):
    today = timezone.localdate()
    arguments = {
        "actor": clerk,
        "principal_id_number": principal.person.id_number,
        "principal_name": principal.person.name,
        "agent_id_number": agent.person.id_number,
        "agent_name": agent.person.name,
        "matter_code": matter.code,
        "valid_from": today,
        "valid_to": today + dt.timedelta(days=30),
        "scan": scan(),
    }
    arguments.update(overrides)
    return agent_authorisation_record(**arguments)


def agent_pledge_body(agent, principal, matter):
    body = pledge_body(principal, matter)
    body["signature"] = {"typed_name": agent.person.name, "image": SIGNATURE_PNG}
    return body


# ---- the record ---------------------------------------------------------------------------


def test_clerk_records_an_authorisation_with_its_scan(clerk, principal, agent, matter):
    authorisation = record(clerk, principal, agent, matter)
    assert authorisation.principal == principal.person
    assert authorisation.agent == agent.person
    assert authorisation.scan_type == "application/pdf"
    assert authorisation.scan.storage.exists(authorisation.scan.name)
    assert authorisation.scan.read() == PDF_BYTES
    event = AuditEvent.objects.get(action="agent.authorised")
    assert event.person_hash == principal.person.id_hash
    assert event.data["agent_hash"] == agent.person.id_hash


def test_scan_is_judged_by_its_content_not_its_name(clerk, principal, agent, matter):
    with pytest.raises(DomainError) as error:
        record(clerk, principal, agent, matter, scan=scan(b"MZ\x90\x00 not a pdf", "form.pdf"))
    assert error.value.field == "scan"
    png = record(clerk, principal, agent, matter, scan=scan(PNG_BYTES, "form.pdf"))
    assert png.scan_type == "image/png"
    assert png.scan.name.endswith(".png")


def test_scan_size_is_limited(clerk, principal, agent, matter, settings):
    settings.CHENGNUO_AGENT_SCAN_MAX_BYTES = 1024 * 1024
    big = PDF_BYTES + b"0" * (1024 * 1024)
    with pytest.raises(DomainError, match="MB") as error:
        record(clerk, principal, agent, matter, scan=scan(big))
    assert error.value.field == "scan"


def test_only_a_window_clerk_records(principal, agent, matter):
    officer = make_staff("verification_officer", "officer")
    with pytest.raises(NotAllowed):
        record(officer, principal, agent, matter)
    with pytest.raises(NotAllowed):
        record(principal, principal, agent, matter)


def test_names_must_match_recorded_persons_and_nobody_is_their_own_agent(
    clerk, principal, agent, matter
):
    with pytest.raises(DomainError) as error:
        record(clerk, principal, agent, matter, principal_name="别人")
    assert error.value.field == "principal_id_number"
    with pytest.raises(DomainError) as error:
        record(
            clerk,
            principal,
            agent,
            matter,
            agent_id_number=principal.person.id_number,
            agent_name=principal.person.name,
        )
    assert error.value.field == "agent_id_number"
    today = timezone.localdate()
    with pytest.raises(DomainError) as error:
        record(clerk, principal, agent, matter, valid_to=today - dt.timedelta(days=1))
    assert error.value.field == "valid_to"


def test_selector_finds_only_valid_unrevoked_authorisations_for_that_matter(
    clerk, principal, agent, matter
):
    authorisation = record(clerk, principal, agent, matter)
    today = timezone.localdate()
    assert authorisation_for(agent.person, principal.person, matter.code, today) == authorisation
    assert authorisation_for(agent.person, principal.person, "OTHER", today) is None
    assert authorisation_for(principal.person, agent.person, matter.code, today) is None
    later = today + dt.timedelta(days=31)
    assert authorisation_for(agent.person, principal.person, matter.code, later) is None
    agent_authorisation_revoke(authorisation=authorisation, actor=clerk, reason="本人撤回")
    assert authorisation_for(agent.person, principal.person, matter.code, today) is None
    with pytest.raises(Conflict):
        agent_authorisation_revoke(authorisation=authorisation, actor=clerk, reason="again")


# ---- pledging on the principal's behalf ---------------------------------------------------


def test_without_authorisation_no_pledging_for_another(api_client, principal, agent, matter):
    api_client.force_authenticate(agent)
    response = api_client.post(
        "/api/v1/pledges/", agent_pledge_body(agent, principal, matter), format="json"
    )
    assert response.status_code == 403
    assert response.json()["code"] == "not_self"


def test_agent_pledges_for_the_principal_with_a_valid_authorisation(
    api_client, clerk, principal, agent, matter
):
    from pledges.models import Pledge

    authorisation = record(clerk, principal, agent, matter)
    api_client.force_authenticate(agent)
    response = api_client.post(
        "/api/v1/pledges/", agent_pledge_body(agent, principal, matter), format="json"
    )
    assert response.status_code == 201, response.json()
    pledge = Pledge.objects.get(number=response.json()["number"])
    assert pledge.person == principal.person
    assert pledge.applicant_name == "王五"
    assert pledge.content["agent"] == {
        "name": "赵六",
        "id_masked": agent.person.id_masked,
        "authorisation": authorisation.pk,
        "valid_to": authorisation.valid_to.isoformat(),
    }
    from pledges.content import content_hash

    assert pledge.content_sha256 == content_hash(pledge.content)
    event = AuditEvent.objects.get(action="pledge.signed")
    assert event.person_hash == principal.person.id_hash
    assert event.data["agent"]["agent_hash"] == agent.person.id_hash


def test_agent_signs_with_their_own_name(api_client, clerk, principal, agent, matter):
    record(clerk, principal, agent, matter)
    api_client.force_authenticate(agent)
    body = agent_pledge_body(agent, principal, matter)
    body["signature"]["typed_name"] = principal.person.name
    response = api_client.post("/api/v1/pledges/", body, format="json")
    assert response.status_code == 400
    assert "typed_name" in response.json()


def test_authorisation_is_for_one_matter_only(api_client, clerk, principal, agent, matter):
    record(clerk, principal, agent, matter)
    api_client.force_authenticate(agent)
    other = MatterFactory()
    response = api_client.post(
        "/api/v1/pledges/", agent_pledge_body(agent, principal, other), format="json"
    )
    assert response.status_code == 403


def test_revoked_or_expired_authorisation_no_longer_allows_pledging(
    api_client, clerk, principal, agent, matter
):
    authorisation = record(clerk, principal, agent, matter)
    agent_authorisation_revoke(authorisation=authorisation, actor=clerk, reason="撤回")
    api_client.force_authenticate(agent)
    body = agent_pledge_body(agent, principal, matter)
    assert api_client.post("/api/v1/pledges/", body, format="json").status_code == 403
    today = timezone.localdate()
    record(
        clerk,
        principal,
        agent,
        matter,
        valid_from=today - dt.timedelta(days=10),
        valid_to=today - dt.timedelta(days=1),
    )
    assert api_client.post("/api/v1/pledges/", body, format="json").status_code == 403


# ---- the window page ----------------------------------------------------------------------


def test_window_page_records_lists_and_revokes(client, clerk, principal, agent, matter):
    login_staff(client, clerk)
    today = timezone.localdate()
    response = client.post(
        "/window/agents/",
        {
            "principal_id_number": principal.person.id_number,
            "principal_name": "王五",
            "agent_id_number": agent.person.id_number,
            "agent_name": "赵六",
            "matter_code": matter.code,
            "valid_from": today.isoformat(),
            "valid_to": (today + dt.timedelta(days=7)).isoformat(),
            "scan": scan(),
        },
    )
    assert response.status_code == 302
    authorisation = AgentAuthorisation.objects.get()
    page = client.get("/window/agents/").content.decode()
    assert principal.person.id_masked in page
    assert principal.person.id_number not in page
    found = client.get("/window/agents/", {"q": agent.person.id_number})
    assert found.context["authorisations"] == [authorisation]
    client.post(f"/window/agents/{authorisation.pk}/revoke/", {"reason": "本人撤回"})
    authorisation.refresh_from_db()
    assert authorisation.revoked_at is not None


def test_window_page_shows_errors_for_a_bad_scan(client, clerk, principal, agent, matter):
    login_staff(client, clerk)
    today = timezone.localdate().isoformat()
    response = client.post(
        "/window/agents/",
        {
            "principal_id_number": principal.person.id_number,
            "principal_name": "王五",
            "agent_id_number": agent.person.id_number,
            "agent_name": "赵六",
            "matter_code": matter.code,
            "valid_from": today,
            "valid_to": today,
            "scan": SimpleUploadedFile("x.pdf", b"<html>nope</html>"),
        },
    )
    assert response.status_code == 200
    assert "scan" in response.context["form"].errors


def test_scan_is_served_as_an_attachment_to_clerks_only(client, clerk, principal, agent, matter):
    authorisation = record(clerk, principal, agent, matter)
    url = f"/window/agents/{authorisation.pk}/scan/"
    client.force_login(principal)
    assert client.get(url).status_code == 404
    login_staff(client, clerk)
    response = client.get(url)
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment;")
    assert response["Content-Type"] == "application/pdf"
    assert b"".join(response.streaming_content) == PDF_BYTES
    assert AuditEvent.objects.filter(action="agent.scan_viewed").exists()


def test_agent_pages_are_for_window_clerks(client, principal):
    client.force_login(principal)
    assert client.get("/window/agents/").status_code == 404
    client.logout()
    assert client.get("/window/agents/").status_code == 302
