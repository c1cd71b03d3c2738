"""Service guides (办事指南): public pages and API, the printable PDF, the admin, demo data."""

import pytest

from oversight import demo, services
from oversight.models import GuideMaterial, ServiceGuide
from pledges.models import Matter
from tests.conftest import client_for
from tests.factories import MatterFactory, login_staff, make_staff

from .conftest import pdf_text

pytestmark = pytest.mark.django_db


@pytest.fixture
def guides(departments):
    pledge = MatterFactory(code="SF-001", name="低保申请", department=departments["SF"])
    refused = MatterFactory(
        code="MZ-N05",
        name="无犯罪记录证明",
        department=departments["MZ"],
        must_not_issue=True,
        where_instead="公安机关（户籍地或经常居住地派出所）",
    )
    excluded = MatterFactory(
        code="SJ-D01", name="食品从业人员上岗", excluded=True, department=departments["SF"]
    )
    result = {}
    for matter in (pledge, refused, excluded):
        result[matter.code] = demo.guide_create_default(matter)
    return result


def test_the_public_finds_guides_by_search(guides, client):
    response = client.get("/guides/", {"q": "低保"})
    assert response.status_code == 200
    page = response.content.decode()
    assert "低保申请" in page and "无犯罪记录证明" not in page
    assert 'name="viewport"' in page
    api = client_for(None).get("/api/v1/guides/", {"search": "无犯罪"})
    assert [g["code"] for g in api.json()["results"]] == ["MZ-N05"]
    by_kind = client_for(None).get("/api/v1/guides/", {"disposition": "must_not_issue"}).json()
    assert [g["code"] for g in by_kind["results"]] == ["MZ-N05"]


def test_a_pledgeable_matters_guide_links_to_signing(guides, client):
    page = client.get("/guides/SF-001/").content.decode()
    assert 'href="/matters/SF-001/"' in page
    detail = client_for(None).get("/api/v1/guides/SF-001/").json()
    assert detail["pledgeable"] is True
    assert detail["sign_url"].endswith("/matters/SF-001/")
    assert any(m["pledge_replaceable"] for m in detail["materials"])
    assert detail["conditions"] and detail["steps"] and detail["faq"]
    assert detail["fee"] == "" and detail["promised_days"] == 5


def test_a_must_not_issue_guide_says_where_to_go_instead(guides, client):
    page = client.get("/guides/MZ-N05/").content.decode()
    assert "公安机关（户籍地或经常居住地派出所）" in page
    assert "/matters/MZ-N05/" not in page
    detail = client_for(None).get("/api/v1/guides/MZ-N05/").json()
    assert detail["where_instead"] == "公安机关（户籍地或经常居住地派出所）"
    assert detail["sign_url"] is None


def test_an_excluded_matters_guide_offers_no_pledge(guides, client):
    page = client.get("/guides/SJ-D01/").content.decode()
    assert "/matters/SJ-D01/" not in page
    assert client_for(None).get("/api/v1/guides/SJ-D01/").json()["pledgeable"] is False


def test_a_draft_guide_is_not_public(guides, client):
    services.guide_unpublish(guide=guides["SF-001"])
    assert client.get("/guides/SF-001/").status_code == 404
    assert client.get("/guides/SF-001/pdf/").status_code == 404
    assert client_for(None).get("/api/v1/guides/SF-001/").status_code == 404
    listed = client_for(None).get("/api/v1/guides/").json()
    assert "SF-001" not in [g["code"] for g in listed["results"]]


def test_the_guide_prints_as_a_pdf_with_its_fields(
    guides, client, tmp_path, no_weasyprint_warnings
):
    response = client.get("/guides/MZ-N05/pdf/")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    text = pdf_text(response.content, tmp_path)
    assert "无犯罪记录证明" in text
    assert "派出所" in text
    assert "12345" in text
    signing = pdf_text(client.get("/guides/SF-001/pdf/").content, tmp_path)
    assert "/matters/SF-001/" in signing


def test_blank_forms_are_served_for_published_guides_only(guides, client):
    from django.core.files.base import ContentFile

    material = guides["SF-001"].materials.first()
    material.blank_form.save("form.pdf", ContentFile(b"%PDF-1.4 blank"), save=True)
    url = f"/guides/SF-001/materials/{material.pk}/blank/"
    response = client.get(url)
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == b"%PDF-1.4 blank"
    assert client.get(f"/guides/SF-001/materials/{material.pk}/sample/").status_code == 404
    assert client.get(f"/guides/MZ-N05/materials/{material.pk}/blank/").status_code == 404


def test_script_in_a_guide_shows_as_text(guides, client):
    guide = guides["SF-001"]
    guide.conditions = "<script>alert(1)</script>"
    guide.save()
    page = client.get("/guides/SF-001/").content.decode()
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_catalog_admins_edit_and_publish_guides_in_the_admin(guides, client):
    from django.contrib.auth.models import Group

    from accounts import roles

    demo.grant_catalog_admin_permissions()
    admin_user = make_staff(roles.CATALOG_ADMIN, "catalog-admin")
    assert (
        Group.objects.get(name=roles.CATALOG_ADMIN)
        .permissions.filter(codename="change_serviceguide")
        .exists()
    )
    login_staff(client, admin_user)
    guide = guides["SF-001"]
    assert client.get(f"/admin/oversight/serviceguide/{guide.pk}/change/").status_code == 200
    services.guide_unpublish(guide=guide)
    response = client.post(
        "/admin/oversight/serviceguide/",
        {"action": "publish", "_selected_action": [guide.pk]},
    )
    assert response.status_code == 302
    guide.refresh_from_db()
    assert guide.is_published
    assert guide.history.count() >= 2


def test_demo_guides_cover_every_matter_and_a_second_run_changes_nothing(db):
    from accounts.demo import load_units
    from pledges.demo import load as load_catalog

    load_units()
    load_catalog()
    first = demo.load()
    assert first["published service guides"] == Matter.objects.count() >= 38
    assert not Matter.objects.filter(guide__isnull=True).exists()
    assert ServiceGuide.objects.filter(status="published").count() == Matter.objects.count()
    edited = ServiceGuide.objects.get(matter__code="MZ-N01")
    edited.office = "已修改"
    edited.save()
    second = demo.load()
    assert set(second.values()) == {0}
    assert ServiceGuide.objects.get(matter__code="MZ-N01").office == "已修改"
    replaceable = GuideMaterial.objects.filter(
        guide__matter__disposition="pledge", pledge_replaceable=True
    )
    assert replaceable.exists()
