"""Demo data for verification: one spot-check plan per risk level with minimum 1 (so a draw
run by hand on the demo always draws something), a second officer (on-site checks need two),
the local registry the data-check adapter reads, and the catalog administrator's rights.

Called by ``manage.py load_demo`` (``load``); ``load_demo_plans`` is idempotent on its own.
"""

from django.contrib.auth.models import Group, Permission
from django.db import transaction

from accounts import roles
from accounts.models import User
from pledges.models import RiskLevel

from . import services
from .adapters import load_registry_csv
from .models import DEFAULT_RATIOS, Cadence, SpotCheckPlan

DEMO_OFFICER = ("demo-officer2", "核查演示员二", "PA")
PLAN_NAMES = {
    RiskLevel.LOW: "低风险事项抽查（演示）",
    RiskLevel.MEDIUM: "中风险事项抽查（演示）",
    RiskLevel.HIGH: "较高风险事项抽查（演示）",
    RiskLevel.VERY_HIGH: "高风险事项抽查（演示）",
}

CATALOG_ADMIN_MODELS = ("spotcheckplan", "promiseterm", "datasource", "registryrecord")
CATALOG_ADMIN_VIEW_ONLY = ("draw", "checktask")


def load_demo_plans() -> int:
    """One plan per risk level (ratios 1/2/10/30 %, minimum 1, weekly); returns how many new."""
    created = 0
    for level in RiskLevel:
        if SpotCheckPlan.objects.filter(matter__isnull=True, risk_level=level).exists():
            continue
        plan = SpotCheckPlan(
            name=PLAN_NAMES[level],
            risk_level=level,
            ratio=DEFAULT_RATIOS[level],
            minimum=1,
            cadence=Cadence.WEEKLY,
        )
        services.plan_save(plan=plan)
        created += 1
    return created


def load_second_officer() -> int:
    """A second verification officer, so demo on-site checks can have two."""
    from accounts.demo import DEMO_PASSWORD
    from accounts.services import account_upsert

    username, real_name, unit = DEMO_OFFICER
    if User.objects.filter(username=username).exists():
        return 0
    account_upsert(
        username=username,
        role=roles.VERIFICATION_OFFICER,
        password=DEMO_PASSWORD,
        real_name=real_name,
        unit_code=unit,
    )
    return 1


def grant_catalog_admin_permissions() -> int:
    group = Group.objects.get(name=roles.CATALOG_ADMIN)
    wanted = Permission.objects.filter(
        content_type__app_label="verification", content_type__model__in=CATALOG_ADMIN_MODELS
    ) | Permission.objects.filter(
        content_type__app_label="verification",
        content_type__model__in=CATALOG_ADMIN_VIEW_ONLY,
        codename__startswith="view_",
    )
    missing = list(wanted.exclude(pk__in=group.permissions.values("pk")))
    group.permissions.add(*missing)
    return len(missing)


def load(stdout=None) -> dict[str, int]:
    with transaction.atomic():
        return {
            "spot-check plans": load_demo_plans(),
            "second officer": load_second_officer(),
            "registry records": load_registry_csv(),
            "verification admin permissions": grant_catalog_admin_permissions(),
        }
