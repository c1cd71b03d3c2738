"""Publication and repair periods of a confirmed record (DOMAIN.md §3). Pure functions.

Periods run from the decision date. Publication starts that day; repair may be applied for
from the day the minimum period is reached; publication ends by itself on the day the maximum
period is reached (the record is active up to the day before).
"""

import calendar
import datetime as dt
from dataclasses import dataclass

from . import conf


def add_months(day: dt.date, months: int) -> dt.date:
    """``day`` plus whole months; the 31st of a shorter month becomes its last day."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


@dataclass(frozen=True)
class Periods:
    published: bool
    starts_on: dt.date
    repair_possible_on: dt.date
    ends_on: dt.date


def periods_for(severity: str, decided_on: dt.date) -> Periods:
    """The windows for a record of ``severity`` decided on ``decided_on`` (configurable table)."""
    table = conf.periods()
    if severity not in table:
        raise ValueError(f"unknown severity {severity!r}")
    row = table[severity]
    min_months = int(row.get("min_months") or 0)
    max_months = int(row["max_months"])
    if not 0 <= min_months <= max_months:
        raise ValueError(f"bad period table for {severity!r}: min must lie within 0..max")
    return Periods(
        published=bool(row.get("published", False)),
        starts_on=decided_on,
        repair_possible_on=add_months(decided_on, min_months),
        ends_on=add_months(decided_on, max_months),
    )
