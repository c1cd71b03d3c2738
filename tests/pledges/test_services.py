"""Pledge and catalog services: what each state change allows, records and refuses."""

import datetime as dt

import pytest
from django.core.files.base import ContentFile

from accounts.models import Person
from core.errors import Conflict, DomainError, NotAllowed
from core.middleware import _request_context
from core.models import AuditEvent
from credit.selectors import Eligibility
from pledges import services
from pledges.content import content_hash
from pledges.models import (
    CertificateChoice,
    Channel,
    Pledge,
    PledgeStatus,
    PledgeTemplate,
)
from tests.factories import (
    NOTICE,
    SIGNATURE_PNG,
    STATEMENTS,
    MatterFactory,
    sign_pledge,
    valid_id_number,
)

pytestmark = pytest.mark.django_db


def _window_sign(clerk, matter, **overrides):
    number = overrides.pop("id_number", None) or valid_id_number()
    kwargs = {
        "matter": matter,
        "applicant": {"name": "王五", "id_number": number, "phone": "13912345678"},
        "actor": clerk,
        "statements_accepted": True,
        "typed_name": "王五",
        "signature_image": SIGNATURE_PNG,
        "channel": Channel.WINDOW,
    }
    kwargs.update(overrides)
    return services.pledge_sign(**kwargs)


def _online_sign(user, matter=None, **overrides):
    """Sign online as resident ``user``; ``overrides`` replace any argument of the service."""
    person = user.person
    kwargs = {
        "matter": matter or MatterFactory(),
        "applicant": {"name": person.name, "id_number": person.id_number, "phone": person.phone},
        "actor": user,
        "statements_accepted": True,
        "typed_name": person.name,
        "signature_image": SIGNATURE_PNG,
    }
    kwargs.update(overrides)
    return services.pledge_sign(**kwargs)


# ---- the transition table ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "target", "allowed"),
    [
        (PledgeStatus.SIGNED, PledgeStatus.DECIDED, True),
        (PledgeStatus.SIGNED, PledgeStatus.WITHDRAWN, True),
        (PledgeStatus.SIGNED, PledgeStatus.SIGNED, False),
        (PledgeStatus.DECIDED, PledgeStatus.WITHDRAWN, False),
        (PledgeStatus.DECIDED, PledgeStatus.DECIDED, False),
        (PledgeStatus.DECIDED, PledgeStatus.SIGNED, False),
        (PledgeStatus.WITHDRAWN, PledgeStatus.DECIDED, False),
        (PledgeStatus.WITHDRAWN, PledgeStatus.SIGNED, False),
        (PledgeStatus.WITHDRAWN, PledgeStatus.WITHDRAWN, False),
    ],
)
def test_transition_table(start, target, allowed):
    assert Pledge(status=start).can_move_to(target) is allowed


def test_a_withdrawn_pledge_is_final():
    assert not Pledge.TRANSITIONS.get(PledgeStatus.WITHDRAWN)


# ---- signing ------------------------------------------------------------------------------


def test_signing_freezes_text_version_hash_channel_time_ip_and_user_agent(resident):
    matter = MatterFactory()
    token = _request_context.set({"ip": "203.0.113.7", "user_agent": "Phone/1.0"})
    try:
        pledge = sign_pledge(resident, matter)
    finally:
        _request_context.reset(token)
    pledge.refresh_from_db()
    template = matter.current_template()
    assert pledge.status == PledgeStatus.SIGNED
    assert pledge.template == template
    assert pledge.content["template_version"] == template.version
    assert pledge.content["notice"] == NOTICE
    assert pledge.content["statements"] == STATEMENTS
    assert pledge.content["title"] == f"{matter.name} 证明事项告知承诺书"
    assert pledge.content_sha256 == content_hash(pledge.content)
    assert pledge.channel == Channel.ONLINE
    assert pledge.signed_at is not None
    assert pledge.ip == "203.0.113.7"
    assert pledge.user_agent == "Phone/1.0"
    assert pledge.account == resident
    assert pledge.clerk is None
    assert pledge.signature.name and pledge.signature.read().startswith(b"\x89PNG")


def test_frozen_content_holds_no_clear_id_number(resident):
    pledge = sign_pledge(resident)
    number = resident.person.id_number
    assert number not in str(pledge.content)
    assert pledge.content["applicant"]["id_masked"] == resident.person.id_masked


def test_signing_is_audited(resident):
    pledge = sign_pledge(resident)
    event = AuditEvent.objects.get(action="pledge.signed")
    assert event.actor == resident
    assert event.object_id == str(pledge.pk)
    assert event.person_hash == resident.person.id_hash
    assert event.data["number"] == pledge.number


def test_signing_dispatches_no_pdf_rendering(resident, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        sign_pledge(resident)
    assert callbacks == []


def test_statements_must_be_accepted(resident):
    with pytest.raises(DomainError) as error:
        _online_sign(resident, statements_accepted=False)
    assert error.value.field == "statements_accepted"


def test_typed_name_must_be_the_registered_name_blanks_ignored(resident):
    person = resident.person
    pledge = services.pledge_sign(
        matter=MatterFactory(),
        applicant={"name": person.name, "id_number": person.id_number},
        actor=resident,
        statements_accepted=True,
        typed_name=" 张 三 ",
        signature_image=SIGNATURE_PNG,
    )
    assert pledge.applicant_name == "张三"
    with pytest.raises(DomainError) as error:
        services.pledge_sign(
            matter=MatterFactory(),
            applicant={"name": person.name, "id_number": person.id_number},
            actor=resident,
            statements_accepted=True,
            typed_name="张四",
            signature_image=SIGNATURE_PNG,
        )
    assert error.value.field == "typed_name"


def test_online_signing_needs_a_drawn_signature(resident):
    with pytest.raises(DomainError) as error:
        _online_sign(resident, signature_image=None)
    assert error.value.field == "signature"


@pytest.mark.parametrize(
    "image",
    [
        "data:image/gif;base64,R0lGODlhAQABAAAAACw=",
        "data:image/png;base64,iVBORw0KGgo=",
        "data:image/png;base64,@@@@",
        "https://example.org/sig.png",
    ],
)
def test_signature_must_be_a_real_png_or_jpeg(resident, image):
    with pytest.raises(DomainError) as error:
        _online_sign(resident, signature_image=image)
    assert error.value.field == "signature"


def test_a_gif_disguised_as_png_is_refused(resident):
    import base64

    gif = base64.b64encode(
        b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00"
        b"\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
    ).decode()
    with pytest.raises(DomainError) as error:
        _online_sign(resident, signature_image=f"data:image/png;base64,{gif}")
    assert error.value.field == "signature"


def test_resident_pledges_only_for_themselves(resident, other_resident):
    other = other_resident.person
    with pytest.raises(NotAllowed) as error:
        services.pledge_sign(
            matter=MatterFactory(),
            applicant={"name": other.name, "id_number": other.id_number},
            actor=resident,
            statements_accepted=True,
            typed_name=other.name,
            signature_image=SIGNATURE_PNG,
        )
    assert error.value.code == "not_self"
    assert not Pledge.objects.exists()


def test_excluded_matter_is_refused_with_the_reason(resident):
    with pytest.raises(DomainError) as error:
        sign_pledge(resident, MatterFactory(excluded=True))
    assert error.value.code == "not_pledgeable"
    assert "涉及人身健康" in error.value.message


@pytest.mark.parametrize(
    "matter_kwargs",
    [
        {"must_not_issue": True},
        {"disposition": "must_issue"},
        {"disposition": "may_issue"},
        {"valid_to": dt.date(2021, 1, 1)},
        {"valid_from": dt.date(2999, 1, 1)},
    ],
)
def test_matters_not_open_to_pledges_are_refused(resident, matter_kwargs):
    with pytest.raises(DomainError) as error:
        sign_pledge(resident, MatterFactory(**matter_kwargs))
    assert error.value.field == "matter"


def test_matter_without_published_text_is_refused(resident):
    matter = MatterFactory(with_template=False)
    PledgeTemplate.objects.create(matter=matter, version=1, notice=NOTICE, statements=STATEMENTS)
    with pytest.raises(DomainError) as error:
        sign_pledge(resident, matter)
    assert error.value.code == "no_template"


def test_ineligible_person_is_refused_with_why_until_and_how(resident, monkeypatch):
    refusal = Eligibility(
        eligible=False,
        reason="严重失信记录",
        until=dt.date(2027, 5, 1),
        how_to_restore="申请信用修复",
    )
    monkeypatch.setattr(services, "eligibility_for", lambda person: refusal)
    with pytest.raises(services.NotEligible) as error:
        sign_pledge(resident)
    assert error.value.status == 403
    assert error.value.extra == {
        "until": "2027-05-01",
        "reason": "严重失信记录",
        "how_to_restore": "申请信用修复",
    }
    assert not Pledge.objects.exists()


# ---- at the window ----------------------------------------------------------------------


def test_window_clerk_signs_for_a_new_person(staff):
    clerk = staff["window_clerk"]
    number = valid_id_number()
    pledge = _window_sign(clerk, MatterFactory(), id_number=number)
    assert pledge.channel == Channel.WINDOW
    assert pledge.clerk == clerk
    assert pledge.account is None
    person = Person.objects.get(pk=pledge.person_id)
    assert person.id_number == number
    assert person.name == "王五"


def test_window_signing_needs_a_paper_scan_or_a_drawn_signature(staff):
    clerk = staff["window_clerk"]
    with pytest.raises(DomainError) as error:
        _window_sign(clerk, MatterFactory(), signature_image=None)
    assert error.value.field == "paper_scan"
    pledge = _window_sign(
        clerk,
        MatterFactory(),
        signature_image=None,
        paper_scan=ContentFile(b"%PDF-1.4 scan", name="scan"),
    )
    assert pledge.paper_scan.read().startswith(b"%PDF")


def test_window_pledge_for_a_registered_resident_links_the_account(staff, resident):
    person = resident.person
    pledge = _window_sign(
        staff["window_clerk"],
        MatterFactory(),
        id_number=person.id_number,
        applicant={"name": person.name, "id_number": person.id_number},
        typed_name=person.name,
    )
    assert pledge.person == person
    assert pledge.account == resident


def test_only_clerks_sign_at_the_window_and_only_residents_online(resident, staff):
    with pytest.raises(NotAllowed):
        sign_pledge(resident, channel=Channel.WINDOW)
    with pytest.raises(NotAllowed):
        _window_sign(staff["window_clerk"], MatterFactory(), channel=Channel.ONLINE)
    with pytest.raises(NotAllowed):
        _window_sign(staff["verification_officer"], MatterFactory())


# ---- withdrawal -----------------------------------------------------------------------------


def test_owner_withdraws_before_the_decision(resident):
    pledge = sign_pledge(resident)
    pledge = services.pledge_withdraw(pledge=pledge, actor=resident, reason="改为提交证明")
    pledge.refresh_from_db()
    assert pledge.status == PledgeStatus.WITHDRAWN
    assert pledge.withdrawn_at is not None
    assert pledge.withdraw_reason == "改为提交证明"
    assert AuditEvent.objects.filter(action="pledge.withdrawn", object_id=str(pledge.pk)).exists()


def test_withdrawal_after_the_decision_conflicts(resident, staff):
    pledge = sign_pledge(resident)
    services.pledge_decide(pledge=pledge, actor=staff["window_clerk"])
    with pytest.raises(Conflict):
        services.pledge_withdraw(pledge=pledge, actor=resident)
    pledge.refresh_from_db()
    assert pledge.status == PledgeStatus.DECIDED


def test_withdrawing_twice_conflicts(resident):
    pledge = sign_pledge(resident)
    services.pledge_withdraw(pledge=pledge, actor=resident)
    with pytest.raises(Conflict):
        services.pledge_withdraw(pledge=pledge, actor=resident)


def test_only_the_applicant_or_a_clerk_withdraws(resident, other_resident, staff):
    pledge = sign_pledge(resident)
    for actor in (other_resident, staff["verification_officer"], staff["catalog_admin"]):
        with pytest.raises(NotAllowed):
            services.pledge_withdraw(pledge=pledge, actor=actor)
    pledge.refresh_from_db()
    assert pledge.status == PledgeStatus.SIGNED
    services.pledge_withdraw(pledge=pledge, actor=staff["window_clerk"], reason="窗口撤回")
    pledge.refresh_from_db()
    assert pledge.status == PledgeStatus.WITHDRAWN


# ---- decision ---------------------------------------------------------------------------


def test_window_clerk_records_the_decision(resident, staff):
    clerk = staff["window_clerk"]
    pledge = services.pledge_decide(pledge=sign_pledge(resident), actor=clerk, note="准予许可")
    pledge.refresh_from_db()
    assert pledge.status == PledgeStatus.DECIDED
    assert pledge.decided_by == clerk
    assert pledge.decided_at is not None
    assert pledge.decision_note == "准予许可"
    event = AuditEvent.objects.get(action="pledge.decided")
    assert event.actor == clerk


@pytest.mark.parametrize(
    "role",
    [
        "verification_officer",
        "verification_supervisor",
        "credit_officer",
        "catalog_admin",
        "oversight_officer",
        "list_submitter",
    ],
)
def test_only_a_window_clerk_decides(resident, staff, role):
    pledge = sign_pledge(resident)
    with pytest.raises(NotAllowed):
        services.pledge_decide(pledge=pledge, actor=staff[role])
    with pytest.raises(NotAllowed):
        services.pledge_decide(pledge=pledge, actor=resident)
    pledge.refresh_from_db()
    assert pledge.status == PledgeStatus.SIGNED


def test_a_decision_is_final(resident, staff):
    pledge = sign_pledge(resident)
    services.pledge_decide(pledge=pledge, actor=staff["window_clerk"])
    with pytest.raises(Conflict):
        services.pledge_decide(pledge=pledge, actor=staff["window_clerk"])


def test_a_withdrawn_pledge_cannot_be_decided(resident, staff):
    pledge = sign_pledge(resident)
    services.pledge_withdraw(pledge=pledge, actor=resident)
    with pytest.raises(Conflict):
        services.pledge_decide(pledge=pledge, actor=staff["window_clerk"])


# ---- the certificate instead ----------------------------------------------------------------


def test_choosing_the_certificate_is_recorded(resident):
    matter = MatterFactory()
    choice = services.certificate_choose(matter=matter, actor=resident)
    choice = CertificateChoice.objects.get(pk=choice.pk)
    assert choice.matter == matter
    assert choice.person == resident.person
    assert choice.account == resident
    assert choice.channel == Channel.ONLINE
    assert choice.chosen_at is not None
    assert AuditEvent.objects.filter(action="pledge.certificate_chosen").exists()
    assert not Pledge.objects.exists()


# ---- templates: publishing freezes ----------------------------------------------------------


def test_a_published_template_cannot_be_edited(db):
    template = MatterFactory().current_template()
    template.notice = [*template.notice, {"key": "extra", "title": "新增", "body": "改动"}]
    with pytest.raises(PermissionError):
        template.save()
    template.refresh_from_db()
    template.statements = template.statements[:2]
    with pytest.raises(PermissionError):
        template.save()


def test_a_draft_can_be_edited_until_published(db):
    matter = MatterFactory()
    draft = services.template_new_version(matter=matter, notice=NOTICE, statements=STATEMENTS)
    draft.notice = NOTICE[:3]
    draft.save()
    published = services.template_publish(template=draft)
    assert published.status == PledgeTemplate.Status.PUBLISHED
    assert published.published_at is not None
    published.notice = NOTICE
    with pytest.raises(PermissionError):
        published.save()


def test_a_new_version_leaves_signed_pledges_as_they_were(resident):
    matter = MatterFactory()
    old = sign_pledge(resident, matter)
    old_content, old_hash = old.content, old.content_sha256

    new_notice = [{**section, "body": section["body"] + "（修订）"} for section in NOTICE]
    draft = services.template_new_version(matter=matter, notice=new_notice, statements=STATEMENTS)
    assert draft.version == 2
    assert draft.status == PledgeTemplate.Status.DRAFT
    assert matter.current_template().version == 1  # a draft is not yet shown
    services.template_publish(template=draft)
    assert matter.current_template().version == 2

    old.refresh_from_db()
    assert old.template.version == 1
    assert old.content == old_content
    assert old.content_sha256 == old_hash == content_hash(old.content)
    new = sign_pledge(resident, matter)
    assert new.template.version == 2
    assert new.content["notice"] == new_notice
    assert new.content_sha256 != old_hash


def test_publishing_twice_changes_nothing(db):
    template = MatterFactory().current_template()
    published_at = template.published_at
    again = services.template_publish(template=template)
    assert again.published_at == published_at


def test_a_text_published_after_the_applicant_read_it_is_not_signed(resident):
    matter = MatterFactory()
    read = matter.current_template().version
    draft = services.template_new_version(matter=matter, notice=NOTICE[:2], statements=STATEMENTS)
    services.template_publish(template=draft)
    with pytest.raises(Conflict) as error:
        _online_sign(resident, matter, template_version=read)
    assert error.value.code == "template_changed"
    assert not Pledge.objects.exists()
    pledge = _online_sign(resident, matter, template_version=draft.version)
    assert pledge.template == draft
    assert pledge.number.endswith("-000001")


def test_the_api_answers_409_when_the_text_changed_since_it_was_read(resident):
    from tests.conftest import client_for
    from tests.factories import pledge_body

    matter = MatterFactory()
    draft = services.template_new_version(matter=matter, notice=NOTICE[:2], statements=STATEMENTS)
    services.template_publish(template=draft)
    client = client_for(resident)
    stale = client.post(
        "/api/v1/pledges/", pledge_body(resident, matter, template_version=1), format="json"
    )
    assert stale.status_code == 409
    assert stale.json()["code"] == "template_changed"
    assert "template_version" in stale.json()
    fresh = client.post(
        "/api/v1/pledges/", pledge_body(resident, matter, template_version=2), format="json"
    )
    assert fresh.status_code == 201
    assert fresh.json()["template_version"] == 2
