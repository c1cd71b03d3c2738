"""Who may use which oversight endpoint: role × endpoint, API and pages."""

import datetime as dt

import pytest
from django.contrib.auth.models import AnonymousUser
from django.test import Client

from accounts.roles import STAFF_ROLES
from oversight import demo, services
from oversight.models import CatalogList
from tests.conftest import client_for
from tests.factories import MatterFactory, login_staff, make_staff

from .conftest import make_xlsx, row, upload

pytestmark = pytest.mark.django_db

ROLES = ("anonymous", "resident", *STAFF_ROLES)


@pytest.fixture
def users(staff, resident, officer, submitter):
    by_role = {"anonymous": None, "resident": resident, **staff}
    by_role["oversight_officer"] = officer
    by_role["list_submitter"] = submitter
    return by_role


@pytest.fixture
def complaint(db):
    return services.complaint_file(
        data={
            "agency": "某单位",
            "certificate": "居住证明",
            "description": "要求开证明",
            "occurred_on": dt.date(2026, 11, 1),
        },
        actor=AnonymousUser(),
    )


@pytest.fixture
def catalog_list(submitter, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        return services.catalog_list_submit(actor=submitter, upload=upload(make_xlsx([row()])))


def expect(role, allowed, *, denied_anonymous=401, denied=403, ok=200):
    if role in allowed:
        return ok
    return denied_anonymous if role == "anonymous" else denied


LISTS = ("list_submitter", "oversight_officer")
OFFICER = ("oversight_officer",)
STAFF = STAFF_ROLES
EVERYONE = ROLES


@pytest.mark.parametrize("role", ROLES)
def test_api_permission_matrix(role, users, complaint, catalog_list, departments):
    guide = demo.guide_create_default(MatterFactory(code="SF-001", department=departments["SF"]))
    client = client_for(users[role])
    number = complaint.tracking_number
    cases = [
        ("get", "/api/v1/guides/", None, expect(role, EVERYONE)),
        ("get", f"/api/v1/guides/{guide.matter.code}/", None, expect(role, EVERYONE)),
        ("get", "/api/v1/catalog-lists/", None, expect(role, LISTS)),
        ("get", f"/api/v1/catalog-lists/{catalog_list.pk}/", None, expect(role, LISTS)),
        ("get", "/api/v1/catalog-lists/template/", None, expect(role, LISTS)),
        ("get", "/api/v1/catalog-lists/export/?download=xlsx", None, expect(role, LISTS)),
        ("get", f"/api/v1/catalog-lists/{catalog_list.pk}/diff/", None, expect(role, LISTS)),
        (
            "post",
            f"/api/v1/catalog-lists/{catalog_list.pk}/reject/",
            {"note": "重做"},
            expect(role, OFFICER),
        ),
        ("get", "/api/v1/complaints/", None, expect(role, OFFICER)),
        ("get", "/api/v1/complaints/notices/", None, expect(role, EVERYONE)),
        (
            "get",
            f"/api/v1/complaints/{number}/",
            None,
            200 if role in OFFICER else 404,
        ),
        (
            "post",
            f"/api/v1/complaints/{number}/triage/",
            {"decision": "accept"},
            expect(role, OFFICER),
        ),
        ("get", "/api/v1/reports/quarterly/", None, expect(role, STAFF)),
        (
            "post",
            "/api/v1/reports/quarterly/export/",
            {"format": "xlsx"},
            expect(role, OFFICER, ok=202),
        ),
    ]
    for method, url, body, status in cases:
        response = (
            getattr(client, method)(url, body, format="json")
            if body
            else getattr(client, method)(url)
        )
        assert response.status_code == status, (role, method, url, response.status_code)


@pytest.mark.parametrize("role", ROLES)
def test_anyone_may_file_a_complaint_but_only_staff_by_hotline(role, users):
    client = client_for(users[role])
    body = {
        "agency": "某单位",
        "certificate": "居住证明",
        "description": "要求开证明",
        "occurred_on": "2026-11-01",
    }
    assert client.post("/api/v1/complaints/", body, format="json").status_code == 201
    hotline = client.post("/api/v1/complaints/", {**body, "channel": "hotline"}, format="json")
    assert hotline.status_code == (201 if role in STAFF_ROLES else 403)


@pytest.mark.parametrize("role", ROLES)
def test_page_permission_matrix(role, users, complaint, catalog_list):
    client = Client()
    user = users[role]
    if user is not None:
        if role == "resident":
            client.force_login(user)
        else:
            login_staff(client, user)
    number = complaint.tracking_number
    pages = [
        ("/guides/", ROLES),
        ("/complaints/new/", ROLES),
        ("/notices/", ROLES),
        ("/bureau/", STAFF),
        ("/bureau/complaints/", OFFICER),
        (f"/bureau/complaints/{number}/", OFFICER),
        ("/bureau/complaints/hotline/", STAFF),
        ("/lists/", LISTS),
        (f"/lists/{catalog_list.pk}/", LISTS),
        ("/lists/template.xlsx", LISTS),
    ]
    for url, allowed in pages:
        response = client.get(url)
        if role in allowed:
            assert response.status_code == 200, (role, url, response.status_code)
        elif role == "anonymous":
            assert response.status_code == 302 and "/accounts/login/" in response["Location"]
        else:
            assert response.status_code == 403, (role, url, response.status_code)


def test_a_submitter_sees_only_its_own_units_lists(catalog_list, departments):
    other = make_staff("list_submitter", "other-town", unit=departments["MZ"])
    client = client_for(other)
    assert client.get(f"/api/v1/catalog-lists/{catalog_list.pk}/").status_code == 404
    assert client.get("/api/v1/catalog-lists/").json()["count"] == 0
    page = Client()
    login_staff(page, other)
    assert page.get(f"/lists/{catalog_list.pk}/").status_code == 404
    assert page.get(f"/lists/{catalog_list.pk}/errors.csv").status_code == 404


def test_a_submitter_without_a_town_or_department_cannot_hand_in(bureau):
    from core.errors import NotAllowed

    loose = make_staff("list_submitter", "no-area", unit=bureau)
    with pytest.raises(NotAllowed):
        services.catalog_list_submit(actor=loose, upload=upload(make_xlsx([row()])))
    assert CatalogList.objects.count() == 0
