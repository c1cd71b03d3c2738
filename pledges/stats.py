"""Counts of pledges and certificate choices over a period, for the quarterly report.

Read-only, grouped in the database. Each function returns plain dicts keyed by the matter, its
department, the applicant's town or street, the channel and the month, so the report can
sum them along any of those without another query. Periods are calendar days in the local
time zone, both ends included.
"""

import datetime as dt

from django.db.models import Count, F
from django.db.models.functions import TruncMonth
from django.utils import timezone

from .models import CertificateChoice, Pledge, PledgeStatus


def _span(start: dt.date, end: dt.date) -> tuple[dt.datetime, dt.datetime]:
    zone = timezone.get_current_timezone()
    begin = dt.datetime.combine(start, dt.time.min, tzinfo=zone)
    stop = dt.datetime.combine(end + dt.timedelta(days=1), dt.time.min, tzinfo=zone)
    return begin, stop


def _grouped(queryset, when: str, town: str) -> list[dict]:
    rows = (
        queryset.annotate(
            month=TruncMonth(when),
            matter_code=F("matter__code"),
            matter_name=F("matter__name"),
            department_code=F("matter__department__code"),
            department_name=F("matter__department__name"),
            town_code=F(f"{town}__code"),
            town_name=F(f"{town}__name"),
        )
        .values(
            "month",
            "matter_code",
            "matter_name",
            "department_code",
            "department_name",
            "town_code",
            "town_name",
            "channel",
        )
        .annotate(count=Count("id"))
        .order_by()
    )
    result = []
    for row in rows:
        month = row["month"]
        if isinstance(month, dt.datetime):
            month = timezone.localtime(month).date() if timezone.is_aware(month) else month.date()
        row["month"] = month.replace(day=1) if month else None
        result.append(row)
    return result


def pledges_signed(start: dt.date, end: dt.date) -> list[dict]:
    """Pledges signed in the period, grouped (``channel``: online or window)."""
    begin, stop = _span(start, end)
    queryset = Pledge.objects.filter(signed_at__gte=begin, signed_at__lt=stop)
    return _grouped(queryset, "signed_at", "applicant_town")


def pledges_withdrawn(start: dt.date, end: dt.date) -> list[dict]:
    """Pledges withdrawn in the period (by when they were withdrawn)."""
    begin, stop = _span(start, end)
    queryset = Pledge.objects.filter(
        status=PledgeStatus.WITHDRAWN, withdrawn_at__gte=begin, withdrawn_at__lt=stop
    )
    return _grouped(queryset, "withdrawn_at", "applicant_town")


def certificates_chosen(start: dt.date, end: dt.date) -> list[dict]:
    """Times an applicant chose to bring the certificate instead of pledging."""
    begin, stop = _span(start, end)
    queryset = CertificateChoice.objects.filter(chosen_at__gte=begin, chosen_at__lt=stop)
    return _grouped(queryset, "chosen_at", "person__town")


def pledge_status_counts(start: dt.date, end: dt.date) -> dict[str, int]:
    """Pledges signed in the period, by their status today."""
    begin, stop = _span(start, end)
    rows = (
        Pledge.objects.filter(signed_at__gte=begin, signed_at__lt=stop)
        .values("status")
        .annotate(count=Count("id"))
        .order_by()
    )
    return {row["status"]: row["count"] for row in rows}
