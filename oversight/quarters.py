"""Quarters (季度) as ``2026Q4``: parsing, bounds, the one a day falls in, their months."""

import datetime as dt
import re

_QUARTER = re.compile(r"^(?P<year>\d{4})Q(?P<number>[1-4])$")


class InvalidQuarter(ValueError):
    pass


def parse(value: str) -> str:
    """Normalise ``2026q4`` / ``2026-Q4`` to ``2026Q4``; raise ``InvalidQuarter`` otherwise."""
    text = (value or "").strip().upper().replace("-", "")
    match = _QUARTER.match(text)
    if not match or not 2000 <= int(match["year"]) <= 2100:
        raise InvalidQuarter(value)
    return text


def of(day: dt.date) -> str:
    return f"{day.year}Q{(day.month - 1) // 3 + 1}"


def bounds(quarter: str) -> tuple[dt.date, dt.date]:
    """First and last day of the quarter."""
    quarter = parse(quarter)
    year, number = int(quarter[:4]), int(quarter[5])
    first = dt.date(year, 3 * number - 2, 1)
    if number == 4:
        return first, dt.date(year, 12, 31)
    return first, dt.date(year, 3 * number + 1, 1) - dt.timedelta(days=1)


def previous(quarter: str) -> str:
    first, _ = bounds(quarter)
    return of(first - dt.timedelta(days=1))


def months(quarter: str) -> list[dt.date]:
    """The first day of each of the quarter's three months."""
    first, _ = bounds(quarter)
    return [first.replace(month=first.month + offset) for offset in range(3)]


def recent(quarter: str, count: int = 8) -> list[str]:
    """``quarter`` and the ``count - 1`` before it, newest first (for a quarter picker)."""
    result = [parse(quarter)]
    while len(result) < count:
        result.append(previous(result[-1]))
    return result
