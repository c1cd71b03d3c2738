"""The oversight app's beat entries (django-celery-beat's database scheduler).

Crontab in Asia/Shanghai, so times do not drift across restarts. Idempotent: get_or_create by
name, so running it again (or a schedule edited in the admin) is left as it is.

- Overdue corrections are flagged every morning.
- The quarterly report is prepared at each quarter's end: 01:30 on the first day of January,
  April, July and October, for the quarter that has just ended (crontab has no "last day of
  the month", and the first hours of the next day see the quarter complete).
"""

from zoneinfo import ZoneInfo

from django.db import migrations

ENTRIES = [
    # name, task, minute, hour, day_of_month, month_of_year
    ("oversight: flag overdue corrections", "oversight.flag_overdue_complaints", "10", "8", "*", "*"),
    (
        "oversight: prepare the quarterly report",
        "oversight.prepare_quarterly_report",
        "30",
        "1",
        "1",
        "1,4,7,10",
    ),
]


def register(apps, schema_editor):
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    zone = ZoneInfo("Asia/Shanghai")
    for name, task, minute, hour, day_of_month, month_of_year in ENTRIES:
        schedule, _ = CrontabSchedule.objects.get_or_create(
            minute=minute,
            hour=hour,
            day_of_week="*",
            day_of_month=day_of_month,
            month_of_year=month_of_year,
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
        ("oversight", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(register, unregister)]
