"""``manage.py load_demo``: the demo data of every app, idempotently.

Each app that has demo data keeps it in a ``demo`` module with a ``load(stdout)`` function
returning how many rows of each kind it created. The command calls them in the order of
``INSTALLED_APPS`` (which is the order of the layers: core, accounts, credit, pledges, ...),
so ``core`` imports nothing from the apps above it. Loaders create what is missing and never
overwrite, so a second run creates nothing.

Refused under production settings: demo accounts share one published password.
"""

import datetime as dt
from importlib import import_module
from pathlib import Path

from django.apps import apps
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils.module_loading import module_has_submodule

from core.models import Holiday

# Statutory public holidays (法定节假日, 《全国年节及纪念日放假办法》 as amended in 2024) on dates
# that do not depend on a yearly announcement or that we are sure of. The bridging days and the
# weekend days worked in exchange (调休) come from the State Council's notice each year and are
# entered in the admin.
DEMO_HOLIDAYS = (
    (dt.date(2026, 1, 1), "元旦"),
    (dt.date(2026, 2, 16), "春节（除夕）"),
    (dt.date(2026, 2, 17), "春节"),
    (dt.date(2026, 2, 18), "春节"),
    (dt.date(2026, 2, 19), "春节"),
    (dt.date(2026, 4, 5), "清明节"),
    (dt.date(2026, 5, 1), "劳动节"),
    (dt.date(2026, 5, 2), "劳动节"),
    (dt.date(2026, 6, 19), "端午节"),
    (dt.date(2026, 9, 25), "中秋节"),
    (dt.date(2026, 10, 1), "国庆节"),
    (dt.date(2026, 10, 2), "国庆节"),
    (dt.date(2026, 10, 3), "国庆节"),
    (dt.date(2027, 1, 1), "元旦"),
    (dt.date(2027, 2, 5), "春节（除夕）"),
    (dt.date(2027, 2, 6), "春节"),
    (dt.date(2027, 2, 7), "春节"),
    (dt.date(2027, 2, 8), "春节"),
    (dt.date(2027, 5, 1), "劳动节"),
    (dt.date(2027, 5, 2), "劳动节"),
    (dt.date(2027, 10, 1), "国庆节"),
    (dt.date(2027, 10, 2), "国庆节"),
    (dt.date(2027, 10, 3), "国庆节"),
)


def load_holidays() -> int:
    created = 0
    for day, name in DEMO_HOLIDAYS:
        _, was_created = Holiday.objects.get_or_create(date=day, defaults={"name": name})
        created += was_created
    return created


def demo_modules():
    """The ``demo`` module of every project app that has one, lowest layer first."""
    project = Path(settings.BASE_DIR).resolve()
    for app_config in apps.get_app_configs():
        if Path(app_config.path).resolve().parent != project:
            continue  # third-party apps live elsewhere (the venv may sit in the checkout)
        if module_has_submodule(app_config.module, "demo"):
            yield app_config.label, import_module(f"{app_config.name}.demo")


class Command(BaseCommand):
    help = "Load the demo data (units, registry, accounts, catalog, holidays); safe to repeat."

    def handle(self, *args, **options):
        if not settings.CHENGNUO_DEMO_DATA_ALLOWED:
            raise CommandError("Demo data is not allowed under these settings (production).")
        with transaction.atomic():
            report = [("core", {"holidays": load_holidays()})]
            for label, module in demo_modules():
                report.append((label, module.load(stdout=self.stdout)))
        for label, counts in report:
            created = ", ".join(f"{count} {kind}" for kind, count in counts.items())
            self.stdout.write(f"{label}: created {created}")
