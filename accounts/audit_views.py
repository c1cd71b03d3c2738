"""The audit log for the city-wide auditor (``oversight_officer``): filter, read, export.

Reading the log is itself recorded (``audit.viewed`` / ``audit.exported``, with the filters;
a person filter is recorded as the keyed hash, never the number).
"""

from django.http import Http404, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone

from core.audit import audit_record
from core.audit_export import event_row, iter_csv, iter_json

from . import id_numbers, roles
from .forms import AuditFilterForm
from .selectors import audit_events_filtered

PAGE_ROWS = 100
CONTENT_TYPES = {"csv": "text/csv; charset=utf-8", "json": "application/json"}


def may_read_audit_log(user) -> bool:
    return roles.has_role(user, roles.OVERSIGHT_OFFICER)


def filters_for_log(cleaned: dict) -> dict:
    """The filters as the audit event records them (the person as a keyed hash)."""
    return {
        "person_hash": id_numbers.keyed_hash(cleaned["person"]) if cleaned.get("person") else "",
        "staff": cleaned.get("staff") or "",
        "since": cleaned["since"].isoformat() if cleaned.get("since") else "",
        "until": cleaned["until"].isoformat() if cleaned.get("until") else "",
    }


def export_response(events, fmt: str) -> StreamingHttpResponse:
    """Stream the events as a CSV or JSON attachment, row by row."""
    rows = iter_csv(events) if fmt == "csv" else iter_json(events)
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    response = StreamingHttpResponse(rows, content_type=CONTENT_TYPES[fmt])
    response["Content-Disposition"] = f'attachment; filename="audit-{stamp}.{fmt}"'
    response["Cache-Control"] = "no-store"
    return response


def audit_log(request):
    if not request.user.is_authenticated or not may_read_audit_log(request.user):
        raise Http404
    form = AuditFilterForm(request.GET or None)
    events = rows = None
    if form.is_valid():
        cleaned = form.cleaned_data
        events = audit_events_filtered(
            person_id_number=cleaned["person"],
            staff_username=cleaned["staff"],
            since=cleaned["since"],
            until=cleaned["until"],
        )
        fmt = cleaned.get("format")
        if fmt in CONTENT_TYPES:
            audit_record(
                actor=request.user,
                action="audit.exported",
                data={**filters_for_log(cleaned), "format": fmt},
            )
            return export_response(events, fmt)
        audit_record(actor=request.user, action="audit.viewed", data=filters_for_log(cleaned))
        rows = [event_row(e) for e in events.reverse()[:PAGE_ROWS]]
    return render(request, "accounts/audit.html", {"form": form, "rows": rows})
