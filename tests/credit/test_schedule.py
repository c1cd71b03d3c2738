"""The credit app's daily work is on beat's database schedule, as crontab in Asia/Shanghai."""

import pytest
from django_celery_beat.models import PeriodicTask

pytestmark = pytest.mark.django_db

EXPECTED = {
    "credit.verify_ledger",
    "credit.checkpoint_ledger",
    "credit.expire_records",
    "credit.flag_overdue",
    "credit.push_records",
}


def test_every_credit_task_is_scheduled_by_crontab_in_shanghai():
    tasks = PeriodicTask.objects.filter(task__startswith="credit.").select_related("crontab")
    assert {t.task for t in tasks} == EXPECTED
    for task in tasks:
        assert task.enabled
        assert task.interval_id is None
        assert str(task.crontab.timezone) == "Asia/Shanghai"


def test_the_scheduled_names_are_registered_celery_tasks():
    from config.celery import app

    app.loader.import_default_modules()
    assert set(app.tasks) >= EXPECTED


def test_registering_again_changes_nothing():
    import importlib

    from django.apps import apps

    migration = importlib.import_module("credit.migrations.0003_beat_schedule")
    before = PeriodicTask.objects.count()
    migration.register(apps, None)
    assert PeriodicTask.objects.count() == before
