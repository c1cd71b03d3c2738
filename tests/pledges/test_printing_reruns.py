"""Printing work run again after a worker died midway: nothing stored or logged twice."""

import hashlib
import shutil
from pathlib import Path

import pytest

from core.models import AuditEvent, BackgroundJob
from pledges import printing
from pledges.models import Pledge
from tests.factories import MatterFactory, make_resident, make_staff, sign_pledge

pytestmark = pytest.mark.django_db


@pytest.fixture
def storage():
    storage = Pledge._meta.get_field("pdf").storage
    for folder in ("forms", "batches"):
        shutil.rmtree(Path(storage.location) / folder, ignore_errors=True)
    return storage


def test_a_form_file_left_by_a_killed_render_is_written_over_not_beside(storage):
    pledge = sign_pledge(make_resident("rerun-a"), MatterFactory())
    # The killed run stored (part of) the file; its row was never saved.
    leftover = f"forms/{pledge.number}.pdf"
    storage.save(leftover, printing.ContentFile(b"%PDF-1.7 half a file"))
    stored = printing.pledge_pdf_store(pledge=pledge)
    assert stored.pdf.name == leftover
    assert storage.listdir("forms")[1] == [f"{pledge.number}.pdf"]
    with storage.open(leftover, "rb") as handle:
        data = handle.read()
    assert data.startswith(b"%PDF") and len(data) > 1000
    assert hashlib.sha256(data).hexdigest() == stored.pdf_sha256


def test_a_batch_run_again_reuses_its_forms_and_logs_each_print_once(storage):
    clerk = make_staff("window_clerk", "clerk-rerun")
    matter = MatterFactory()
    pledges = [sign_pledge(make_resident(f"rerun-{i}"), matter) for i in range(2)]
    numbers = [p.number for p in pledges]
    job = BackgroundJob.objects.create(
        kind=printing.BATCH_KIND, owner=clerk, total=2, params={"numbers": numbers}
    )
    # The first run stored and logged the first form, then its worker died.
    printing.pledge_pdf_store(pledge=pledges[0])
    printing.audit_record(
        actor=clerk,
        action="pledge.printed",
        obj=pledges[0],
        person_hash=pledges[0].person.id_hash,
        data={"number": numbers[0], "via": "batch", "job": job.pk},
    )
    BackgroundJob.objects.filter(pk=job.pk).update(status=BackgroundJob.Status.RUNNING, done=1)

    job = printing.batch_print_run(job_id=job.pk)
    assert job.status == BackgroundJob.Status.DONE, job.error
    logged = AuditEvent.objects.filter(action="pledge.printed", data__job=job.pk)
    assert sorted(logged.values_list("data__number", flat=True)) == sorted(numbers)
    assert sorted(storage.listdir("forms")[1]) == sorted(f"{n}.pdf" for n in numbers)
    assert job.result_file == f"batches/batch-{job.pk}.pdf"
    # Once more (a redelivered message after the job finished): nothing changes.
    printing.batch_print_run(job_id=job.pk)
    assert logged.count() == 2
    assert storage.listdir("batches")[1] == [f"batch-{job.pk}.pdf"]
