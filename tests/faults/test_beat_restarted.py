"""Beat restarted around a scheduled draw: exactly one draw for the period.

A real beat process (django-celery-beat's database scheduler) sends a plan's due draw; a
worker runs it. Beat is then killed (SIGKILL) and, as if it had died after sending but before
recording the run, the entry's last run is set back; a restarted beat sends the same entry
again. The draw task computes the period from the crontab, finds the draw of that (plan,
cutoff) and draws nothing more: one draw, its tasks and notices once.
"""

import collections
import datetime as dt
import threading

import pytest
from celery.signals import task_postrun
from django.conf import settings
from django.utils import timezone
from django_celery_beat.models import CrontabSchedule, PeriodicTask

from core.models import Notification
from tests.worker import real_worker  # noqa: F401
from verification import services as verification_services
from verification.models import Cadence, CheckTask, Draw

from . import processes, scenario

pytestmark = [
    pytest.mark.faults,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

DRAW = "verification.tasks.draw_spot_checks"


@pytest.fixture
def finished_tasks():
    """A count of the tasks the worker thread has finished, by name."""
    counts: collections.Counter = collections.Counter()
    lock = threading.Lock()

    def noted(sender=None, **kwargs):
        with lock:
            counts[sender.name] += 1

    task_postrun.connect(noted, weak=False)
    yield counts
    task_postrun.disconnect(noted)


def test_beat_restarted_around_a_scheduled_draw_draws_once(
    clean_broker,
    real_worker,  # noqa: F811
    finished_tasks,
    spawn,
):
    with scenario.messages_kept_in_the_outbox():
        plan, residents = scenario.drawable_pledges(residents=2, each=2)
    # The plan's crontab fired five minutes ago, today; beat last ran two days ago, so the
    # entry is due now. (django-celery-beat loads a crontab entry only within two hours of
    # its hour: a time near now keeps it in view whatever the hour the suite runs at.)
    fired = timezone.localtime() - dt.timedelta(minutes=5)
    crontab = CrontabSchedule.objects.create(
        minute=str(fired.minute),
        hour=str(fired.hour),
        day_of_week="*",
        day_of_month="*",
        month_of_year="*",
        timezone=settings.TIME_ZONE,
    )
    plan.cadence = Cadence.CUSTOM
    plan.save(update_fields=["cadence"])
    PeriodicTask.objects.exclude(pk=plan.periodic_task_id).update(enabled=False)
    before = timezone.now() - dt.timedelta(days=2)
    PeriodicTask.objects.filter(pk=plan.periodic_task_id).update(
        crontab=crontab, last_run_at=before, total_run_count=0
    )
    plan.refresh_from_db()
    cutoff = verification_services.period_cutoff(plan)

    first = spawn(processes.celery_beat, "beat-1")
    processes.wait_for(
        lambda: (
            finished_tasks[DRAW] == 1
            and PeriodicTask.objects.get(pk=plan.periodic_task_id).total_run_count == 1
        ),
        timeout=40,
        what="beat sending the due draw, the worker running it, beat recording the run",
        processes=[first],
    )
    first.kill()
    [draw] = Draw.objects.filter(plan=plan)
    assert draw.cutoff == cutoff and draw.trigger == Draw.Trigger.BEAT
    processes.wait_for(
        lambda: Draw.objects.filter(pk=draw.pk, followed_up_at__isnull=False).exists(),
        timeout=30,
        what="the draw's follow-up",
    )
    tasks = set(CheckTask.objects.filter(draw=draw).values_list("pk", flat=True))
    assert len(tasks) == 4

    # Killed after sending, before recording: the restarted beat finds the entry due again.
    PeriodicTask.objects.filter(pk=plan.periodic_task_id).update(
        last_run_at=before, total_run_count=0
    )
    second = spawn(processes.celery_beat, "beat-2")
    processes.wait_for(
        lambda: finished_tasks[DRAW] == 2,
        timeout=40,
        what="the restarted beat sending the same entry and the worker running it",
        processes=[second],
    )
    second.kill()

    assert list(Draw.objects.filter(plan=plan)) == [draw]
    assert set(CheckTask.objects.values_list("pk", flat=True)) == tasks
    drawn = Notification.objects.filter(kind="verification.drawn")
    assert drawn.count() == 4
    assert {n.recipient_id for n in drawn} == {r.pk for r in residents}
    assert finished_tasks["verification.tasks.follow_up_draw"] == 1
