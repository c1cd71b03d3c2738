"""Helpers for credit tests: drafts, decided records, uploads."""

import datetime as dt
import io

from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from credit import services
from credit.models import CreditRecord

_counter = iter(range(1, 10**9))

# The smallest valid files of each accepted type (content, not the name, decides the type).
PDF_BYTES = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG_BYTES = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00"
    b"\x00\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\xdac\xfc\xff\x1f\x00\x03\x03\x02\x00\xef\x9b"
    b"\xe0M\x00\x00\x00\x00IEND\xaeB`\x82"
)


def pdf_upload(name="proof.pdf", content=PDF_BYTES):
    return SimpleUploadedFile(name, content, content_type="application/pdf")


def fake_pdf(name="proof.pdf"):
    """A script named like a PDF and declared as one: its content says otherwise."""
    return SimpleUploadedFile(name, b"<script>alert(1)</script>", content_type="application/pdf")


def facts(**extra):
    return {
        "matter_code": "T-001",
        "matter_name": "低保申请经济困难证明",
        "pledge_number": "CN-2026-000001",
        "finding": "申报收入与税务数据不符",
        "evidence": [{"name": "tax-data.pdf", "sha256": "ab" * 32}],
        **extra,
    }


def draft(person, *, kind="false_pledge", source=None, **fact_overrides) -> CreditRecord:
    return services.record_draft(
        person=person,
        kind=kind,
        facts=facts(**fact_overrides),
        source=source or f"test.finding:{next(_counter)}",
    )


def close_hearing(record) -> CreditRecord:
    """Let the hearing period end (yesterday), as if the days had passed."""
    CreditRecord.objects.filter(pk=record.pk).update(
        hearing_deadline=timezone.localdate() - dt.timedelta(days=1)
    )
    record.refresh_from_db()
    return record


def confirmed(person, officer, *, severity="general", kind="false_pledge", **kwargs):
    record = close_hearing(draft(person, kind=kind, **kwargs))
    return services.record_decide(
        record=record, actor=officer, decision="confirm", severity=severity, basis="《条例》第十条"
    )


def io_bytes(data: bytes):
    return io.BytesIO(data)
