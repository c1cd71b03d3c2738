"""The credit app's daily beat entries (django-celery-beat's database scheduler).

Crontab in Asia/Shanghai, so times do not drift across restarts. Idempotent: get_or_create by
name, so running it again (or a schedule edited in the admin) is left as it is.
"""

from zoneinfo import ZoneInfo

from django.db import migrations

ENTRIES = [
    # name, task, minute, hour
    ("credit: ledger checkpoint", "credit.checkpoint_ledger", "5", "0"),
    ("credit: expire records", "credit.expire_records", "15", "0"),
    ("credit: verify ledger", "credit.verify_ledger", "30", "2"),
    ("credit: flag overdue objections and repairs", "credit.flag_overdue", "0", "8"),
    ("credit: retry pushes", "credit.push_records", "*/15", "*"),
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
        ("credit", "0002_ledger_append_only"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(register, unregister)]
