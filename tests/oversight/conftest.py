"""Fixtures for the oversight app: units, the bureau's officer, list submitters, XLSX files."""

import datetime as dt
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from accounts.models import Unit
from oversight.xlsx import COLUMNS
from tests.factories import UnitFactory, make_staff

HEADER = [column.label for column in COLUMNS]


@pytest.fixture(autouse=True)
def _english(settings):
    """Messages in English here, so tests read the msgids whatever the translators did."""
    from django.utils import translation

    settings.LANGUAGE_CODE = "en"
    with translation.override("en"):
        yield


@pytest.fixture
def departments(db):
    return {
        code: UnitFactory(code=code, name=name, kind=Unit.Kind.DEPARTMENT)
        for code, name in (("SF", "市司法局"), ("MZ", "市民政局"), ("PA", "市公安局"))
    }


@pytest.fixture
def town(db):
    return UnitFactory(code="419001-Z01", name="克井镇", kind=Unit.Kind.TOWN)


@pytest.fixture
def bureau(db):
    return UnitFactory(code="BUREAU", name="市民政局监督科", kind=Unit.Kind.BUREAU)


@pytest.fixture
def officer(db, bureau, departments):
    return make_staff("oversight_officer", "officer", unit=bureau)


@pytest.fixture
def submitter(db, town, departments):
    return make_staff("list_submitter", "town-lists", unit=town)


@pytest.fixture
def department_submitter(db, departments):
    return make_staff("list_submitter", "sf-lists", unit=departments["SF"])


def row(code="T-001", **overrides) -> list:
    """One list row in template column order."""
    values = {
        "code": code,
        "name": f"事项{code}",
        "certificate": "居住证明",
        "disposition": "告知承诺",
        "legal_basis": "《测试条例》第一条",
        "department": "SF",
        "issuer": "社区居委会",
        "where_instead": "",
        "valid_from": dt.date(2021, 1, 1),
        "valid_to": None,
    }
    values.update(overrides)
    return [values[column.key] for column in COLUMNS]


def make_xlsx(rows, *, header=None, formulas=None, dimension=None) -> bytes:
    """An XLSX workbook with ``header`` and ``rows``; ``formulas`` maps "B2" to "=1+1"."""
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "清单"
    sheet.append(header if header is not None else HEADER)
    for values in rows:
        sheet.append(values)
    for ref, formula in (formulas or {}).items():
        sheet[ref] = formula
    buffer = io.BytesIO()
    workbook.save(buffer)
    data = buffer.getvalue()
    if dimension:
        data = rewrite_dimension(data, dimension)
    return data


def rewrite_dimension(data: bytes, ref: str) -> bytes:
    """Replace the sheet's ``<dimension ref=...>`` (a file that lies about its size)."""
    import re
    import zipfile

    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            content = source.read(item.filename)
            if item.filename.startswith("xl/worksheets/sheet"):
                content = re.sub(
                    rb'<dimension ref="[^"]*"', f'<dimension ref="{ref}"'.encode(), content
                )
            target.writestr(item, content)
    return out.getvalue()


def upload(data: bytes, name="list.xlsx") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type="application/octet-stream")


def pdf_text(data: bytes, tmp_path) -> str:
    """The text of a PDF as poppler's pdftotext reads it."""
    import subprocess

    path = tmp_path / f"doc-{abs(hash(data))}.pdf"
    path.write_bytes(data)
    result = subprocess.run(
        ["pdftotext", "-enc", "UTF-8", str(path), "-"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return result.stdout


@pytest.fixture
def no_weasyprint_warnings(caplog):
    """Fail a rendering test on any warning from WeasyPrint."""
    import logging

    caplog.set_level(logging.WARNING, logger="weasyprint")
    yield
    records = caplog.get_records("setup") + caplog.get_records("call")
    problems = [r for r in records if r.name.startswith("weasyprint")]
    assert not problems, [r.getMessage() for r in problems]


# The smallest valid files of each kind, to attach.
PNG_BYTES = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"
    b"\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\xdac\xfc\xff\x9f\xa1\x1e\x00\x07\x82\x02\x7f=\xc8H"
    b"\xef\x00\x00\x00\x00IEND\xaeB`\x82"
)
PDF_BYTES = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
