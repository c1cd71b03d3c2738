"""The back office: the catalog administrator keeps plans in the admin, and saving one keeps
its django-celery-beat crontab in step; draws and tasks are read-only there."""

import pytest
from django_celery_beat.models import PeriodicTask

from accounts import roles
from tests.factories import MatterFactory, login_staff, make_staff
from tests.verification.conftest import make_plan, make_pledges
from verification.demo import grant_catalog_admin_permissions
from verification.models import Draw, SpotCheckPlan

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    grant_catalog_admin_permissions()
    login_staff(client, make_staff(roles.CATALOG_ADMIN, "catalog-admin"))
    return client


def test_the_catalog_administrator_adds_a_plan_and_its_crontab_appears(admin_client):
    matter = MatterFactory()
    response = admin_client.post(
        "/admin/verification/spotcheckplan/add/",
        {
            "name": "低保抽查",
            "matter": matter.pk,
            "risk_level": "",
            "ratio": "0.30",
            "minimum": "2",
            "method": "",
            "officers_onsite": "2",
            "credit_weight": "2.00",
            "cadence": "monthly",
            "active": "on",
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    plan = SpotCheckPlan.objects.get()
    task = PeriodicTask.objects.get(pk=plan.periodic_task_id)
    assert task.crontab.day_of_month == "1"
    listing = admin_client.get("/admin/verification/spotcheckplan/").content.decode()
    assert f"/admin/django_celery_beat/periodictask/{task.pk}/change/" in listing


def test_draws_are_read_only_in_the_admin(admin_client, officers):
    matter = MatterFactory()
    make_pledges(matter, 3)
    from verification import services

    draw = services.draw_execute(plan=make_plan(matter=matter, ratio="1"))
    assert admin_client.get(f"/admin/verification/draw/{draw.pk}/change/").status_code == 200
    admin_client.post(f"/admin/verification/draw/{draw.pk}/delete/", {"post": "yes"})
    assert Draw.objects.filter(pk=draw.pk).exists()


def test_the_admin_action_draws_now(admin_client, officers):
    matter = MatterFactory()
    make_pledges(matter, 4)
    plan = make_plan(matter=matter, ratio="0.5")
    admin_client.post(
        "/admin/verification/spotcheckplan/",
        {"action": "draw_now", "_selected_action": [plan.pk]},
    )
    assert Draw.objects.get(plan=plan).drawn_count == 2
