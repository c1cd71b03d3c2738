"""Counts of draws, finished checks and findings over a period, for the quarterly report.

Read-only, grouped in the database. A check counts as finished in the period its finding took
effect (after the countersignature where one is needed; the recording time otherwise), by
result, matter, the matter's department and the applicant's town or street. Periods are
calendar days in the local time zone, both ends included.
"""

import datetime as dt

from django.db.models import Count, F
from django.db.models.functions import Coalesce
from django.utils import timezone

from .models import CheckTask, Draw, Finding, FindingResult, TaskStatus


def _span(start: dt.date, end: dt.date) -> tuple[dt.datetime, dt.datetime]:
    zone = timezone.get_current_timezone()
    begin = dt.datetime.combine(start, dt.time.min, tzinfo=zone)
    stop = dt.datetime.combine(end + dt.timedelta(days=1), dt.time.min, tzinfo=zone)
    return begin, stop


def draws(start: dt.date, end: dt.date) -> int:
    begin, stop = _span(start, end)
    return Draw.objects.filter(drawn_at__gte=begin, drawn_at__lt=stop).count()


def checks_finished(start: dt.date, end: dt.date) -> list[dict]:
    """Finished checks: ``result``, ``is_false``, the matter, department and town, ``count``."""
    begin, stop = _span(start, end)
    rows = (
        Finding.objects.filter(task__status=TaskStatus.DONE)
        .annotate(finished_at=Coalesce("effective_at", "recorded_at"))
        .filter(finished_at__gte=begin, finished_at__lt=stop)
        .annotate(
            matter_code=F("task__matter__code"),
            matter_name=F("task__matter__name"),
            department_code=F("task__matter__department__code"),
            department_name=F("task__matter__department__name"),
            town_code=F("task__pledge__applicant_town__code"),
            town_name=F("task__pledge__applicant_town__name"),
        )
        .values(
            "result",
            "matter_code",
            "matter_name",
            "department_code",
            "department_name",
            "town_code",
            "town_name",
        )
        .annotate(count=Count("id"))
        .order_by()
    )
    return [{**row, "is_false": row["result"] == FindingResult.FALSE} for row in rows]


def overdue_checks(today: dt.date | None = None) -> int:
    """Check tasks not finished by their due date, today."""
    today = today or timezone.localdate()
    return CheckTask.objects.exclude(status=TaskStatus.DONE).filter(due_date__lt=today).count()


def result_labels() -> dict[str, str]:
    return {value: str(label) for value, label in FindingResult.choices}
