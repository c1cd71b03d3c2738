"""Pages: the resident's credit records, the credit office, and public disclosure."""

import datetime as dt

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts import roles
from accounts.decorators import role_required
from core.audit import audit_record
from core.errors import DomainError
from core.forms import add_domain_error

from . import ledger, selectors, services
from .forms import (
    DecisionForm,
    ObjectionDecisionForm,
    ObjectionForm,
    OfficeSearchForm,
    ReasonForm,
    RepairDecisionForm,
    RepairForm,
    StatementForm,
)
from .models import (
    Attachment,
    CreditRecord,
    Objection,
    RecordState,
    RepairApplication,
    mask_name,
)

# ---- the resident -----------------------------------------------------------------------


@login_required
def my_credit(request):
    """The signed-in person's own credit records."""
    records = selectors.records_of(request.user.person)
    return render(
        request,
        "credit/my_credit.html",
        {"records": records, "today": timezone.localdate()},
    )


def _my_record_page(request, record, **forms):
    today = timezone.localdate()
    can_object = record.state == RecordState.CONFIRMED and record.is_active_on(today)
    pending_repair = record.repairs.filter(status=RepairApplication.Status.PENDING).first()
    context = {
        "record": record,
        "today": today,
        "hearing_open": record.hearing_open_on(today),
        "can_object": can_object,
        "can_repair": can_object and today >= record.repair_possible_on and not pending_repair,
        "repair_later": can_object and today < record.repair_possible_on,
        "pending_repair": pending_repair,
        "events": ledger.events_for(record),
        "access_log": selectors.access_log_of(record),
        "statement_form": forms.get("statement_form") or StatementForm(),
        "objection_form": forms.get("objection_form") or ObjectionForm(),
        "repair_form": forms.get("repair_form") or RepairForm(),
    }
    return render(request, "credit/my_record.html", context)


@login_required
def my_record(request, pk):
    record = selectors.own_record(request.user.person, pk)
    if record is None:
        raise Http404
    return _my_record_page(request, record)


def _resident_post(request, pk, form_class, form_name, call, success):
    record = selectors.own_record(request.user.person, pk)
    if record is None:
        raise Http404
    form = form_class(request.POST, request.FILES)
    if form.is_valid():
        try:
            call(record, form.cleaned_data)
        except DomainError as error:
            add_domain_error(form, error)
        else:
            messages.success(request, success)
            return redirect("credit:my_record", pk=record.pk)
    record.refresh_from_db()
    return _my_record_page(request, record, **{form_name: form})


@require_POST
@login_required
def statement(request, pk):
    return _resident_post(
        request,
        pk,
        StatementForm,
        "statement_form",
        lambda record, data: services.statement_submit(
            record=record, actor=request.user, text=data["text"], files=data["files"]
        ),
        _("Your statement was sent to the credit office."),
    )


@require_POST
@login_required
def objection(request, pk):
    return _resident_post(
        request,
        pk,
        ObjectionForm,
        "objection_form",
        lambda record, data: services.objection_file(
            record=record, actor=request.user, reasons=data["reasons"], files=data["files"]
        ),
        _("Your objection was filed; the record is marked as under objection."),
    )


@require_POST
@login_required
def repair(request, pk):
    return _resident_post(
        request,
        pk,
        RepairForm,
        "repair_form",
        lambda record, data: services.repair_apply(
            record=record,
            actor=request.user,
            credit_pledge=data["credit_pledge"],
            correction=data["correction"],
            files=data["files"],
        ),
        _("Your repair application was sent to the credit office."),
    )


@login_required
def attachment(request, pk):
    """A file, to its person and to credit officers only, always as a download."""
    item = get_object_or_404(Attachment.objects.select_related("record__person"), pk=pk)
    officer = roles.has_role(request.user, roles.CREDIT_OFFICER)
    if not officer and item.record.person_id != request.user.person_id:
        raise Http404
    if officer:
        audit_record(
            actor=request.user,
            action="credit.file_downloaded",
            obj=item,
            person_hash=item.record.person.id_hash,
        )
    response = FileResponse(
        item.file.open("rb"),
        as_attachment=True,
        filename=item.original_name,
        content_type=item.content_type,
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response


# ---- the credit office ------------------------------------------------------------------

officer_required = role_required(roles.CREDIT_OFFICER)


@officer_required
def office(request):
    """The review queue, open objections, pending repairs, and a search of every record."""
    form = OfficeSearchForm(request.GET or None)
    results = None
    if form.is_bound and form.is_valid() and any(form.cleaned_data.values()):
        results = Paginator(selectors.record_list(**form.cleaned_data), 30).get_page(
            request.GET.get("page")
        )
    return render(
        request,
        "credit/office.html",
        {
            "queue": selectors.review_queue(),
            "objections": selectors.objection_list(status=Objection.Status.OPEN),
            "repairs": selectors.repair_list(status=RepairApplication.Status.PENDING),
            "form": form,
            "results": results,
            "today": timezone.localdate(),
        },
    )


def _office_record_page(request, record, reason, **forms):
    today = timezone.localdate()
    return render(
        request,
        "credit/office_record.html",
        {
            "record": record,
            "reason": reason,
            "today": today,
            "masked_name": mask_name(record.person.name),
            "events": ledger.events_for(record),
            "access_log": selectors.access_log_of(record)[:20],
            "decision_form": forms.get("decision_form") or DecisionForm(),
            "objection_form": forms.get("objection_form") or ObjectionDecisionForm(),
            "repair_form": forms.get("repair_form") or RepairDecisionForm(),
            "open_objection": record.objections.filter(status=Objection.Status.OPEN).first(),
            "pending_repair": record.repairs.filter(
                status=RepairApplication.Status.PENDING
            ).first(),
        },
    )


@officer_required
def office_record(request, pk):
    """A record's detail: the officer says why first; the read is logged and shown to the person."""
    record = get_object_or_404(CreditRecord.objects.select_related("person"), pk=pk)
    reason_form = ReasonForm(request.GET or None)
    if not reason_form.is_valid():
        return render(
            request,
            "credit/office_reason.html",
            {"record": record, "form": reason_form, "masked_name": mask_name(record.person.name)},
        )
    reason = reason_form.cleaned_data["reason"]
    services.record_view(record=record, actor=request.user, reason=reason)
    return _office_record_page(request, record, reason)


def _office_post(request, record, form, form_name, call, success):
    reason = request.POST.get("view_reason", "")
    if form.is_valid():
        try:
            call(form.cleaned_data)
        except DomainError as error:
            add_domain_error(form, error)
        else:
            messages.success(request, success)
            return redirect("credit:office")
    record.refresh_from_db()
    return _office_record_page(request, record, reason, **{form_name: form})


@require_POST
@officer_required
def office_decide(request, pk):
    record = get_object_or_404(CreditRecord.objects.select_related("person"), pk=pk)
    return _office_post(
        request,
        record,
        DecisionForm(request.POST),
        "decision_form",
        lambda data: services.record_decide(
            record=record,
            actor=request.user,
            decision=data["decision"],
            severity=data["severity"],
            basis=data["basis"],
            reason=data["reason"],
        ),
        _("Decision recorded for credit record #%(id)s.") % {"id": record.pk},
    )


@require_POST
@officer_required
def office_objection_decide(request, pk):
    item = get_object_or_404(Objection.objects.select_related("record__person"), pk=pk)
    return _office_post(
        request,
        item.record,
        ObjectionDecisionForm(request.POST),
        "objection_form",
        lambda data: services.objection_decide(
            objection=item,
            actor=request.user,
            decision=data["decision"],
            reason=data["reason"],
            outcome=data["outcome"],
            severity=data["severity"],
            basis=data["basis"],
        ),
        _("Objection decided."),
    )


@require_POST
@officer_required
def office_repair_decide(request, pk):
    item = get_object_or_404(RepairApplication.objects.select_related("record__person"), pk=pk)
    return _office_post(
        request,
        item.record,
        RepairDecisionForm(request.POST),
        "repair_form",
        lambda data: services.repair_decide(
            repair=item, actor=request.user, decision=data["decision"], reason=data["reason"]
        ),
        _("Repair application decided."),
    )


@officer_required
def office_ledger(request):
    """Verify the ledger on demand (the daily task does it too)."""
    result = None
    if request.method == "POST":
        result = ledger.verify()
        audit_record(actor=request.user, action="credit.ledger_verified", data=result.as_dict())
    return render(
        request,
        "credit/office_ledger.html",
        {"result": result, "checkpoints": selectors.checkpoints()[:30]},
    )


# ---- public -----------------------------------------------------------------------------


def public(request):
    """Published records (信用公示): masked name, matter, severity, decision date, window."""
    records = selectors.published_records()
    page = Paginator(records, 30).get_page(request.GET.get("page"))
    rows = [
        {
            "name": mask_name(record.person.name),
            "matter": record.matter_name,
            "severity": record.get_severity_display(),
            "decided_on": record.decided_on,
            "starts_on": record.publication_starts_on,
            "last_day": record.publication_ends_on - dt.timedelta(days=1),
        }
        for record in page
    ]
    return render(request, "credit/public.html", {"page": page, "rows": rows})


def checkpoints(request):
    """The daily signed heads of the ledger, for anyone to keep and compare."""
    page = Paginator(selectors.checkpoints(), 60).get_page(request.GET.get("page"))
    return render(request, "credit/checkpoints.html", {"page": page})
