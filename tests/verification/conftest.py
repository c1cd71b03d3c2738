"""Fixtures for verification: officers with units, plans, pledges in bulk."""

import datetime as dt
import itertools
from decimal import Decimal

import pytest
from django.utils import timezone

from accounts import roles
from pledges.models import Pledge, PledgeStatus
from tests.factories import MatterFactory, PersonFactory, UnitFactory, make_staff
from verification import services
from verification.models import SpotCheckPlan

_numbers = itertools.count(1)


def make_pledges(matter, n, *, person=None, signed_at=None, clerk=None, town=None, status=None):
    """``n`` pledges of ``matter`` written straight to the table (no signing ceremony)."""
    template = matter.current_template()
    person = person or PersonFactory()
    signed_at = signed_at or timezone.now() - dt.timedelta(hours=1)
    rows = [
        Pledge(
            number=f"CN-2025-{next(_numbers):06d}",
            matter=matter,
            template=template,
            person=person,
            clerk=clerk,
            applicant_name=person.name,
            applicant_town=town,
            channel="window" if clerk else "online",
            status=status or PledgeStatus.SIGNED,
            content={"title": matter.name},
            content_sha256="0" * 64,
            statements_accepted=True,
            signed_at=signed_at,
        )
        for _ in range(n)
    ]
    return Pledge.objects.bulk_create(rows)


def make_plan(*, matter=None, risk_level="", ratio="0.10", minimum=1, **kwargs):
    plan = SpotCheckPlan(
        name=kwargs.pop("name", f"plan {matter or risk_level}"),
        matter=matter,
        risk_level=risk_level,
        ratio=Decimal(ratio),
        minimum=minimum,
        **kwargs,
    )
    return services.plan_save(plan=plan)


@pytest.fixture
def officers(db):
    """Three verification officers in a department and one in a town."""
    department = UnitFactory(code="SF", name="市司法局")
    town = UnitFactory(code="419001-Z01", name="克井镇", kind="town")
    return [
        make_staff(roles.VERIFICATION_OFFICER, "officer-a", unit=department),
        make_staff(roles.VERIFICATION_OFFICER, "officer-b", unit=department),
        make_staff(roles.VERIFICATION_OFFICER, "officer-c", unit=department),
        make_staff(roles.VERIFICATION_OFFICER, "officer-town", unit=town),
    ]


@pytest.fixture
def supervisor(db):
    return make_staff(roles.VERIFICATION_SUPERVISOR, "supervisor")


@pytest.fixture
def matter(db):
    return MatterFactory(verification_methods=["data_check", "written", "onsite"])
