"""The working-day calendar: weekends, public holidays and weekend days worked (调休)."""

import datetime as dt

import pytest

from core.calendar import add_working_days, is_working_day, working_days_between
from core.models import Holiday

pytestmark = pytest.mark.django_db

MONDAY = dt.date(2026, 3, 2)
FRIDAY = dt.date(2026, 3, 6)
SATURDAY = dt.date(2026, 3, 7)


def test_weekdays_work_and_weekends_rest():
    assert all(is_working_day(MONDAY + dt.timedelta(days=n)) for n in range(5))
    assert not is_working_day(SATURDAY)
    assert not is_working_day(SATURDAY + dt.timedelta(days=1))


def test_a_holiday_on_a_weekday_is_not_worked_and_a_swapped_weekend_day_is():
    Holiday.objects.create(date=dt.date(2026, 10, 1), name="国庆节")
    Holiday.objects.create(date=dt.date(2026, 10, 10), name="调休上班", is_working_day=True)
    assert not is_working_day(dt.date(2026, 10, 1))  # a Thursday
    assert is_working_day(dt.date(2026, 10, 10))  # a Saturday


def test_adding_working_days_skips_weekends():
    assert add_working_days(MONDAY, 0) == MONDAY
    assert add_working_days(MONDAY, 4) == FRIDAY
    assert add_working_days(FRIDAY, 1) == dt.date(2026, 3, 9)
    assert add_working_days(SATURDAY, 1) == dt.date(2026, 3, 9)
    assert add_working_days(MONDAY, 10) == dt.date(2026, 3, 16)


def test_adding_working_days_skips_holidays_and_counts_swapped_days():
    # National Day week 2026: 1-7 October off; Saturday 10 October worked.
    for day in range(1, 8):
        Holiday.objects.get_or_create(date=dt.date(2026, 10, day), defaults={"name": "国庆节"})
    Holiday.objects.create(date=dt.date(2026, 10, 10), name="调休上班", is_working_day=True)
    assert add_working_days(dt.date(2026, 9, 30), 1) == dt.date(2026, 10, 8)
    assert add_working_days(dt.date(2026, 9, 30), 3) == dt.date(2026, 10, 10)
    assert add_working_days(dt.date(2026, 9, 30), 4) == dt.date(2026, 10, 12)


def test_a_long_run_of_holidays_beyond_the_first_window_is_still_seen():
    start = dt.date(2026, 1, 5)  # a Monday
    for n in range(1, 120):
        Holiday.objects.create(date=start + dt.timedelta(days=n), name="长假")
    assert add_working_days(start, 1) == start + dt.timedelta(days=120)


def test_negative_working_days_are_refused():
    with pytest.raises(ValueError):
        add_working_days(MONDAY, -1)


def test_working_days_between_counts_after_start_up_to_end():
    assert working_days_between(MONDAY, MONDAY) == 0
    assert working_days_between(FRIDAY, MONDAY) == 0
    assert working_days_between(MONDAY, FRIDAY) == 4
    assert working_days_between(FRIDAY, dt.date(2026, 3, 9)) == 1
    Holiday.objects.create(date=dt.date(2026, 3, 4), name="假日")
    assert working_days_between(MONDAY, FRIDAY) == 3


@pytest.mark.parametrize("days", [0, 1, 5, 20, 61])
def test_adding_then_counting_agree(days):
    Holiday.objects.create(date=dt.date(2026, 3, 10), name="假日")
    Holiday.objects.create(date=dt.date(2026, 3, 14), name="调休上班", is_working_day=True)
    end = add_working_days(MONDAY, days)
    assert working_days_between(MONDAY, end) == days
