"""Printing as a service: one stored file per pledge, the PDF API, the window pages, batches."""

import datetime as dt
import io
import shutil
import threading
from pathlib import Path
from unittest import mock

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone

from accounts.roles import STAFF_ROLES, is_staff_role
from core.models import AuditEvent, BackgroundJob
from pledges import printing
from pledges.models import Pledge
from tests.concurrency import run_in_threads
from tests.conftest import client_for
from tests.factories import (
    MatterFactory,
    login_staff,
    make_resident,
    make_staff,
    sign_at_window,
    sign_pledge,
)
from tests.pledges.test_pdf import copies_text, pdf_text, squeeze

pytestmark = pytest.mark.django_db


def private_storage():
    return Pledge._meta.get_field("pdf").storage


@pytest.fixture(autouse=True)
def empty_print_folders():
    """Pledge numbers start again in every test: start with no stored forms either."""
    for folder in ("forms", "blank-forms", "batches"):
        shutil.rmtree(Path(private_storage().location) / folder, ignore_errors=True)


def stored_forms() -> list[str]:
    storage = private_storage()
    if not storage.exists("forms"):
        return []
    return sorted(storage.listdir("forms")[1])


def browser_client(user) -> Client:
    """A page client signed in as ``user`` (staff with the second factor passed)."""
    client = Client()
    if is_staff_role(user):
        return login_staff(client, user)
    client.force_login(user)
    return client


def pdf_bytes(response) -> bytes:
    return b"".join(response.streaming_content)


@pytest.fixture
def clerk(db):
    return make_staff("window_clerk", "clerk-1")


@pytest.fixture
def pledge(resident):
    return sign_pledge(resident, MatterFactory())


@pytest.fixture
def hall_pledge(clerk, resident):
    """A pledge recorded at ``clerk``'s window: in the scope of the clerks of that hall."""
    return sign_at_window(clerk, resident.person, MatterFactory())


# ---- one stored file per pledge ----------------------------------------------------------


def test_first_print_stores_one_file_with_its_sha256(pledge):
    import hashlib

    stored = printing.pledge_pdf_store(pledge=pledge)

    assert stored.pdf.name == f"forms/{pledge.number}.pdf"
    with stored.pdf.open("rb") as handle:
        data = handle.read()
    assert data.startswith(b"%PDF-")
    assert stored.pdf_sha256 == hashlib.sha256(data).hexdigest()
    assert Pledge.objects.get(pk=pledge.pk).pdf_sha256 == stored.pdf_sha256
    assert stored_forms() == [f"{pledge.number}.pdf"]


def test_second_print_reuses_the_stored_file_without_rendering(pledge):
    first = printing.pledge_pdf_store(pledge=pledge)

    with mock.patch.object(printing, "pledge_form_render") as render:
        again = printing.pledge_pdf_store(pledge=Pledge.objects.get(pk=pledge.pk))

    render.assert_not_called()
    assert again.pdf.name == first.pdf.name
    assert again.pdf_sha256 == first.pdf_sha256
    assert stored_forms() == [f"{pledge.number}.pdf"]


def test_render_that_loses_the_race_leaves_the_winners_file(pledge):
    """Two renders at once: the second, finding a file under the lock, discards its bytes."""
    real_render = printing.pledge_form_render
    winner = {}

    def render_while_another_request_stores(p):
        data = real_render(p)
        if not winner:
            # Another request finishes first, while this one is still rendering.
            with mock.patch.object(printing, "pledge_form_render", real_render):
                winner["pledge"] = printing.pledge_pdf_store(pledge=Pledge.objects.get(pk=p.pk))
        return data

    with mock.patch.object(printing, "pledge_form_render", render_while_another_request_stores):
        result = printing.pledge_pdf_store(pledge=pledge)

    assert result.pdf.name == winner["pledge"].pdf.name
    assert result.pdf_sha256 == winner["pledge"].pdf_sha256
    assert stored_forms() == [f"{pledge.number}.pdf"]


def test_a_missing_stored_file_is_rendered_again(pledge):
    stored = printing.pledge_pdf_store(pledge=pledge)
    private_storage().delete(stored.pdf.name)

    again = printing.pledge_pdf_store(pledge=Pledge.objects.get(pk=pledge.pk))

    assert private_storage().exists(again.pdf.name)
    assert stored_forms() == [f"{pledge.number}.pdf"]


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.usefixtures("shared_database")
def test_concurrent_renders_of_one_pledge_leave_one_file():
    """Real threads with their own connections (PostgreSQL's row lock, or SQLite's
    ``BEGIN IMMEDIATE`` on a file database): both render, one file is kept."""
    pledge = sign_pledge(make_resident(), MatterFactory())
    rendered = threading.Barrier(2, timeout=60)
    real_render = printing.pledge_form_render
    results = []

    def render_then_wait(p):
        data = real_render(p)
        rendered.wait()  # both have rendered before either writes
        return data

    with mock.patch.object(printing, "pledge_form_render", render_then_wait):
        errors = run_in_threads(
            2,
            lambda _: results.append(
                printing.pledge_pdf_store(pledge=Pledge.objects.get(pk=pledge.pk))
            ),
        )

    assert not errors, errors
    assert len(results) == 2
    assert len({r.pdf.name for r in results}) == 1
    assert len({r.pdf_sha256 for r in results}) == 1
    assert Pledge.objects.get(pk=pledge.pk).pdf.name == results[0].pdf.name
    assert stored_forms() == [f"{pledge.number}.pdf"]


def test_render_task_is_safe_to_run_twice(pledge):
    from pledges.tasks import render_pledge_pdf

    render_pledge_pdf.delay(pledge.pk)
    first = Pledge.objects.get(pk=pledge.pk)
    render_pledge_pdf.delay(pledge.pk)

    assert Pledge.objects.get(pk=pledge.pk).pdf_sha256 == first.pdf_sha256
    assert stored_forms() == [f"{pledge.number}.pdf"]


# ---- the PDF API ------------------------------------------------------------------------


def test_owner_downloads_the_pdf_rendered_on_first_request(resident, pledge, tmp_path):
    response = client_for(resident).get(f"/api/v1/pledges/{pledge.number}/pdf/")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert f'attachment; filename="{pledge.number}.pdf"' in response["Content-Disposition"]
    data = pdf_bytes(response)
    assert data.startswith(b"%PDF-")
    assert pledge.number in squeeze(pdf_text(data, tmp_path))
    assert Pledge.objects.get(pk=pledge.pk).pdf.name


def test_second_download_is_served_from_storage(resident, pledge):
    client = client_for(resident)
    first = pdf_bytes(client.get(f"/api/v1/pledges/{pledge.number}/pdf/"))

    with mock.patch.object(printing, "pledge_form_render") as render:
        second = pdf_bytes(client.get(f"/api/v1/pledges/{pledge.number}/pdf/"))

    render.assert_not_called()
    assert first == second


def test_pdf_url_of_the_pledge_api_serves_the_form(resident):
    client = client_for(resident)
    created = client.post(
        "/api/v1/pledges/",
        {
            "matter": MatterFactory().code,
            "applicant": {
                "name": resident.person.name,
                "id_number": resident.person.id_number,
            },
            "statements_accepted": True,
            "signature": {
                "typed_name": resident.person.name,
                "image": __import__("tests.factories").factories.SIGNATURE_PNG,
            },
        },
        format="json",
    ).json()

    response = client.get(created["pdf_url"])

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"


def test_pdf_accepts_an_explicit_pdf_accept_header(resident, pledge):
    response = client_for(resident).get(
        f"/api/v1/pledges/{pledge.number}/pdf/", HTTP_ACCEPT="application/pdf"
    )

    assert response.status_code == 200
    assert pdf_bytes(response).startswith(b"%PDF-")


def test_other_resident_gets_404_and_anonymous_401(pledge, other_resident):
    url = f"/api/v1/pledges/{pledge.number}/pdf/"

    assert client_for(other_resident).get(url).status_code == 404
    assert client_for(None).get(url).status_code == 401
    assert client_for(other_resident).get("/api/v1/pledges/CN-2000-000001/pdf/").status_code == 404
    assert not Pledge.objects.get(pk=pledge.pk).pdf.name


def test_staff_download_is_audited(clerk, hall_pledge):
    pledge = hall_pledge
    user = make_staff("window_clerk", "clerk-same-hall")  # another clerk of the same hall

    response = client_for(user).get(f"/api/v1/pledges/{pledge.number}/pdf/")

    assert response.status_code == 200
    event = AuditEvent.objects.get(action="pledge.printed", actor=user)
    assert event.object_id == str(pledge.pk)
    assert event.person_hash == pledge.person.id_hash
    assert event.data == {"number": pledge.number, "via": "api"}


@pytest.mark.parametrize("role", [*STAFF_ROLES, "other_hall_clerk"])
def test_staff_outside_the_pledges_scope_get_404_and_nothing_is_printed(hall_pledge, role):
    from tests.factories import UnitFactory

    if role == "other_hall_clerk":
        user = make_staff("window_clerk", "clerk-hall-2", unit=UnitFactory(code="H2", hall=True))
    else:
        user = make_staff(role, f"{role}-pdf", unit=UnitFactory(code="PA", name="市公安局"))

    response = client_for(user).get(f"/api/v1/pledges/{hall_pledge.number}/pdf/")

    assert response.status_code == 404
    assert not AuditEvent.objects.filter(action="pledge.printed").exists()
    assert not Pledge.objects.get(pk=hall_pledge.pk).pdf.name


def test_owner_download_is_not_a_staff_audit_event(resident, pledge):
    client_for(resident).get(f"/api/v1/pledges/{pledge.number}/pdf/")

    assert not AuditEvent.objects.filter(action="pledge.printed").exists()


def test_blank_form_api_serves_a_stored_form_without_number(tmp_path):
    matter = MatterFactory(code="JY-B-001")
    url = f"/api/v1/matters/{matter.code}/blank-form/"

    response = client_for(None).get(url)

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert "attachment" in response["Content-Disposition"]
    flat = squeeze(pdf_text(pdf_bytes(response), tmp_path))
    assert "JY-B-001" in flat and "编号：" in flat
    assert "CN-" not in flat
    with mock.patch.object(printing.pdf, "render_pdf") as render:
        again = client_for(None).get(url)
    render.assert_not_called()
    assert again.status_code == 200


def test_blank_form_changes_with_the_text_and_keeps_one_file_per_version():
    from pledges.services import template_new_version, template_publish

    matter = MatterFactory()
    first = printing.blank_form_get(matter=matter)
    assert printing.blank_form_get(matter=matter) == first
    newer = template_new_version(
        matter=matter, notice=[{"key": "a", "title": "新", "body": "新文本"}], statements=[]
    )
    template_publish(template=newer)

    second = printing.blank_form_get(matter=matter)

    assert second != first and "-v2-" in second
    names = private_storage().listdir("blank-forms")[1]
    assert sorted(names) == sorted([Path(first).name, Path(second).name])


@pytest.mark.parametrize(
    "matter_kwargs", [{"must_not_issue": True}, {"excluded": True}, {"with_template": False}]
)
def test_blank_form_of_a_matter_without_pledges_is_404(matter_kwargs):
    matter = MatterFactory(**matter_kwargs)

    response = client_for(None).get(f"/api/v1/matters/{matter.code}/blank-form/")

    assert response.status_code == 404
    assert client_for(None).get("/api/v1/matters/NOPE/blank-form/").status_code == 404


def test_pdf_endpoints_are_in_the_openapi_schema(api_client):
    schema = api_client.get("/api/schema/?format=json").json()

    assert "/api/v1/pledges/{number}/pdf/" in schema["paths"]
    assert "/api/v1/matters/{code}/blank-form/" in schema["paths"]


# ---- window pages -------------------------------------------------------------------------


def test_clerk_finds_a_pledge_by_id_number_and_prints_it(clerk, resident, pledge, tmp_path):
    client = browser_client(clerk)

    page = client.get("/window/", {"q": resident.person.id_number})
    assert page.status_code == 200
    assert f"/window/print/{pledge.number}/" in page.content.decode()

    response = client.get(f"/window/print/{pledge.number}/")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"].startswith("inline")
    assert len(copies_text(pdf_bytes(response), tmp_path)) == 2
    assert AuditEvent.objects.filter(action="pledge.printed", data__via="window").count() == 1


def test_window_pages_are_for_window_clerks_only(pledge, resident):
    officer = make_staff("verification_officer", "officer-1")
    urls = [
        f"/window/print/{pledge.number}/",
        "/window/paper/",
        "/window/blank/",
        f"/window/blank/{pledge.matter.code}/",
        "/window/batch/",
    ]
    for user in (resident, officer):
        client = browser_client(user)
        for url in urls:
            assert client.get(url).status_code == 404, (user, url)
    anonymous = Client()
    for url in urls:
        response = anonymous.get(url)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_clerk_prints_a_blank_form(clerk, tmp_path):
    matter = MatterFactory(name="居住证申领", code="JY-JZZ")
    client = browser_client(clerk)

    listing = client.get("/window/blank/", {"q": "居住证"})
    assert "/window/blank/JY-JZZ/" in listing.content.decode()
    response = client.get("/window/blank/JY-JZZ/")

    assert response.status_code == 200
    assert "JY-JZZ" in squeeze(pdf_text(pdf_bytes(response), tmp_path))
    assert AuditEvent.objects.filter(
        action="matter.blank_form_printed", object_id=str(matter.pk)
    ).exists()


def scan_png() -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (40, 60), "white").save(buffer, "PNG")
    return buffer.getvalue()


def paper_post(matter, **overrides):
    data = {
        "matter": matter.code,
        "name": "赵六",
        "id_number": "11010519491231002X",
        "phone": "13900000001",
        "address": "沁园街道示范路2号",
        "wet_signature": "on",
        "scan": SimpleUploadedFile("scan.png", scan_png(), content_type="image/png"),
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def test_clerk_records_a_pledge_signed_on_paper(clerk):
    matter = MatterFactory()

    response = browser_client(clerk).post("/window/paper/", paper_post(matter))

    assert response.status_code == 302
    pledge = Pledge.objects.get()
    assert response["Location"].endswith(f"?q={pledge.number}")
    assert pledge.channel == "window"
    assert pledge.clerk == clerk
    assert pledge.applicant_name == "赵六"
    assert pledge.paper_scan.name
    assert not pledge.signature.name
    with pledge.paper_scan.open("rb") as handle:
        assert handle.read() == scan_png()


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"wet_signature": None}, "wet_signature"),
        ({"scan": None}, "scan"),
        (
            {"scan": SimpleUploadedFile("scan.png", b"<html>not an image</html>", "image/png")},
            "scan",
        ),
        (
            {"scan": SimpleUploadedFile("scan.pdf", b"\x89PNG\r\n\x1a\nbroken", "application/pdf")},
            "scan",
        ),
        (
            {"scan": SimpleUploadedFile("scan.pdf", b"%PDF-1.4 truncated", "application/pdf")},
            "scan",
        ),
        ({"id_number": "110105194912310021"}, "id_number"),
        ({"phone": "12345"}, "phone"),
    ],
)
def test_paper_pledge_bad_input_is_refused_on_its_field(clerk, overrides, field):
    matter = MatterFactory()

    response = browser_client(clerk).post("/window/paper/", paper_post(matter, **overrides))

    assert response.status_code == 200
    assert field in response.context["form"].errors, response.context["form"].errors
    assert not Pledge.objects.exists()


def test_paper_scan_over_the_size_limit_is_refused(clerk, settings):
    settings.CHENGNUO_SCAN_MAX_BYTES = 100
    matter = MatterFactory()

    response = browser_client(clerk).post("/window/paper/", paper_post(matter))

    assert "scan" in response.context["form"].errors
    assert not Pledge.objects.exists()


def test_paper_pledge_for_an_excluded_matter_is_not_offered(clerk):
    matter = MatterFactory(excluded=True)

    response = browser_client(clerk).post("/window/paper/", paper_post(matter))

    assert "matter" in response.context["form"].errors
    assert not Pledge.objects.exists()


# ---- batches ------------------------------------------------------------------------------


def test_batch_of_a_day_prints_one_pdf_with_every_form(
    clerk, resident, other_resident, tmp_path, django_capture_on_commit_callbacks
):
    matter = MatterFactory()
    first = sign_at_window(clerk, resident.person, matter)
    second = sign_at_window(clerk, other_resident.person, matter)
    online = sign_pledge(make_resident(), matter)  # the same day, but no hall's
    client = browser_client(clerk)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/window/batch/", {"day": timezone.localdate().isoformat()})

    job = BackgroundJob.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/window/batch/{job.pk}/"
    status = client.get(f"/window/batch/{job.pk}/status/").json()
    assert status["status"] == "done"
    assert status["done"] == status["total"] == 2
    assert status["percent"] == 100
    page = client.get(f"/window/batch/{job.pk}/")
    assert b"<progress" in page.content
    download = client.get(status["download_url"])
    assert download["Content-Type"] == "application/pdf"
    text = squeeze(pdf_text(pdf_bytes(download), tmp_path))
    assert first.number in text and second.number in text
    assert online.number not in text
    assert text.count("申请人留存联") >= 2
    assert AuditEvent.objects.filter(action="pledge.printed", data__via="batch").count() == 2
    assert AuditEvent.objects.filter(action="pledge.batch_downloaded").count() == 1


def test_batch_of_chosen_numbers_reuses_stored_forms(
    clerk, resident, other_resident, django_capture_on_commit_callbacks
):
    a = printing.pledge_pdf_store(pledge=sign_at_window(clerk, resident.person))
    b = sign_at_window(clerk, other_resident.person)

    with django_capture_on_commit_callbacks(execute=True):
        job = printing.batch_print_start(actor=clerk, numbers=[b.number, a.number])

    job.refresh_from_db()
    assert job.status == "done"
    assert job.result["forms"] == 2
    assert Pledge.objects.get(pk=a.pk).pdf_sha256 == a.pdf_sha256
    assert Pledge.objects.get(pk=b.pk).pdf.name


def test_batch_task_run_twice_does_nothing_the_second_time(
    clerk, hall_pledge, django_capture_on_commit_callbacks
):
    from pledges.tasks import print_pledge_batch

    pledge = hall_pledge

    with django_capture_on_commit_callbacks(execute=True):
        job = printing.batch_print_start(actor=clerk, numbers=[pledge.number])
    job.refresh_from_db()
    finished = job.finished_at

    print_pledge_batch.delay(job.pk)

    job.refresh_from_db()
    assert job.status == "done" and job.finished_at == finished
    assert AuditEvent.objects.filter(action="pledge.printed").count() == 1


def test_batch_failure_is_recorded_not_raised(
    clerk, hall_pledge, django_capture_on_commit_callbacks
):
    pledge = hall_pledge
    with (
        mock.patch.object(printing, "pledge_form_render", side_effect=RuntimeError("boom")),
        django_capture_on_commit_callbacks(execute=True),
    ):
        job = printing.batch_print_start(actor=clerk, numbers=[pledge.number])

    job.refresh_from_db()
    assert job.status == "failed"
    assert "boom" in job.error


@pytest.mark.parametrize(
    ("data", "message_field"),
    [
        ({"numbers": "CN-2000-000001"}, "numbers"),
        ({"numbers": "hello"}, "numbers"),
        ({}, "__all__"),
        ({"day": "2001-01-01"}, "day"),
    ],
)
def test_batch_bad_choice_is_refused(clerk, data, message_field):
    response = browser_client(clerk).post("/window/batch/", data)

    assert response.status_code == 200
    assert message_field in response.context["form"].errors
    assert not BackgroundJob.objects.exists()


def test_batch_job_is_visible_to_its_owner_only(clerk, hall_pledge):
    job = printing.batch_print_start(actor=clerk, numbers=[hall_pledge.number])
    other_clerk = make_staff("window_clerk", "clerk-2")
    client = browser_client(other_clerk)

    for suffix in ("", "status/", "download/"):
        assert client.get(f"/window/batch/{job.pk}/{suffix}").status_code == 404


def test_batch_day_leaves_out_withdrawn_and_other_days(clerk, resident, other_resident):
    from pledges.services import pledge_withdraw

    kept = sign_pledge(resident, MatterFactory())
    withdrawn = sign_pledge(other_resident, MatterFactory())
    pledge_withdraw(pledge=withdrawn, actor=other_resident)
    old = sign_pledge(make_resident(), MatterFactory())
    Pledge.objects.filter(pk=old.pk).update(signed_at=timezone.now() - dt.timedelta(days=3))

    assert printing.batch_numbers_for_day(timezone.localdate()) == [kept.number]


def test_only_window_clerks_start_batches(pledge):
    from core.errors import NotAllowed

    with pytest.raises(NotAllowed):
        printing.batch_print_start(
            actor=make_staff("credit_officer", "credit-1"), numbers=[pledge.number]
        )


def test_a_batch_prints_only_pledges_of_the_clerks_scope(clerk, hall_pledge, resident):
    from core.errors import DomainError
    from tests.factories import UnitFactory

    online = sign_pledge(resident, MatterFactory())
    other_hall = make_staff("window_clerk", "clerk-h2", unit=UnitFactory(code="H2", hall=True))
    elsewhere = sign_at_window(other_hall, make_resident().person)

    for outside in (online, elsewhere):
        with pytest.raises(DomainError) as refused:
            printing.batch_print_start(actor=clerk, numbers=[hall_pledge.number, outside.number])
        assert refused.value.field == "numbers"
        assert outside.number in refused.value.message
    assert printing.batch_numbers_for_day(
        timezone.localdate(), among=printing.selectors.pledges_visible_to(clerk)
    ) == [hall_pledge.number]
    assert not BackgroundJob.objects.exists()
