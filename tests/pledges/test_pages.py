"""The resident's and the window's pages: catalog, notice, signing, my pledges, window."""

import pytest
from django.urls import reverse

from pledges.models import CertificateChoice, Pledge, PledgeStatus
from tests.factories import (
    NOTICE,
    SIGNATURE_PNG,
    STATEMENTS,
    MatterFactory,
    login_staff,
    sign_at_window,
    sign_pledge,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def resident_client(client, resident):
    client.force_login(resident)
    return client


@pytest.fixture
def clerk_client(client, staff):
    return login_staff(client, staff["window_clerk"])


def sign_form(person, **overrides):
    data = {f"statement_{s['key']}": "on" for s in STATEMENTS}
    data.update({"typed_name": person.name, "signature": SIGNATURE_PNG})
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


# ---- catalog ----------------------------------------------------------------------------


def test_catalog_lists_every_kind_and_searches(client):
    aid = MatterFactory(name="申请法律援助", certificate="经济困难证明")
    kinship = MatterFactory(must_not_issue=True, name="亲属关系证明", certificate="亲属关系证明")
    page = client.get("/")
    assert page.status_code == 200
    assert {m.code for m in page.context["page"]} == {aid.code, kinship.code}

    found = client.get("/", {"q": "法律援助"})
    assert [m.code for m in found.context["page"]] == [aid.code]
    assert aid.name in found.content.decode()
    by_certificate = client.get("/", {"q": "亲属关系"})
    assert [m.code for m in by_certificate.context["page"]] == [kinship.code]
    by_kind = client.get("/", {"disposition": "must_not_issue"})
    assert [m.code for m in by_kind.context["page"]] == [kinship.code]
    nothing = client.get("/", {"q": "不存在的事项"})
    assert list(nothing.context["page"]) == []


def test_catalog_ignores_an_unknown_kind_filter(client):
    MatterFactory()
    response = client.get("/", {"disposition": "nonsense"})
    assert response.status_code == 200


def test_matter_page_shows_every_notice_section_and_statement(client):
    matter = MatterFactory()
    html = client.get(reverse("pledges:matter_detail", args=[matter.code])).content.decode()
    for section in NOTICE:
        assert section["title"] in html
        assert section["body"] in html
    for statement in STATEMENTS:
        assert statement["text"] in html
    assert matter.legal_basis in html
    assert matter.certificate in html


def test_matter_page_of_an_item_committees_must_not_issue_says_where_instead(client):
    matter = MatterFactory(must_not_issue=True, where_instead="到公安派出所办理")
    response = client.get(reverse("pledges:matter_detail", args=[matter.code]))
    assert response.status_code == 200
    assert "到公安派出所办理" in response.content.decode()
    assert response.context["form"] is None


def test_unknown_matter_is_404(client):
    assert client.get("/matters/NOPE/").status_code == 404


def test_anonymous_visitor_reads_the_notice_but_gets_no_sign_form(client):
    matter = MatterFactory()
    response = client.get(reverse("pledges:matter_detail", args=[matter.code]))
    assert response.context["form"] is None
    assert reverse("accounts:login") in response.content.decode()


# ---- signing ----------------------------------------------------------------------------


def test_resident_signs_through_the_page_and_lands_on_the_pledge(resident_client, resident):
    matter = MatterFactory()
    url = reverse("pledges:matter_detail", args=[matter.code])
    form_page = resident_client.get(url)
    html = form_page.content.decode()
    assert 'id="sign-form"' in html and 'id="signature-canvas"' in html
    for statement in STATEMENTS:
        assert f'name="statement_{statement["key"]}"' in html

    response = resident_client.post(url, sign_form(resident.person))
    pledge = Pledge.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("pledges:pledge_detail", args=[pledge.number])
    assert pledge.person == resident.person
    assert pledge.channel == "online"
    assert pledge.signature.name
    detail = resident_client.get(response["Location"])
    assert pledge.number in detail.content.decode()
    assert pledge.content_sha256 in detail.content.decode()


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"statement_truthful": None}, "statement_truthful"),
        ({"statement_informed": None, "statement_free_will": None}, "statement_informed"),
        ({"typed_name": "王五"}, "typed_name"),
        ({"typed_name": ""}, "typed_name"),
        ({"signature": ""}, "signature"),
        ({"signature": "data:image/png;base64,AAAA"}, "signature"),
    ],
)
def test_sign_form_errors_keep_the_resident_on_the_page(
    resident_client, resident, overrides, field
):
    matter = MatterFactory()
    url = reverse("pledges:matter_detail", args=[matter.code])
    response = resident_client.post(url, sign_form(resident.person, **overrides))
    assert response.status_code == 200
    assert field in response.context["form"].errors
    assert 'class="errorlist' in response.content.decode()
    assert not Pledge.objects.exists()


def test_a_text_published_while_the_page_was_open_is_shown_again_not_signed(
    resident_client, resident
):
    from pledges.services import template_new_version, template_publish

    matter = MatterFactory()
    url = reverse("pledges:matter_detail", args=[matter.code])
    assert 'name="template_version" value="1"' in resident_client.get(url).content.decode()
    revised = [{**section, "body": "修订后的告知"} for section in NOTICE]
    template_publish(
        template=template_new_version(matter=matter, notice=revised, statements=STATEMENTS)
    )
    response = resident_client.post(url, sign_form(resident.person, template_version="1"))
    assert response.status_code == 200
    assert not Pledge.objects.exists()
    html = response.content.decode()
    assert "修订后的告知" in html
    assert 'name="template_version" value="2"' in html
    assert [m.level_tag for m in response.context["messages"]] == ["error"]
    signed = resident_client.post(url, sign_form(resident.person, template_version="2"))
    assert signed.status_code == 302
    assert Pledge.objects.get().template.version == 2


def test_i_will_bring_the_certificate_is_recorded(resident_client, resident):
    matter = MatterFactory()
    response = resident_client.post(reverse("pledges:choose_certificate", args=[matter.code]))
    assert response.status_code == 302
    choice = CertificateChoice.objects.get()
    assert (choice.matter, choice.person, choice.account) == (matter, resident.person, resident)
    assert not Pledge.objects.exists()


def test_choosing_the_certificate_needs_a_post(resident_client):
    matter = MatterFactory()
    response = resident_client.get(reverse("pledges:choose_certificate", args=[matter.code]))
    assert response.status_code == 405
    assert not CertificateChoice.objects.exists()


# ---- my pledges and withdrawal --------------------------------------------------------


def test_my_pledges_lists_only_mine(resident_client, resident, other_resident):
    mine = sign_pledge(resident)
    theirs = sign_pledge(other_resident)
    html = resident_client.get(reverse("pledges:my_pledges")).content.decode()
    assert mine.number in html
    assert theirs.number not in html


def test_resident_withdraws_through_the_page(resident_client, resident):
    pledge = sign_pledge(resident)
    url = reverse("pledges:pledge_detail", args=[pledge.number])
    assert 'id="withdraw-button"' in resident_client.get(url).content.decode()
    response = resident_client.post(url, {"reason": "改为提交证明"})
    assert response.status_code == 302
    pledge.refresh_from_db()
    assert pledge.status == PledgeStatus.WITHDRAWN
    assert pledge.withdraw_reason == "改为提交证明"
    page = resident_client.get(url)
    assert 'id="withdraw-button"' not in page.content.decode()


def test_withdrawing_a_decided_pledge_through_the_page_is_refused(resident_client, resident, staff):
    from pledges.services import pledge_decide

    pledge = pledge_decide(pledge=sign_pledge(resident), actor=staff["window_clerk"])
    url = reverse("pledges:pledge_detail", args=[pledge.number])
    response = resident_client.post(url, {"reason": ""}, follow=True)
    assert response.status_code == 200
    assert [m.level_tag for m in response.context["messages"]] == ["error"]
    pledge.refresh_from_db()
    assert pledge.status == PledgeStatus.DECIDED


def test_someone_elses_pledge_page_is_404(resident_client, other_resident):
    theirs = sign_pledge(other_resident)
    url = reverse("pledges:pledge_detail", args=[theirs.number])
    assert resident_client.get(url).status_code == 404
    assert resident_client.post(url, {"reason": "x"}).status_code == 404
    theirs.refresh_from_db()
    assert theirs.status == PledgeStatus.SIGNED


# ---- the service window ---------------------------------------------------------------


def test_window_finds_a_pledge_by_number_and_by_id_number(clerk_client, resident, staff):
    from core.models import AuditEvent

    at_hall = sign_at_window(staff["window_clerk"], resident.person)
    online = sign_pledge(resident)
    window = reverse("pledges:window")
    by_number = clerk_client.get(window, {"q": at_hall.number.lower()})
    assert [p.number for p in by_number.context["results"]] == [at_hall.number]
    # An online pledge is no hall's: its number alone finds nothing at the window...
    assert list(clerk_client.get(window, {"q": online.number}).context["results"]) == []
    # ...until the resident shows the ID card: the recorded lookup opens their pledges.
    by_id = clerk_client.get(window, {"q": resident.person.id_number})
    assert {p.number for p in by_id.context["results"]} == {at_hall.number, online.number}
    assert resident.person.id_masked in by_id.content.decode()
    lookup = AuditEvent.objects.get(action="pledge.window_lookup")
    assert lookup.person_hash == resident.person.id_hash
    assert lookup.actor == staff["window_clerk"]
    by_number = clerk_client.get(window, {"q": online.number})
    assert [p.number for p in by_number.context["results"]] == [online.number]


def test_window_search_with_a_bad_id_number_shows_the_error(clerk_client):
    response = clerk_client.get(reverse("pledges:window"), {"q": "11010519491231002Y"})
    assert response.status_code == 200
    assert "q" in response.context["form"].errors
    assert response.context["results"] is None


def test_window_records_the_decision(clerk_client, resident, staff):
    pledge = sign_pledge(resident)
    clerk_client.get(reverse("pledges:window"), {"q": resident.person.id_number})
    response = clerk_client.post(
        reverse("pledges:window_decide", args=[pledge.number]), {"note": "准予许可"}
    )
    assert response.status_code == 302
    assert pledge.number in response["Location"]
    pledge.refresh_from_db()
    assert pledge.status == PledgeStatus.DECIDED
    assert pledge.decided_by == staff["window_clerk"]
    assert pledge.decision_note == "准予许可"


def test_window_decision_on_a_withdrawn_pledge_shows_an_error(clerk_client, resident):
    from pledges.services import pledge_withdraw

    pledge = pledge_withdraw(pledge=sign_pledge(resident), actor=resident)
    clerk_client.get(reverse("pledges:window"), {"q": resident.person.id_number})
    response = clerk_client.post(
        reverse("pledges:window_decide", args=[pledge.number]), {"note": ""}, follow=True
    )
    assert [m.level_tag for m in response.context["messages"]] == ["error"]
    pledge.refresh_from_db()
    assert pledge.status == PledgeStatus.WITHDRAWN
