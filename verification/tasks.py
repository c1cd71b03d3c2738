"""Celery tasks of verification: take ids, return early when done, safe to run twice."""

import datetime as dt

from celery import shared_task
from django.utils import timezone

from .models import Draw, SpotCheckPlan


@shared_task(acks_late=True, soft_time_limit=1800, time_limit=1900)
def draw_spot_checks(plan_id: int, cutoff: str | None = None) -> int | None:
    """Run a plan's draw. Beat sends no cutoff: the end of the period just closed is used, so
    a restarted beat or a redelivered message finds the same (plan, cutoff) and draws nothing
    new. Returns the draw's id (or ``None`` when there was nothing to draw)."""
    from . import services

    plan = (
        SpotCheckPlan.objects.filter(pk=plan_id, active=True)
        .select_related("periodic_task__crontab")
        .first()
    )
    if plan is None:
        return None
    if cutoff:
        when = dt.datetime.fromisoformat(cutoff)
        trigger = Draw.Trigger.MANUAL
    else:
        when = services.period_cutoff(plan, timezone.now())
        trigger = Draw.Trigger.BEAT
    draw = services.draw_execute(plan=plan, cutoff=when, trigger=trigger)
    return draw.pk if draw else None


@shared_task(acks_late=True, soft_time_limit=1800, time_limit=1900)
def follow_up_draw(draw_id: int) -> int:
    """Notify the persons drawn and the officers; resumable, each notice sent once."""
    from . import services

    return services.draw_follow_up(draw_id=draw_id)


@shared_task(acks_late=True)
def follow_up_pending_draws() -> int:
    """Daily safety net: finish the follow-up of any draw whose message was lost."""
    count = 0
    for draw_id in Draw.objects.filter(followed_up_at__isnull=True).values_list("pk", flat=True):
        follow_up_draw.delay(draw_id)
        count += 1
    return count


@shared_task(acks_late=True)
def check_promise_deadlines() -> int:
    """Daily: promises past their deadline become written check tasks."""
    from . import services

    return services.promises_check_deadlines()


@shared_task(acks_late=True)
def flag_overdue_tasks() -> int:
    """Daily: flag check tasks past their time limit and tell officers and supervisors."""
    from . import services

    return services.tasks_flag_overdue()
