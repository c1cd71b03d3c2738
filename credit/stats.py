"""Counts of credit records, objections and repairs over a period, for the quarterly report.

Read-only, grouped in the database. A record is counted in the period its decision falls in
(``decided_on``), by severity, matter name (copied onto the record when it was written) and
the person's town or street. Periods are calendar days in the local time zone, both ends
included.
"""

import datetime as dt

from django.db.models import Count, F
from django.utils import timezone

from .models import DECIDED_STATES, CreditRecord, Objection, RepairApplication


def _span(start: dt.date, end: dt.date) -> tuple[dt.datetime, dt.datetime]:
    zone = timezone.get_current_timezone()
    begin = dt.datetime.combine(start, dt.time.min, tzinfo=zone)
    stop = dt.datetime.combine(end + dt.timedelta(days=1), dt.time.min, tzinfo=zone)
    return begin, stop


def records_decided(start: dt.date, end: dt.date) -> list[dict]:
    """Records decided in the period: ``severity``, ``matter_name``, ``town_code``,
    ``town_name``, ``count``."""
    rows = (
        CreditRecord.objects.filter(
            decided_on__gte=start, decided_on__lte=end, state__in=DECIDED_STATES
        )
        .annotate(town_code=F("person__town__code"), town_name=F("person__town__name"))
        .values("severity", "matter_name", "town_code", "town_name")
        .annotate(count=Count("id"))
        .order_by()
    )
    return list(rows)


def objections_and_repairs(start: dt.date, end: dt.date) -> dict[str, int]:
    """Objections and repair applications filed and decided in the period, and how many of
    each are overdue today."""
    begin, stop = _span(start, end)
    objections = Objection.objects
    repairs = RepairApplication.objects
    return {
        "objections_filed": objections.filter(filed_at__gte=begin, filed_at__lt=stop).count(),
        "objections_upheld": objections.filter(
            status=Objection.Status.UPHELD, decided_at__gte=begin, decided_at__lt=stop
        ).count(),
        "objections_rejected": objections.filter(
            status=Objection.Status.REJECTED, decided_at__gte=begin, decided_at__lt=stop
        ).count(),
        "objections_overdue": objections.filter(status=Objection.Status.OPEN, overdue=True).count(),
        "repairs_applied": repairs.filter(applied_at__gte=begin, applied_at__lt=stop).count(),
        "repairs_approved": repairs.filter(
            status=RepairApplication.Status.APPROVED, decided_at__gte=begin, decided_at__lt=stop
        ).count(),
        "repairs_rejected": repairs.filter(
            status=RepairApplication.Status.REJECTED, decided_at__gte=begin, decided_at__lt=stop
        ).count(),
        "repairs_overdue": repairs.filter(
            status=RepairApplication.Status.PENDING, overdue=True
        ).count(),
    }


def severity_labels() -> dict[str, str]:
    from .models import Severity

    return {value: str(label) for value, label in Severity.choices}
