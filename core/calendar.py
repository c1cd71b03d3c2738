"""The working-day calendar (工作日): weekends plus the holiday table kept in the admin."""

import datetime as dt


def _exceptions(start: dt.date, end: dt.date) -> dict[dt.date, bool]:
    from .models import Holiday

    return dict(
        Holiday.objects.filter(date__gte=start, date__lte=end).values_list("date", "is_working_day")
    )


def is_working_day(day: dt.date) -> bool:
    special = _exceptions(day, day)
    if day in special:
        return special[day]
    return day.weekday() < 5


def add_working_days(start: dt.date, days: int) -> dt.date:
    """The date ``days`` working days after ``start`` (``start`` itself not counted)."""
    if days < 0:
        raise ValueError("days must not be negative")
    # Holidays rarely exceed a few weeks: one generous window per query, another if the
    # count runs past it.
    special: dict[dt.date, bool] = {}
    loaded_to = start
    current = start
    remaining = days
    while remaining:
        current += dt.timedelta(days=1)
        if current > loaded_to:
            loaded_to = current + dt.timedelta(days=days * 2 + 60)
            special.update(_exceptions(current, loaded_to))
        working = special.get(current, current.weekday() < 5)
        if working:
            remaining -= 1
    return current


def working_days_between(start: dt.date, end: dt.date) -> int:
    """Working days after ``start`` up to and including ``end``."""
    if end <= start:
        return 0
    special = _exceptions(start, end)
    count = 0
    current = start
    while current < end:
        current += dt.timedelta(days=1)
        if special.get(current, current.weekday() < 5):
            count += 1
    return count
