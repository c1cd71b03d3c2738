"""A worker killed (SIGKILL) in the middle of a draw, a render, a push and a ledger append.

One real worker (``celery -A tests.faults.worker_app worker``, four threads) takes the four
tasks and is stopped inside each at a known point (tests/faults/worker_app.py) with its work
done but not committed; then the whole process is killed. Late acknowledgement keeps the four
messages in Redis as unacknowledged; a second worker takes them back once they are older than
its visibility timeout (seconds here, an hour in production) and runs them again. Each must
finish exactly once: one draw, one stored form per pledge, one push acknowledged and one
ledger entry per event, every notice sent once, and ``verify_ledger`` passes.
"""

import collections
import datetime as dt
import json

import pytest
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone

from core import outbox
from core.models import AuditEvent, BackgroundJob, Notification, OutboxMessage
from credit import exporters, ledger
from credit import tasks as credit_tasks
from credit.models import CreditRecord, LedgerEntry, Push, RecordState
from pledges import printing
from pledges import tasks as pledge_tasks
from pledges.models import Pledge
from tests.credit.factories import confirmed
from tests.factories import MatterFactory, PersonFactory, make_staff, sign_at_window
from verification import tasks as verification_tasks
from verification.models import CheckTask, Draw

from . import processes, scenario

pytestmark = [
    pytest.mark.faults,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

POINTS = ("draw", "render", "push", "ledger")


def _ledger_events(event_type: str) -> list[dict]:
    return [
        {"record": row.record_id, **json.loads(row.event)}
        for row in LedgerEntry.objects.order_by("seq")
        if json.loads(row.event)["type"] == event_type
    ]


def test_a_worker_killed_mid_task_leaves_each_task_to_the_next_worker_once(
    spawn, tmp_path, clean_broker, private_folder, settings
):
    settings.CHENGNUO_CREDIT_EXPORT_DIR = str(tmp_path / "exports")
    private = private_folder

    with scenario.messages_kept_in_the_outbox():
        # A draw: three residents with two pledges each, all drawn (each notified by SMS).
        plan, residents = scenario.drawable_pledges(residents=3, each=2)
        # A render: a clerk's batch of three forms.
        clerk = make_staff("window_clerk", "clerk-faults")
        print_matter = MatterFactory()
        numbers = [sign_at_window(clerk, matter=print_matter).number for _ in range(3)]
        # A push: two confirmed records queued for the sharing platform.
        officer = make_staff("credit_officer", "credit-faults")
        pushed = confirmed(PersonFactory(), officer)
        # A ledger append: one of them reached the end of its publication yesterday.
        expiring = confirmed(PersonFactory(), officer)
        CreditRecord.objects.filter(pk=expiring.pk).update(
            publication_ends_on=timezone.localdate() - dt.timedelta(days=1)
        )
        job = BackgroundJob.objects.create(
            kind=printing.BATCH_KIND,
            owner=clerk,
            total=len(numbers),
            params={"numbers": numbers, "day": "", "matter": ""},
        )
    # Only the four tasks under test go to the broker.
    OutboxMessage.objects.all().delete()
    with scenario.through_the_broker(), transaction.atomic():
        outbox.enqueue(verification_tasks.draw_spot_checks, plan.pk)
        outbox.enqueue(pledge_tasks.print_pledge_batch, job.pk)
        outbox.enqueue(credit_tasks.push_records)
        outbox.enqueue(credit_tasks.expire_records)
    assert OutboxMessage.objects.filter(sent_at__isnull=False).count() == 4

    first = spawn(
        processes.celery_worker,
        "worker-killed",
        app="tests.faults.worker_app",
        pool="threads",
        concurrency=4,
        FAULTS_PAUSE=",".join(POINTS),
    )
    processes.wait_for(
        lambda: all((tmp_path / f"{point}.paused").exists() for point in POINTS),
        timeout=60,
        what="the four tasks paused in the first worker",
        processes=[first],
    )
    first.kill()

    # Killed with nothing committed but the batch's first form.
    assert not Draw.objects.filter(plan=plan).exists()
    assert not Push.objects.filter(status=Push.Status.SENT).exists()
    assert CreditRecord.objects.get(pk=expiring.pk).state == RecordState.CONFIRMED
    job.refresh_from_db()
    assert job.status != BackgroundJob.Status.DONE
    stored = Pledge.objects.filter(number__in=numbers).exclude(pdf="").count()
    assert stored == 1
    assert len(list((private / "forms").glob("*.pdf"))) == 2, "the second file, uncommitted"

    second = spawn(processes.celery_worker, "worker-after", FAULTS_VISIBILITY_TIMEOUT="4")

    def all_done():
        job.refresh_from_db()
        return (
            Draw.objects.filter(plan=plan, followed_up_at__isnull=False).exists()
            and job.status == BackgroundJob.Status.DONE
            and CreditRecord.objects.get(pk=expiring.pk).state == RecordState.EXPIRED
            and Push.objects.count() == 3
            and not Push.objects.exclude(status=Push.Status.SENT).exists()
            and len(processes.sms_lines(tmp_path / "sms.log")) >= 6
        )

    processes.wait_for(
        all_done, timeout=60, what="the second worker finishing the four tasks", processes=[second]
    )

    # The draw: one, with every pledge under check once and each person told once.
    [draw] = Draw.objects.filter(plan=plan)
    assert CheckTask.objects.filter(draw=draw).count() == 6
    assert len(list((private / "draws").glob(f"plan{plan.pk}-*"))) == 1
    drawn = Notification.objects.filter(kind="verification.drawn")
    assert drawn.count() == 6
    sms = processes.sms_lines(tmp_path / "sms.log")
    assert len(sms) == 6 and len(set(sms)) == 6, sms
    assert {phone for phone, _text in sms} == {r.phone for r in residents}

    # The render: three forms, each stored once under its own name, each print logged once.
    assert job.result["forms"] == 3
    files = sorted(p.name for p in (private / "forms").iterdir())
    assert files == sorted(f"{number}.pdf" for number in numbers), files
    printed = AuditEvent.objects.filter(action="pledge.printed", data__job=job.pk)
    assert sorted(printed.values_list("data__number", flat=True)) == sorted(numbers)
    assert len(list((private / "batches").iterdir())) == 1

    # The pushes: each acknowledged once, one ledger entry each; the platform (which drops a
    # push_id it already has) holds each version once.
    for push in Push.objects.all():
        assert push.attempts == 1, push
    pushed_events = collections.Counter(
        (event["record"], event["data"]["version"]) for event in _ledger_events("record.pushed")
    )
    assert pushed_events == {(pushed.pk, 1): 1, (expiring.pk, 1): 1, (expiring.pk, 2): 1}
    delivered = {
        item["push_id"]
        for batch in (tmp_path / "exports").glob("*.jsonl")
        for item in exporters.read_batch(batch)
    }
    assert delivered == {f"{pushed.pk}:1", f"{expiring.pk}:1", f"{expiring.pk}:2"}

    # The ledger: the expiry appended once, the chain and its signed head intact.
    assert [e["record"] for e in _ledger_events("record.expired")] == [expiring.pk]
    assert ledger.verify().ok
    call_command("verify_ledger")
