"""The verification app's daily beat entries (django-celery-beat's database scheduler).

Crontab in Asia/Shanghai. Idempotent: get_or_create by name, so a schedule edited in the admin
is left as it is. Each spot-check plan gets its own entry when it is saved.
"""

from zoneinfo import ZoneInfo

from django.db import migrations

ENTRIES = [
    # name, task, minute, hour
    ("verification: promises past their deadline", "verification.tasks.check_promise_deadlines", "20", "1"),
    ("verification: flag overdue check tasks", "verification.tasks.flag_overdue_tasks", "40", "7"),
    ("verification: finish draw follow-ups", "verification.tasks.follow_up_pending_draws", "50", "1"),
]


def register(apps, schema_editor):
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    zone = ZoneInfo("Asia/Shanghai")
    for name, task, minute, hour in ENTRIES:
        schedule, _ = CrontabSchedule.objects.get_or_create(
            minute=minute,
            hour=hour,
            day_of_week="*",
            day_of_month="*",
            month_of_year="*",
            timezone=zone,
        )
        PeriodicTask.objects.get_or_create(
            name=name, defaults={"task": task, "crontab": schedule, "enabled": True}
        )


def unregister(apps, schema_editor):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTask.objects.filter(name__in=[entry[0] for entry in ENTRIES]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("verification", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(register, unregister)]
