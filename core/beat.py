"""Periodic tasks on django-celery-beat's database scheduler, registered idempotently.

Crontab entries, never intervals (a timedelta schedule drifts across restarts). Apps call
``ensure_periodic_task`` from a ``post_migrate`` handler; running it again updates the entry
in place (by name) and never creates a second one.
"""

from django.conf import settings

# Every periodic task core owns: name → (task, crontab fields).
CORE_SCHEDULE = {
    "core.apply_retention": ("core.tasks.apply_retention", {"minute": "30", "hour": "3"}),
}


def ensure_periodic_task(name: str, task: str, *, using: str = "default", **crontab) -> None:
    """Create or update the periodic task ``name`` running ``task`` on ``crontab``
    (``minute``, ``hour``, ``day_of_week``, ``day_of_month``, ``month_of_year``; ``*`` default).
    """
    from django_celery_beat.models import CrontabSchedule, PeriodicTask

    fields = {
        "minute": "*",
        "hour": "*",
        "day_of_week": "*",
        "day_of_month": "*",
        "month_of_year": "*",
        **crontab,
    }
    schedule, _ = CrontabSchedule.objects.using(using).get_or_create(
        **fields, timezone=settings.TIME_ZONE
    )
    PeriodicTask.objects.using(using).update_or_create(
        name=name, defaults={"task": task, "crontab": schedule, "interval": None}
    )


def ensure_core_schedule(sender=None, using="default", **kwargs) -> None:
    """``post_migrate`` handler: core's periodic tasks exist after every ``migrate``."""
    from django.db import connections

    tables = connections[using].introspection.table_names()
    if "django_celery_beat_periodictask" not in tables:
        return
    for name, (task, crontab) in CORE_SCHEDULE.items():
        ensure_periodic_task(name, task, using=using, **crontab)
