"""Demo data: one plan per risk level with minimum 1, so a hand-run draw always draws."""

import io

import pytest
from django.core.management import call_command

from accounts.models import User
from pledges.models import Matter
from tests.factories import sign_pledge
from verification.demo import load_demo_plans
from verification.models import DEFAULT_RATIOS, CheckTask, RegistryRecord, SpotCheckPlan

pytestmark = pytest.mark.django_db


def test_demo_plans_cover_each_risk_level_and_a_hand_run_draw_draws_something():
    call_command("load_demo", stdout=io.StringIO())
    plans = SpotCheckPlan.objects.filter(matter__isnull=True)
    assert {p.risk_level: p.ratio for p in plans} == DEFAULT_RATIOS
    assert {p.minimum for p in plans} == {1}
    assert all(p.periodic_task and p.periodic_task.crontab for p in plans)
    assert load_demo_plans() == 0  # idempotent
    assert RegistryRecord.objects.count() == 10
    assert User.objects.filter(username="demo-officer2").exists()

    resident = User.objects.get(username="demo-resident")
    matter = next(m for m in Matter.objects.all() if m.accepts_pledges and m.current_template())
    pledge = sign_pledge(resident, matter)
    out = io.StringIO()
    call_command("run_draws", stdout=out)
    task = CheckTask.objects.get(pledge=pledge)
    assert task.lead is not None
    assert "1 pledges drawn" in out.getvalue()

    second = io.StringIO()
    call_command("load_demo", stdout=second)
    assert "verification: created 0 spot-check plans, 0 second officer, 0 registry records" in (
        second.getvalue()
    )
