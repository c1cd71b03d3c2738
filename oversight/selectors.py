"""Reads of the oversight app, for its pages, its API and the quarterly report.

The other apps are read through their selectors and ``stats`` modules only.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from accounts import roles
from accounts import selectors as accounts_selectors
from accounts.models import Unit, User
from core.tokens import check_token, make_token
from credit import stats as credit_stats
from pledges import selectors as pledge_selectors
from pledges import stats as pledge_stats
from verification import stats as verification_stats

from . import quarters
from .models import (
    CatalogList,
    Complaint,
    ComplaintChannel,
    ComplaintStatus,
    ServiceGuide,
)

TRACK_PURPOSE = "complaint-track"


# ---- people and units ------------------------------------------------------------------


def department_codes() -> list[str]:
    return list(accounts_selectors.departments().values_list("code", flat=True))


def unit_staff(unit: Unit) -> QuerySet[User]:
    return User.objects.filter(unit=unit, is_active=True).exclude(groups__name=roles.RESIDENT)


def oversight_officers() -> QuerySet[User]:
    return User.objects.filter(is_active=True, groups__name=roles.OVERSIGHT_OFFICER).distinct()


# ---- service guides --------------------------------------------------------------------


def guide_list(*, search: str = "", disposition: str = "", department: str = "") -> QuerySet:
    """Published guides, searchable by matter, code, certificate or department."""
    matters = pledge_selectors.matter_list(
        search=search, department=department, disposition=disposition
    )
    return (
        ServiceGuide.objects.filter(
            status=ServiceGuide.Status.PUBLISHED, matter__in=matters.values("pk")
        )
        .select_related("matter", "matter__department")
        .order_by("matter__code")
    )


def guide_for(code: str, *, include_drafts: bool = False) -> ServiceGuide | None:
    qs = ServiceGuide.objects.select_related("matter", "matter__department").prefetch_related(
        "materials", "questions"
    )
    if not include_drafts:
        qs = qs.filter(status=ServiceGuide.Status.PUBLISHED)
    return qs.filter(matter__code=code).first()


def guide_sign_path(guide: ServiceGuide) -> str | None:
    """Where a resident signs the pledge that replaces this matter's certificate, if any."""
    if pledge_selectors.matter_is_pledgeable(guide.matter):
        return f"/matters/{guide.matter.code}/"
    return None


# ---- catalog lists ---------------------------------------------------------------------


def lists_visible_to(user) -> QuerySet[CatalogList]:
    """The bureau sees every list; a list submitter those of their own unit (and of the units
    under it)."""
    qs = CatalogList.objects.select_related("unit", "submitted_by", "job")
    if roles.has_role(user, roles.OVERSIGHT_OFFICER):
        return qs
    if roles.has_role(user, roles.LIST_SUBMITTER) and user.unit_id:
        return qs.filter(unit_id__in=accounts_selectors.unit_scope_ids(user))
    return qs.none()


def list_for(user, pk) -> CatalogList | None:
    try:
        return lists_visible_to(user).filter(pk=int(pk)).first()
    except (TypeError, ValueError):
        return None


def list_errors(catalog_list: CatalogList) -> list[dict]:
    return [
        {"row": e.row_number, "column": e.column, "value": e.value, "message": e.message}
        for e in catalog_list.errors.all()
    ]


DIFF_FIELDS = (
    "name",
    "certificate",
    "disposition",
    "legal_basis",
    "department",
    "where_instead",
    "valid_from",
    "valid_to",
)


def _matter_values(matter) -> dict:
    return {
        "name": matter.name,
        "certificate": matter.certificate,
        "disposition": matter.disposition,
        "legal_basis": matter.legal_basis,
        "department": matter.department.code,
        "where_instead": matter.where_instead,
        "valid_from": matter.valid_from,
        "valid_to": matter.valid_to,
    }


def catalog_list_diff(catalog_list: CatalogList, *, limit: int | None = 200) -> dict:
    """What merging the list would change in the catalog.

    ``new`` and ``changed`` list up to ``limit`` rows each for display (``None``: all, with
    the matter objects, for the merge); ``counts`` counts them all. A row that leaves
    ``valid_from`` blank keeps the matter's. ``conflicts`` are rows the catalog could not
    take (an end date before the matter's start).
    """
    new, changed, conflicts = [], [], []
    new_rows, changed_rows = [], []
    counts = {"new": 0, "changed": 0, "unchanged": 0}
    rows = catalog_list.rows.order_by("row_number").values(
        "row_number", "code", *DIFF_FIELDS, "issuer"
    )
    batch: list[dict] = []

    def flush():
        codes = [row["code"] for row in batch]
        existing = {m.code: m for m in pledge_selectors.matter_list().filter(code__in=codes)}
        for row in batch:
            matter = existing.get(row["code"])
            start = row["valid_from"] or (matter.valid_from if matter else dt.date(2021, 1, 1))
            if row["valid_to"] and row["valid_to"] < start:
                conflicts.append(
                    {
                        "row": row["row_number"],
                        "code": row["code"],
                        "problem": "valid_to < valid_from",
                    }
                )
                continue
            if matter is None:
                counts["new"] += 1
                if limit is None:
                    new_rows.append(row)
                elif len(new) < limit:
                    new.append({"row": row["row_number"], "code": row["code"], "name": row["name"]})
                continue
            before = _matter_values(matter)
            changes = {}
            for key in DIFF_FIELDS:
                if key == "valid_from" and not row[key]:
                    continue
                if (before[key] or "") != (row[key] or ""):
                    changes[key] = [before[key], row[key]]
            if not changes:
                counts["unchanged"] += 1
                continue
            counts["changed"] += 1
            if limit is None:
                changed_rows.append((matter, row, changes))
            elif len(changed) < limit:
                changed.append(
                    {
                        "row": row["row_number"],
                        "code": row["code"],
                        "name": matter.name,
                        "changes": {
                            key: [_plain(old), _plain(value)]
                            for key, (old, value) in changes.items()
                        },
                    }
                )
        batch.clear()

    for row in rows.iterator(chunk_size=2000):
        batch.append(row)
        if len(batch) >= 500:
            flush()
    if batch:
        flush()
    return {
        "counts": counts,
        "new": new,
        "changed": changed,
        "conflicts": conflicts,
        "new_rows": new_rows,
        "changed_rows": changed_rows,
    }


def _plain(value):
    return value.isoformat() if isinstance(value, dt.date) else value


def catalog_rows(*, department: str = "", disposition: str = "") -> list[dict]:
    """The city's catalog in the list format, for the XLSX and PDF exports."""
    matters = pledge_selectors.matter_list(department=department, disposition=disposition)
    return [
        {
            "code": m.code,
            "name": m.name,
            "certificate": m.certificate,
            "disposition": m.disposition,
            "disposition_display": m.get_disposition_display(),
            "legal_basis": m.legal_basis,
            "department": m.department.code,
            "department_name": m.department.name,
            "issuer": "",
            "where_instead": m.where_instead,
            "valid_from": m.valid_from,
            "valid_to": m.valid_to,
        }
        for m in matters.iterator(chunk_size=2000)
    ]


# ---- complaints ------------------------------------------------------------------------


def complaint_token(complaint: Complaint) -> str:
    return make_token(TRACK_PURPOSE, complaint.tracking_number)


def complaint_track_path(complaint: Complaint) -> str:
    return f"/complaints/track/{complaint.tracking_number}/{complaint_token(complaint)}/"


def complaint_by_token(number: str, token: str) -> Complaint | None:
    number = (number or "").strip().upper()
    if not check_token(TRACK_PURPOSE, number, (token or "").strip()):
        return None
    return Complaint.objects.filter(tracking_number=number).first()


def complaints_for_staff(
    user, *, status: str = "", overdue: bool | None = None, search: str = ""
) -> QuerySet[Complaint]:
    if not roles.has_role(user, roles.OVERSIGHT_OFFICER):
        return Complaint.objects.none()
    qs = Complaint.objects.select_related("superior", "matter")
    if status:
        qs = qs.filter(status=status)
    if overdue is True:
        qs = qs.filter(overdue_since__isnull=False, corrected_at__isnull=True)
    if search:
        qs = qs.filter(
            Q(tracking_number__icontains=search)
            | Q(agency__icontains=search)
            | Q(certificate__icontains=search)
        )
    return qs


def complaint_for_staff(user, number: str) -> Complaint | None:
    return complaints_for_staff(user).filter(tracking_number=(number or "").upper()).first()


def public_events(complaint: Complaint):
    return complaint.events.filter(public=True).order_by("at", "id")


def published_complaints() -> QuerySet[Complaint]:
    return Complaint.objects.filter(published_at__isnull=False).order_by("-published_at", "-id")


# ---- quarterly figures -----------------------------------------------------------------

SEVERITIES = ("minor", "general", "serious")


def _month_key(day: dt.date | None) -> str:
    return day.strftime("%Y-%m") if day else ""


def _trend_months(quarter: str, count: int = 12) -> list[dt.date]:
    _, end = quarters.bounds(quarter)
    months = []
    month = end.replace(day=1)
    while len(months) < count:
        months.append(month)
        month = (month - dt.timedelta(days=1)).replace(day=1)
    return list(reversed(months))


def quarterly_figures(quarter: str | None = None) -> dict:
    """Every figure of the quarter's report (季度报送), per department, town and matter."""
    quarter = quarters.parse(quarter) if quarter else quarters.of(timezone.localdate())
    start, end = quarters.bounds(quarter)
    months = _trend_months(quarter)
    trend_start = months[0]

    def blank_unit(code, name, kind):
        return {
            "code": code or "",
            "name": name or "—",
            "kind": kind,
            "pledges_online": 0,
            "pledges_window": 0,
            "certificates_chosen": 0,
            "withdrawals": 0,
            "checks_finished": 0,
            "false_found": 0,
            "credit_records": 0,
            "complaints": 0,
            "corrections": 0,
            "overdue": 0,
        }

    departments: dict[str, dict] = {}
    towns: dict[str, dict] = {}
    matters: dict[str, dict] = {}
    trend = {
        _month_key(m): {
            "month": _month_key(m),
            "online": 0,
            "window": 0,
            "certificates": 0,
            "complaints": 0,
        }
        for m in months
    }

    def dept(row):
        code = row.get("department_code") or ""
        if code not in departments:
            departments[code] = blank_unit(code, row.get("department_name"), "department")
        return departments[code]

    def town(row):
        code = row.get("town_code") or ""
        if code not in towns:
            towns[code] = blank_unit(code, row.get("town_name"), "town")
        return towns[code]

    def matter(row):
        code = row.get("matter_code") or ""
        if code not in matters:
            matters[code] = blank_unit(code, row.get("matter_name"), "matter")
            matters[code]["department"] = row.get("department_name") or ""
        return matters[code]

    totals = defaultdict(int)
    for row in pledge_stats.pledges_signed(trend_start, end):
        key = _month_key(row["month"])
        channel = "online" if row["channel"] == "online" else "window"
        if key in trend:
            trend[key][channel] += row["count"]
        if row["month"] is None or row["month"] < start:
            continue
        field = f"pledges_{channel}"
        totals[field] += row["count"]
        for target in (dept(row), town(row), matter(row)):
            target[field] += row["count"]
    for row in pledge_stats.certificates_chosen(trend_start, end):
        key = _month_key(row["month"])
        if key in trend:
            trend[key]["certificates"] += row["count"]
        if row["month"] is None or row["month"] < start:
            continue
        totals["certificates_chosen"] += row["count"]
        for target in (dept(row), town(row), matter(row)):
            target["certificates_chosen"] += row["count"]
    for row in pledge_stats.pledges_withdrawn(start, end):
        totals["withdrawals"] += row["count"]
        for target in (dept(row), town(row), matter(row)):
            target["withdrawals"] += row["count"]

    # Verification: draws, checks finished, findings by result.
    totals["draws"] = verification_stats.draws(start, end)
    findings: dict[str, int] = {}
    for row in verification_stats.checks_finished(start, end):
        findings[row["result"]] = findings.get(row["result"], 0) + row["count"]
        totals["checks_finished"] += row["count"]
        false = row["count"] if row["is_false"] else 0
        totals["false_found"] += false
        for target in (dept(row), town(row), matter(row)):
            target["checks_finished"] += row["count"]
            target["false_found"] += false
    overdue_checks = verification_stats.overdue_checks()
    # Credit: records by severity, objections and repairs.
    by_severity = {severity: 0 for severity in SEVERITIES}
    for row in credit_stats.records_decided(start, end):
        severity = row["severity"] or "unknown"
        by_severity[severity] = by_severity.get(severity, 0) + row["count"]
        totals["credit_records"] += row["count"]
        town(row)["credit_records"] += row["count"]
        for target in matters.values():
            if target["name"] == row["matter_name"]:
                target["credit_records"] += row["count"]
                break
    objections = credit_stats.objections_and_repairs(start, end)

    # Complaints and corrections.
    begin, stop = _span(start, end)
    complaints = Complaint.objects.filter(received_at__gte=begin, received_at__lt=stop)
    by_channel = dict(complaints.values_list("channel").annotate(n=Count("id")).order_by())
    corrected = Complaint.objects.filter(corrected_at__gte=begin, corrected_at__lt=stop)
    overdue_complaints = Complaint.objects.filter(
        overdue_since__isnull=False, corrected_at__isnull=True, status__in=Complaint.OPEN
    )
    for unit_code, unit_name, count in (
        complaints.exclude(superior=None)
        .values_list("superior__code", "superior__name")
        .annotate(n=Count("id"))
        .order_by()
    ):
        dept({"department_code": unit_code, "department_name": unit_name})["complaints"] += count
    for unit_code, unit_name, count in (
        corrected.exclude(superior=None)
        .values_list("superior__code", "superior__name")
        .annotate(n=Count("id"))
        .order_by()
    ):
        dept({"department_code": unit_code, "department_name": unit_name})["corrections"] += count
    for unit_code, unit_name, count in (
        overdue_complaints.exclude(superior=None)
        .values_list("superior__code", "superior__name")
        .annotate(n=Count("id"))
        .order_by()
    ):
        dept({"department_code": unit_code, "department_name": unit_name})["overdue"] += count
    trend_begin, _ = _span(trend_start, end)
    for received in Complaint.objects.filter(
        received_at__gte=trend_begin, received_at__lt=stop
    ).values_list("received_at", flat=True):
        key = _month_key(timezone.localtime(received).date())
        if key in trend:
            trend[key]["complaints"] += 1

    def rate(false, finished):
        return round(false / finished, 4) if finished else None

    for table in (departments, towns, matters):
        for entry in table.values():
            entry["pledges"] = entry["pledges_online"] + entry["pledges_window"]
            entry["false_rate"] = rate(entry["false_found"], entry["checks_finished"])
            chosen = entry["pledges"] + entry["certificates_chosen"]
            entry["pledge_share"] = round(entry["pledges"] / chosen, 4) if chosen else None

    complaint_totals = {
        "received": sum(by_channel.values()),
        "online": by_channel.get(ComplaintChannel.ONLINE, 0),
        "hotline": by_channel.get(ComplaintChannel.HOTLINE, 0),
        "dismissed": complaints.filter(status=ComplaintStatus.DISMISSED).count(),
        "forwarded": Complaint.objects.filter(
            forwarded_at__gte=begin, forwarded_at__lt=stop
        ).count(),
        "corrected": corrected.count(),
        "published": Complaint.objects.filter(
            published_at__gte=begin, published_at__lt=stop
        ).count(),
        "overdue": overdue_complaints.count(),
    }
    summary = {
        "pledges_online": totals["pledges_online"],
        "pledges_window": totals["pledges_window"],
        "pledges": totals["pledges_online"] + totals["pledges_window"],
        "certificates_chosen": totals["certificates_chosen"],
        "withdrawals": totals["withdrawals"],
        "draws": totals["draws"],
        "checks_finished": totals["checks_finished"],
        "false_found": totals["false_found"],
        "false_rate": rate(totals["false_found"], totals["checks_finished"]),
        "credit_records": totals["credit_records"],
        "objections_filed": objections["objections_filed"],
        "objections_upheld": objections["objections_upheld"],
        "repairs_applied": objections["repairs_applied"],
        "repairs_approved": objections["repairs_approved"],
        "complaints": complaint_totals["received"],
        "corrections": complaint_totals["corrected"],
        "overdue_items": complaint_totals["overdue"]
        + overdue_checks
        + objections["objections_overdue"]
        + objections["repairs_overdue"],
    }

    def ordered(table):
        return sorted(table.values(), key=lambda e: (e["code"] == "", e["code"]))

    return {
        "quarter": quarter,
        "start": start,
        "end": end,
        "generated_at": timezone.now(),
        "summary": summary,
        "findings": findings,
        "credit_by_severity": by_severity,
        "objections": objections,
        "complaints": complaint_totals,
        "overdue": {
            "complaints": complaint_totals["overdue"],
            "checks": overdue_checks,
            "objections": objections["objections_overdue"],
            "repairs": objections["repairs_overdue"],
        },
        "by_department": ordered(departments),
        "by_town": ordered(towns),
        "by_matter": ordered(matters),
        "trend": list(trend.values()),
        "labels": {
            "findings": verification_stats.result_labels(),
            "severity": credit_stats.severity_labels(),
        },
    }


def _span(start: dt.date, end: dt.date) -> tuple[dt.datetime, dt.datetime]:
    zone = timezone.get_current_timezone()
    begin = dt.datetime.combine(start, dt.time.min, tzinfo=zone)
    stop = dt.datetime.combine(end + dt.timedelta(days=1), dt.time.min, tzinfo=zone)
    return begin, stop


def prepared_report(quarter: str):
    """The frozen report of ``quarter`` once the beat task (or an officer) prepared it."""
    from .models import QuarterlyReport

    return QuarterlyReport.objects.filter(quarter=quarter).first()


def job_for(user, pk) -> object | None:
    """A background job of this app (a list import or a report export), to its owner or to
    an oversight officer. Other apps' jobs (a window's batch of printed forms) are not
    found here, whoever asks."""
    from core.models import BackgroundJob

    from .services import IMPORT_JOB, REPORT_EXPORT_JOB

    try:
        job = BackgroundJob.objects.filter(
            pk=int(pk), kind__in=(IMPORT_JOB, REPORT_EXPORT_JOB)
        ).first()
    except (TypeError, ValueError):
        return None
    if job is None or not user.is_authenticated:
        return None
    if job.owner_id == user.pk or roles.has_role(user, roles.OVERSIGHT_OFFICER):
        return job
    return None
