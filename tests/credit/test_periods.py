"""Period arithmetic per severity (DOMAIN.md §3), from the decision date."""

import datetime as dt

import pytest
from freezegun import freeze_time

from credit.periods import add_months, periods_for
from tests.credit.factories import confirmed

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("severity", "published", "repair_from", "ends_on"),
    [
        ("minor", False, dt.date(2026, 3, 10), dt.date(2026, 6, 10)),
        ("general", True, dt.date(2026, 6, 10), dt.date(2027, 3, 10)),
        ("serious", True, dt.date(2027, 3, 10), dt.date(2029, 3, 10)),
    ],
)
def test_confirming_computes_windows_from_the_decision_date(
    resident, officer, severity, published, repair_from, ends_on
):
    with freeze_time("2026-03-10 10:00:00+08:00"):
        record = confirmed(resident.person, officer, severity=severity)
    assert record.decided_on == dt.date(2026, 3, 10)
    assert record.publication_starts_on == dt.date(2026, 3, 10)
    assert record.published is published
    assert record.repair_possible_on == repair_from
    assert record.publication_ends_on == ends_on


def test_decision_date_is_the_local_day_in_shanghai(resident, officer):
    # 23:30 UTC on 31 Dec is already 1 Jan in Asia/Shanghai.
    with freeze_time("2026-12-31 23:30:00+00:00"):
        record = confirmed(resident.person, officer, severity="general")
    assert record.decided_on == dt.date(2027, 1, 1)
    assert record.publication_ends_on == dt.date(2028, 1, 1)


def test_month_ends_are_clamped_to_the_shorter_month():
    assert add_months(dt.date(2026, 1, 31), 1) == dt.date(2026, 2, 28)
    assert add_months(dt.date(2027, 11, 30), 3) == dt.date(2028, 2, 29)
    assert add_months(dt.date(2028, 2, 29), 12) == dt.date(2029, 2, 28)
    assert add_months(dt.date(2026, 12, 15), 1) == dt.date(2027, 1, 15)


def test_general_decided_on_31_august_repairs_from_30_november():
    periods = periods_for("general", dt.date(2026, 8, 31))
    assert periods.repair_possible_on == dt.date(2026, 11, 30)
    assert periods.ends_on == dt.date(2027, 8, 31)


def test_the_table_is_configurable_per_severity(settings):
    settings.CHENGNUO_CREDIT_PERIODS = {"general": {"min_months": 6, "max_months": 24}}
    periods = periods_for("general", dt.date(2026, 1, 15))
    assert periods.repair_possible_on == dt.date(2026, 7, 15)
    assert periods.ends_on == dt.date(2028, 1, 15)
    assert periods.published is True  # untouched keys keep their defaults
    assert periods_for("serious", dt.date(2026, 1, 15)).ends_on == dt.date(2029, 1, 15)


def test_a_table_with_minimum_above_maximum_is_refused(settings):
    settings.CHENGNUO_CREDIT_PERIODS = {"minor": {"min_months": 4, "max_months": 3}}
    with pytest.raises(ValueError, match="min"):
        periods_for("minor", dt.date(2026, 1, 1))
