"""Catalog lists: imported whole or refused whole, per-row errors, bad files, diff and merge,
and the round trip of the city's catalog."""

import datetime as dt
import io
import re
import zipfile

import pytest
from django.test import override_settings
from openpyxl import load_workbook

from core.models import BackgroundJob
from oversight import services
from oversight.models import CatalogList, CatalogListRow
from pledges.models import Matter
from tests.conftest import client_for
from tests.factories import MatterFactory, login_staff

from .conftest import HEADER, make_xlsx, row, upload

pytestmark = pytest.mark.django_db


def submit(actor, data, django_capture_on_commit_callbacks, name="list.xlsx"):
    with django_capture_on_commit_callbacks(execute=True):
        catalog_list = services.catalog_list_submit(actor=actor, upload=upload(data, name))
    catalog_list.refresh_from_db()
    return catalog_list


def error_messages(catalog_list):
    return [(e.row_number, e.column, e.message) for e in catalog_list.errors.all()]


def test_a_valid_list_is_imported_whole_with_progress_done(
    submitter, django_capture_on_commit_callbacks
):
    data = make_xlsx([row("T-001"), row("T-002", disposition="不得出具", where_instead="派出所")])
    catalog_list = submit(submitter, data, django_capture_on_commit_callbacks)
    assert catalog_list.status == CatalogList.Status.IMPORTED
    assert catalog_list.row_count == 2
    stored = CatalogListRow.objects.filter(catalog_list=catalog_list).order_by("row_number")
    assert [(r.code, r.disposition, r.row_number) for r in stored] == [
        ("T-001", "pledge", 2),
        ("T-002", "must_not_issue", 3),
    ]
    assert stored[0].valid_from == dt.date(2021, 1, 1)
    job = BackgroundJob.objects.get(pk=catalog_list.job_id)
    assert job.status == BackgroundJob.Status.DONE and job.percent == 100
    assert Matter.objects.count() == 0  # nothing reaches the catalog before the bureau merges


@pytest.mark.parametrize(
    ("bad_row", "column", "fragment"),
    [
        (row("T-009", disposition="应当出具", legal_basis=""), "设定依据", "legal basis"),
        (row("T-001"), "事项编码", "Duplicate code"),
        (row("T-009", valid_from="2026-02-30"), "生效日期", "valid date"),
        (row("T-009", valid_from="someday"), "生效日期", "valid date"),
        (
            row("T-009", valid_from=dt.date(2026, 5, 1), valid_to=dt.date(2026, 1, 1)),
            "失效日期",
            "before the start",
        ),
        (row("T-009", disposition="随便"), "类别", "Unknown category"),
        (row("T-009", department="XX"), "主管部门编码", "Unknown department"),
        (row("", name="无编码"), "事项编码", "required"),
        (row("T 9!"), "事项编码", "letters, digits"),
    ],
)
def test_one_bad_row_refuses_the_whole_list_with_its_row_and_column(
    submitter, django_capture_on_commit_callbacks, bad_row, column, fragment
):
    data = make_xlsx([row("T-001"), row("T-002"), bad_row])
    catalog_list = submit(submitter, data, django_capture_on_commit_callbacks)
    assert catalog_list.status == CatalogList.Status.REFUSED
    assert CatalogListRow.objects.count() == 0
    errors = error_messages(catalog_list)
    assert len(errors) == 1, errors
    assert errors[0][0] == 4 and errors[0][1] == column
    assert fragment in errors[0][2]
    assert BackgroundJob.objects.get(pk=catalog_list.job_id).status == "failed"


def test_every_bad_row_is_reported_not_just_the_first(
    submitter, django_capture_on_commit_callbacks
):
    rows = [row(f"T-{n:03d}") for n in range(1, 3001)]
    rows[10] = row("T-011", disposition="应当出具", legal_basis="")
    rows[2500] = row("T-001")
    catalog_list = submit(submitter, make_xlsx(rows), django_capture_on_commit_callbacks)
    assert catalog_list.status == CatalogList.Status.REFUSED
    assert [e[0] for e in error_messages(catalog_list)] == [12, 2502]
    assert CatalogListRow.objects.count() == 0  # the first 2,000-row batch was rolled back


def test_unknown_and_missing_columns_are_reported_on_row_one(
    submitter, django_capture_on_commit_callbacks
):
    header = [label for label in HEADER if label != "类别"] + ["备注"]
    data = make_xlsx([["T-001"]], header=header)
    catalog_list = submit(submitter, data, django_capture_on_commit_callbacks)
    assert catalog_list.status == CatalogList.Status.REFUSED
    messages = error_messages(catalog_list)
    assert (1, "", "Unknown column “备注”.") in messages
    assert any(e[0] == 1 and e[1] == "类别" and "missing" in e[2] for e in messages)


def test_header_may_use_the_column_keys(submitter, django_capture_on_commit_callbacks):
    from oversight.xlsx import COLUMN_KEYS

    data = make_xlsx([row("T-001")], header=list(COLUMN_KEYS))
    assert submit(submitter, data, django_capture_on_commit_callbacks).status == "imported"


def test_a_department_hands_in_only_its_own_items(
    department_submitter, django_capture_on_commit_callbacks
):
    data = make_xlsx([row("T-001", department=""), row("T-002", department="MZ")])
    catalog_list = submit(department_submitter, data, django_capture_on_commit_callbacks)
    assert catalog_list.status == CatalogList.Status.REFUSED
    assert [e[0] for e in error_messages(catalog_list)] == [3]


# ---- bad files: a clear refusal, nothing imported ---------------------------------------


def assert_refused(catalog_list, fragment):
    assert catalog_list.status == CatalogList.Status.REFUSED
    assert fragment in catalog_list.refusal, catalog_list.refusal
    assert CatalogListRow.objects.count() == 0
    assert Matter.objects.count() == 0


def test_a_file_that_is_not_an_xlsx_is_refused_at_upload(submitter):
    from core.errors import DomainError

    with pytest.raises(DomainError) as caught:
        services.catalog_list_submit(actor=submitter, upload=upload(b"code,name\nT-1,x\n"))
    assert caught.value.field == "file"
    assert CatalogList.objects.count() == 0


def test_a_zip_that_is_not_a_workbook_is_refused(submitter, django_capture_on_commit_callbacks):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("hello.txt", "not a workbook")
    catalog_list = submit(submitter, buffer.getvalue(), django_capture_on_commit_callbacks)
    assert_refused(catalog_list, "not an XLSX")


def test_an_encrypted_workbook_is_refused(submitter, django_capture_on_commit_callbacks):
    # An encrypted OOXML workbook is an OLE compound file: D0 CF 11 E0 A1 B1 1A E1.
    data = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 4096
    catalog_list = submit(submitter, data, django_capture_on_commit_callbacks)
    assert_refused(catalog_list, "encrypted")


def test_a_truncated_workbook_is_refused(submitter, django_capture_on_commit_callbacks):
    data = make_xlsx([row("T-001")])[:600]
    catalog_list = submit(submitter, data, django_capture_on_commit_callbacks)
    assert catalog_list.status == CatalogList.Status.REFUSED
    assert CatalogListRow.objects.count() == 0


def test_a_sheet_claiming_a_million_rows_is_refused_before_reading(
    submitter, django_capture_on_commit_callbacks
):
    data = make_xlsx([row("T-001")], dimension="A1:J1000001")
    catalog_list = submit(submitter, data, django_capture_on_commit_callbacks)
    assert_refused(catalog_list, "more than")


@override_settings(CHENGNUO_OVERSIGHT_LIST_MAX_ROWS=50)
def test_more_rows_than_the_limit_are_refused_even_when_the_dimension_lies(
    submitter, django_capture_on_commit_callbacks
):
    data = make_xlsx([row(f"T-{n:03d}") for n in range(60)], dimension="A1:J2")
    catalog_list = submit(submitter, data, django_capture_on_commit_callbacks)
    assert_refused(catalog_list, "more than 50 rows")


def test_a_dimension_that_understates_does_not_truncate_the_import(
    submitter, django_capture_on_commit_callbacks
):
    data = make_xlsx([row(f"T-{n:03d}") for n in range(30)], dimension="A1:J3")
    catalog_list = submit(submitter, data, django_capture_on_commit_callbacks)
    assert catalog_list.status == "imported"
    assert catalog_list.row_count == 30


def test_a_million_row_sheet_without_a_dimension_is_refused_without_parsing_it(
    submitter, django_capture_on_commit_callbacks, monkeypatch
):
    from oversight import xlsx

    # A million empty rows: a few MB of XML that compresses to almost nothing.
    rows = b"".join(b'<row r="%d"/>' % n for n in range(2, 1_000_002))
    source = zipfile.ZipFile(io.BytesIO(make_xlsx([row("T-001")])))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            content = source.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                content = re.sub(rb"<dimension [^>]*/>", b"", content)
                content = content.replace(b"</sheetData>", rows + b"</sheetData>")
            target.writestr(item, content)
    assert len(buffer.getvalue()) < 5_000_000

    def never(*args, **kwargs):
        raise AssertionError("the sheet was parsed")

    import openpyxl

    monkeypatch.setattr(xlsx.ListReader, "_check", never)
    monkeypatch.setattr(openpyxl, "load_workbook", never)
    catalog_list = submit(submitter, buffer.getvalue(), django_capture_on_commit_callbacks)
    assert_refused(catalog_list, "more than 100,000 rows")


def test_progress_is_reported_while_a_long_list_is_read(
    submitter, django_capture_on_commit_callbacks, monkeypatch
):
    from oversight import progress

    reports = []
    monkeypatch.setattr(progress, "report", lambda job, done, total: reports.append((done, total)))
    rows = [row(f"T-{n:04d}") for n in range(2500)]
    catalog_list = submit(submitter, make_xlsx(rows), django_capture_on_commit_callbacks)
    assert catalog_list.status == "imported"
    assert reports == [(999, 2500), (1999, 2500)]


def test_a_list_with_a_formula_is_refused(submitter, django_capture_on_commit_callbacks):
    data = make_xlsx([row("T-001"), row("T-002")], formulas={"B3": '=CONCAT("a","b")'})
    catalog_list = submit(submitter, data, django_capture_on_commit_callbacks)
    assert catalog_list.status == CatalogList.Status.REFUSED
    assert error_messages(catalog_list) == [
        (3, "事项名称", "Formulas are not accepted; paste the values only.")
    ]
    assert CatalogListRow.objects.count() == 0


@override_settings(CHENGNUO_OVERSIGHT_LIST_MAX_SHARED_STRINGS=100)
def test_a_workbook_with_too_much_text_is_refused_before_openpyxl_loads_it(
    submitter, django_capture_on_commit_callbacks
):
    # Excel keeps text in a shared-string table that openpyxl loads whole: add a big one.
    source = zipfile.ZipFile(io.BytesIO(make_xlsx([row("T-001")])))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            target.writestr(item, source.read(item.filename))
        strings = "".join(f"<si><t>{n}</t></si>" for n in range(100))
        target.writestr("xl/sharedStrings.xml", f"<sst>{strings}</sst>")
    catalog_list = submit(submitter, buffer.getvalue(), django_capture_on_commit_callbacks)
    assert_refused(catalog_list, "too much text")


def test_an_empty_list_is_refused(submitter, django_capture_on_commit_callbacks):
    catalog_list = submit(submitter, make_xlsx([]), django_capture_on_commit_callbacks)
    assert_refused(catalog_list, "no rows")


def test_running_the_import_twice_changes_nothing(submitter, django_capture_on_commit_callbacks):
    catalog_list = submit(submitter, make_xlsx([row("T-001")]), django_capture_on_commit_callbacks)
    again = services.catalog_list_import(catalog_list_id=catalog_list.pk)
    assert again.status == "imported"
    assert CatalogListRow.objects.count() == 1


# ---- error report -----------------------------------------------------------------------


def test_the_error_report_downloads_as_xlsx_and_csv(
    submitter, django_capture_on_commit_callbacks, client
):
    rows = [row("T-001"), row("T-001"), row("=cmd|' /C calc'!A0")]
    catalog_list = submit(submitter, make_xlsx(rows), django_capture_on_commit_callbacks)
    login_staff(client, submitter)
    response = client.get(f"/lists/{catalog_list.pk}/errors.xlsx")
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.content)).active
    values = list(sheet.iter_rows(min_row=2, values_only=True))
    assert values[0][0] == 3 and "Duplicate" in values[0][3]
    # A submitted value that looks like a formula stays text in the report.
    assert all(cell.data_type != "f" for r in sheet.iter_rows() for cell in r)
    csv_response = client.get(f"/lists/{catalog_list.pk}/errors.csv")
    text = csv_response.content.decode("utf-8-sig")
    assert "'=cmd" in text
    api = client_for(submitter).get(f"/api/v1/catalog-lists/{catalog_list.pk}/errors/")
    assert api.status_code == 200
    assert api.json()["count"] == 2


# ---- diff, merge and the round trip -----------------------------------------------------


def test_the_bureau_sees_the_diff_and_merges_with_history(
    submitter, officer, django_capture_on_commit_callbacks
):
    existing = MatterFactory(code="T-001", name="旧名称", legal_basis="《测试条例》第一条")
    data = make_xlsx(
        [row("T-001", name="新名称"), row("T-002", disposition="不得出具", where_instead="派出所")]
    )
    catalog_list = submit(submitter, data, django_capture_on_commit_callbacks)
    response = client_for(officer).get(f"/api/v1/catalog-lists/{catalog_list.pk}/diff/")
    assert response.status_code == 200
    body = response.json()
    assert body["counts"] == {"new": 1, "changed": 1, "unchanged": 0}
    assert body["changed"][0]["changes"]["name"] == ["旧名称", "新名称"]
    history_before = existing.history.count()
    merged = client_for(officer).post(
        f"/api/v1/catalog-lists/{catalog_list.pk}/merge/", {"note": "ok"}, format="json"
    )
    assert merged.status_code == 200, merged.json()
    assert merged.json()["status"] == "merged"
    existing.refresh_from_db()
    assert existing.name == "新名称"
    assert existing.history.count() == history_before + 1
    assert existing.history.first().history_user == officer
    created = Matter.objects.get(code="T-002")
    assert created.disposition == "must_not_issue" and created.where_instead == "派出所"
    assert created.history.count() == 1
    # A new catalog item gets a draft guide for the catalog administrator to complete.
    assert created.guide.status == "draft" and created.guide.office == "市司法局"
    again = client_for(officer).post(f"/api/v1/catalog-lists/{catalog_list.pk}/merge/")
    assert again.status_code == 409


def test_a_submitter_cannot_merge_its_own_list(submitter, django_capture_on_commit_callbacks):
    catalog_list = submit(submitter, make_xlsx([row("T-001")]), django_capture_on_commit_callbacks)
    response = client_for(submitter).post(f"/api/v1/catalog-lists/{catalog_list.pk}/merge/")
    assert response.status_code == 403
    assert Matter.objects.count() == 0


def test_exporting_the_demo_catalog_and_importing_it_again_changes_nothing(
    officer, django_capture_on_commit_callbacks, client
):
    from accounts.demo import load_units
    from pledges.demo import load as load_catalog

    load_units()
    load_catalog()
    before = {
        m.code: (
            m.name,
            m.certificate,
            m.disposition,
            m.legal_basis,
            m.department_id,
            m.where_instead,
            m.valid_from,
            m.valid_to,
        )
        for m in Matter.objects.all()
    }
    history_before = Matter.history.count()
    login_staff(client, officer)
    exported = client.get("/lists/export.xlsx")
    assert exported.status_code == 200
    catalog_list = submit(officer, exported.content, django_capture_on_commit_callbacks)
    assert catalog_list.status == "imported", list(catalog_list.errors.values())
    assert catalog_list.row_count == len(before)
    diff = client_for(officer).get(f"/api/v1/catalog-lists/{catalog_list.pk}/diff/").json()
    assert diff["counts"] == {"new": 0, "changed": 0, "unchanged": len(before)}
    services.catalog_list_merge(catalog_list=catalog_list, actor=officer)
    after = {
        m.code: (
            m.name,
            m.certificate,
            m.disposition,
            m.legal_basis,
            m.department_id,
            m.where_instead,
            m.valid_from,
            m.valid_to,
        )
        for m in Matter.objects.all()
    }
    assert after == before
    assert Matter.history.count() == history_before


def test_the_catalog_exports_as_a_pdf_grouped_by_category(officer, client):
    MatterFactory(code="T-001", name="低保申请")
    MatterFactory(code="T-002", name="亲属关系证明", must_not_issue=True, where_instead="派出所")
    login_staff(client, officer)
    response = client.get("/lists/export.pdf")
    assert response.status_code == 200
    assert response.content.startswith(b"%PDF")


def test_an_export_never_turns_submitted_text_into_a_formula(officer):
    from oversight import xlsx

    content = xlsx.catalog_bytes(
        [
            {
                "code": "T-1",
                "name": '=HYPERLINK("http://x")',
                "certificate": "c",
                "disposition": "pledge",
                "legal_basis": "",
                "department": "SF",
                "where_instead": "",
                "valid_from": dt.date(2021, 1, 1),
                "valid_to": None,
            }
        ]
    )
    sheet = load_workbook(io.BytesIO(content)).active
    cell = sheet["B2"]
    assert cell.value.startswith("=HYPERLINK") and cell.data_type == "s"


def test_the_template_has_the_columns_the_import_reads(submitter, client):
    login_staff(client, submitter)
    response = client.get("/lists/template.xlsx")
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.content)).worksheets[0]
    assert [c.value for c in next(sheet.iter_rows(max_row=1))] == HEADER


def test_upload_page_shows_progress_then_the_result(
    submitter, client, django_capture_on_commit_callbacks
):
    login_staff(client, submitter)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post("/lists/", {"file": upload(make_xlsx([row("T-001")]))}, follow=True)
    assert response.status_code == 200
    page = response.content.decode()
    assert 'id="job-progress"' in page and 'http-equiv="refresh"' in page
    for callback in callbacks:
        callback()
    page = client.get(response.redirect_chain[-1][0]).content.decode()
    assert "http-equiv" not in page
    assert CatalogList.objects.get().status == "imported"
