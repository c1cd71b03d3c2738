"""Beat runs a plan's draw on its crontab, once per period: a restarted beat or a redelivered
message finds the same (plan, cutoff) and draws nothing more. With CI's Redis and a real worker
the task travels through the broker; elsewhere it runs eagerly."""

import datetime as dt

import pytest
from django.utils import timezone
from django_celery_beat.models import CrontabSchedule, PeriodicTask
from django_celery_beat.schedulers import DatabaseScheduler

from config.celery import app
from tests.verification.conftest import make_plan, make_pledges
from tests.worker import real_worker, wait_until  # noqa: F401
from verification import tasks
from verification.models import Cadence, CheckTask, Draw


def beat_tick():
    """One tick of a freshly started beat (django-celery-beat's database scheduler)."""
    scheduler = DatabaseScheduler(app=app)
    try:
        scheduler.tick()
        scheduler.sync()
    finally:
        scheduler.close()


@pytest.mark.worker
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_scheduled_draw_runs_once(real_worker, officers, matter):  # noqa: F811
    make_pledges(matter, 20, signed_at=timezone.now() - dt.timedelta(days=10))
    plan = make_plan(matter=matter, ratio="0.25", cadence=Cadence.WEEKLY)
    # One tick sends one due entry: keep the other apps' schedules (credit's pushes, the
    # daily checks) from being due first, whatever the hour the suite runs at.
    PeriodicTask.objects.exclude(pk=plan.periodic_task_id).update(enabled=False)
    # django-celery-beat loads a crontab entry with a fixed hour only within two hours of
    # that hour (the weekly one fires at 00:10): give the entry a crontab of every minute so
    # the tick finds it at whatever hour the suite runs. The cutoff still follows the plan's
    # weekly cadence.
    entry = PeriodicTask.objects.select_related("crontab").get(pk=plan.periodic_task_id)
    every_minute = CrontabSchedule.objects.create(
        minute="*", hour="*", day_of_week="*", timezone=entry.crontab.timezone
    )
    # Beat last ran more than a week ago: the weekly entry is due now.
    PeriodicTask.objects.filter(pk=plan.periodic_task_id).update(
        crontab=every_minute, last_run_at=timezone.now() - dt.timedelta(days=8)
    )

    beat_tick()
    draw = wait_until(lambda: Draw.objects.filter(plan=plan).first(), timeout=30)
    assert draw.trigger == Draw.Trigger.BEAT
    assert timezone.localtime(draw.cutoff).weekday() == 0  # the Monday that closed the week
    wait_until(lambda: CheckTask.objects.filter(draw=draw).count() == 5, timeout=30)

    # Beat restarts and the message is delivered again: still one draw.
    PeriodicTask.objects.filter(pk=plan.periodic_task_id).update(
        last_run_at=timezone.now() - dt.timedelta(days=8)
    )
    beat_tick()
    tasks.draw_spot_checks.delay(plan.pk)
    wait_until(
        lambda: PeriodicTask.objects.get(pk=plan.periodic_task_id).total_run_count >= 2,
        timeout=30,
    )
    # The worker handles messages in order: once this marker has run, so have the others.
    marker = tasks.follow_up_pending_draws.delay()
    assert marker is not None
    wait_until(
        lambda: Draw.objects.filter(plan=plan, followed_up_at__isnull=False).exists(), timeout=30
    )
    assert Draw.objects.filter(plan=plan).count() == 1
    assert CheckTask.objects.count() == 5
