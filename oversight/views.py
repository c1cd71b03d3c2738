"""Pages: public service guides, complaints and notices; the bureau's dashboard and case
handling; catalog lists for towns, streets and departments. Thin: a form, one service."""

from __future__ import annotations

import functools
import hashlib

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.core.files.storage import storages
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts import roles
from accounts.decorators import role_required
from core.audit import audit_record
from core.errors import DomainError
from core.middleware import client_ip

from . import progress, quarters, ratelimit, reports, selectors, services, xlsx
from .forms import (
    AnswerForm,
    CloseForm,
    ComplaintForm,
    ForwardForm,
    GuideSearchForm,
    ListDecisionForm,
    ListUploadForm,
    PublishForm,
    TrackForm,
    TriageForm,
)
from .models import CatalogList, ComplaintChannel, ComplaintStatus, GuideMaterial

PDF_TYPE = "application/pdf"


def _staff_required(view):
    @login_required
    @functools.wraps(view)
    def wrapped(request, *args, **kwargs):
        if not roles.is_staff_role(request.user):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return wrapped


officer_required = role_required(roles.OVERSIGHT_OFFICER, hide=False)
lists_required = role_required(roles.LIST_SUBMITTER, roles.OVERSIGHT_OFFICER, hide=False)


def _download(content: bytes, filename: str, content_type: str, *, inline=False) -> HttpResponse:
    response = HttpResponse(content, content_type=content_type)
    disposition = "inline" if inline else "attachment"
    response["Content-Disposition"] = f'{disposition}; filename="{filename}"'
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response


def _pdf(template: str, context: dict, *, title: str) -> bytes:
    from pledges import pdf

    html = render_to_string(template, {**context, "font_stack": pdf.font_stack_css()})
    return pdf.render_pdf(html, title=title)


# ---- service guides --------------------------------------------------------------------


def guide_list(request):
    form = GuideSearchForm(request.GET or None)
    search = disposition = ""
    if form.is_valid():
        search = form.cleaned_data["q"]
        disposition = form.cleaned_data["disposition"]
    guides = selectors.guide_list(search=search, disposition=disposition)
    page = Paginator(guides, 20).get_page(request.GET.get("page"))
    return render(request, "oversight/guide_list.html", {"form": form, "page": page})


def _published_guide(code):
    guide = selectors.guide_for(code)
    if guide is None:
        raise Http404
    return guide


def guide_detail(request, code):
    guide = _published_guide(code)
    return render(
        request,
        "oversight/guide_detail.html",
        {"guide": guide, "matter": guide.matter, "sign_path": selectors.guide_sign_path(guide)},
    )


def guide_pdf(request, code):
    """The printable guide. Rendered once per version of the guide and kept in the cache."""
    guide = _published_guide(code)
    key = (
        "oversight:guide-pdf:"
        + hashlib.sha256(
            f"{guide.pk}:{guide.updated_at.isoformat()}:{guide.matter.pk}:{request.LANGUAGE_CODE}".encode()
        ).hexdigest()
    )
    content = cache.get(key)
    if content is None:
        content = _pdf(
            "oversight/print/guide.html",
            {
                "guide": guide,
                "matter": guide.matter,
                "sign_path": selectors.guide_sign_path(guide),
                "base_url": request.build_absolute_uri("/").rstrip("/"),
            },
            title=f"guide {guide.matter.code}",
        )
        cache.set(key, content, 24 * 3600)
    return _download(content, f"guide-{guide.matter.code}.pdf", PDF_TYPE, inline=True)


def guide_form_file(request, code, pk, kind):
    """A blank or sample form of a published guide's material."""
    guide = _published_guide(code)
    material = GuideMaterial.objects.filter(guide=guide, pk=pk).first()
    if material is None or kind not in ("blank", "sample"):
        raise Http404
    field = material.blank_form if kind == "blank" else material.sample_form
    if not field:
        raise Http404
    handle = field.open("rb")
    name = field.name.rsplit("/", 1)[-1]
    response = FileResponse(handle, as_attachment=True, filename=name)
    response["X-Content-Type-Options"] = "nosniff"
    return response


# ---- complaints (public) ---------------------------------------------------------------


def complaint_new(request):
    form = ComplaintForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        if form.cleaned_data["website"]:
            form.add_error(None, _("Your report could not be accepted."))
        elif not ratelimit.complaint_allowed(client_ip(request)):
            form.add_error(
                None, _("Too many reports from your connection. Please try again later.")
            )
        else:
            try:
                complaint = services.complaint_file(
                    data=form.cleaned_data,
                    actor=request.user,
                    attachments=form.cleaned_data["attachments"],
                    channel=ComplaintChannel.ONLINE,
                )
            except DomainError as error:
                form.add_error(error.field if error.field in form.fields else None, error.message)
            else:
                messages.success(
                    request,
                    _(
                        "Your report %(number)s is recorded. Keep this page's address: it is "
                        "how you follow the case."
                    )
                    % {"number": complaint.tracking_number},
                )
                return redirect(selectors.complaint_track_path(complaint))
    return render(request, "oversight/complaint_new.html", {"form": form}, status=200)


def complaint_track_lookup(request):
    form = TrackForm(request.GET or None)
    if request.GET and form.is_valid():
        complaint = selectors.complaint_by_token(
            form.cleaned_data["number"], form.cleaned_data["token"]
        )
        if complaint is not None:
            return redirect(selectors.complaint_track_path(complaint))
        form.add_error(None, _("No report matches this number and access code."))
    return render(request, "oversight/complaint_track_lookup.html", {"form": form})


def complaint_track(request, number, token):
    complaint = selectors.complaint_by_token(number, token)
    if complaint is None:
        raise Http404
    return render(
        request,
        "oversight/complaint_track.html",
        {
            "complaint": complaint,
            "events": selectors.public_events(complaint),
            "token": token,
            "track_url": request.build_absolute_uri(selectors.complaint_track_path(complaint)),
        },
    )


def notices(request):
    page = Paginator(selectors.published_complaints(), 20).get_page(request.GET.get("page"))
    return render(request, "oversight/notices.html", {"page": page})


# ---- the bureau: dashboard and reports -------------------------------------------------


def _quarter_from(request) -> str:
    value = request.GET.get("quarter") or request.POST.get("quarter") or ""
    if not value:
        return quarters.of(timezone.localdate())
    try:
        return quarters.parse(value)
    except quarters.InvalidQuarter as exc:
        raise Http404 from exc


@_staff_required
def dashboard(request):
    quarter = _quarter_from(request)
    figures = selectors.quarterly_figures(quarter)
    return render(
        request,
        "oversight/dashboard.html",
        {
            "figures": figures,
            "quarter": quarter,
            "quarter_choices": quarters.recent(quarters.of(timezone.localdate())),
            "summary_rows": reports.summary_rows(figures),
            "findings_rows": reports.findings_rows(figures),
            "severity_rows": reports.severity_rows(figures),
            "charts": reports.build_charts(figures),
            "columns": reports.unit_columns(),
            "tables": [
                (_("By department"), reports.table_rows(figures["by_department"])),
                (_("By town or street"), reports.table_rows(figures["by_town"])),
                (_("By matter"), reports.table_rows(figures["by_matter"])),
            ],
            "can_export": roles.has_role(request.user, roles.OVERSIGHT_OFFICER),
            "prepared": selectors.prepared_report(quarter),
            "open_complaints": selectors.complaints_for_staff(request.user)
            .filter(status__in=[ComplaintStatus.RECEIVED])
            .count(),
        },
    )


@require_POST
@officer_required
def report_export(request):
    quarter = _quarter_from(request)
    fmt = request.POST.get("format", "xlsx")
    try:
        job = services.report_export_start(quarter=quarter, fmt=fmt, actor=request.user)
    except DomainError as error:
        messages.error(request, error.message)
        return redirect(f"{reverse('oversight:dashboard')}?quarter={quarter}")
    return redirect("oversight:job_detail", pk=job.pk)


@_staff_required
def prepared_report_file(request, quarter, fmt):
    """The report frozen at the quarter's end (XLSX or PDF)."""
    try:
        quarter = quarters.parse(quarter)
    except quarters.InvalidQuarter as exc:
        raise Http404 from exc
    report = selectors.prepared_report(quarter)
    field = getattr(report, fmt, None) if fmt in ("xlsx", "pdf") else None
    if not field:
        raise Http404
    audit_record(actor=request.user, action="report.downloaded", obj=report, data={"format": fmt})
    response = FileResponse(
        field.open("rb"), as_attachment=True, filename=f"report-{quarter}.{fmt}"
    )
    response["Content-Type"] = PDF_TYPE if fmt == "pdf" else xlsx.XLSX_CONTENT_TYPE
    return response


@login_required
def job_detail(request, pk):
    job = selectors.job_for(request.user, pk)
    if job is None:
        raise Http404
    state = progress.snapshot(job)
    return render(request, "oversight/job_detail.html", {"job": job, "state": state})


@login_required
def job_status(request, pk):
    job = selectors.job_for(request.user, pk)
    if job is None:
        raise Http404
    state = progress.snapshot(job)
    if job.result_file:
        state["download"] = reverse("oversight:job_download", args=[job.pk])
    return JsonResponse(state)


@login_required
def job_download(request, pk):
    job = selectors.job_for(request.user, pk)
    if job is None or not job.result_file:
        raise Http404
    storage = storages["private"]
    if not storage.exists(job.result_file):
        raise Http404
    name = job.result_file.rsplit("/", 1)[-1]
    content_type = PDF_TYPE if name.endswith(".pdf") else xlsx.XLSX_CONTENT_TYPE
    audit_record(actor=request.user, action="report.downloaded", obj=job)
    response = FileResponse(storage.open(job.result_file, "rb"), as_attachment=True, filename=name)
    response["Content-Type"] = content_type
    return response


# ---- the bureau: complaints ------------------------------------------------------------


@officer_required
def complaint_list(request):
    status = request.GET.get("status", "")
    if status not in ComplaintStatus.values:
        status = ""
    overdue = request.GET.get("overdue") == "1"
    complaints = selectors.complaints_for_staff(
        request.user,
        status=status,
        overdue=True if overdue else None,
        search=request.GET.get("q", "")[:100],
    )
    page = Paginator(complaints, 30).get_page(request.GET.get("page"))
    return render(
        request,
        "oversight/complaint_list.html",
        {
            "page": page,
            "status": status,
            "overdue": overdue,
            "statuses": ComplaintStatus.choices,
        },
    )


@_staff_required
def complaint_hotline(request):
    """A hotline call, entered by staff on the caller's behalf."""
    form = ComplaintForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            complaint = services.complaint_file(
                data=form.cleaned_data,
                actor=request.user,
                attachments=form.cleaned_data["attachments"],
                channel=ComplaintChannel.HOTLINE,
            )
        except DomainError as error:
            form.add_error(error.field if error.field in form.fields else None, error.message)
        else:
            messages.success(
                request,
                _(
                    "Hotline report %(number)s recorded. "
                    "Give the caller the number and code: %(code)s"
                )
                % {
                    "number": complaint.tracking_number,
                    "code": selectors.complaint_token(complaint),
                },
            )
            if roles.has_role(request.user, roles.OVERSIGHT_OFFICER):
                return redirect("oversight:complaint_detail", number=complaint.tracking_number)
            return redirect("oversight:complaint_hotline")
    return render(request, "oversight/complaint_hotline.html", {"form": form})


def _staff_complaint(request, number):
    complaint = selectors.complaint_for_staff(request.user, number)
    if complaint is None:
        raise Http404
    return complaint


ACTIONS = {
    "triage": TriageForm,
    "forward": ForwardForm,
    "answer": AnswerForm,
    "close": CloseForm,
    "publish": PublishForm,
}


@officer_required
def complaint_detail(request, number):
    complaint = _staff_complaint(request, number)
    forms_by_action = {name: form_class(prefix=name) for name, form_class in ACTIONS.items()}
    if request.method == "POST":
        action = request.POST.get("action", "")
        if action == "unpublish":
            services.complaint_unpublish(complaint=complaint, actor=request.user)
            messages.success(request, _("The case is no longer published."))
            return redirect("oversight:complaint_detail", number=complaint.tracking_number)
        if action not in ACTIONS:
            raise Http404
        form = ACTIONS[action](request.POST, prefix=action)
        forms_by_action[action] = form
        if form.is_valid():
            try:
                _run_action(action, complaint, form.cleaned_data, request.user)
            except DomainError as error:
                form.add_error(error.field if error.field in form.fields else None, error.message)
            else:
                messages.success(request, _("Saved."))
                return redirect("oversight:complaint_detail", number=complaint.tracking_number)
    if not forms_by_action["publish"].is_bound:
        forms_by_action["publish"].initial = {"summary": _default_summary(complaint)}
    audit_record(actor=request.user, action="complaint.viewed", obj=complaint)
    return render(
        request,
        "oversight/complaint_detail.html",
        {
            "complaint": complaint,
            "events": complaint.events.select_related("actor"),
            "attachments": complaint.attachments.all(),
            "forms": forms_by_action,
            "token": selectors.complaint_token(complaint),
        },
    )


def _run_action(action, complaint, data, actor):
    if action == "triage":
        services.complaint_triage(
            complaint=complaint, actor=actor, accept=data["decision"] == "accept", note=data["note"]
        )
    elif action == "forward":
        services.complaint_forward(
            complaint=complaint,
            actor=actor,
            superior=data.get("superior"),
            superior_name=data.get("superior_name", ""),
            working_days=data["working_days"],
            note=data.get("note", ""),
        )
    elif action == "answer":
        services.complaint_record_answer(
            complaint=complaint, actor=actor, answer=data["answer"], correction=data["correction"]
        )
    elif action == "close":
        services.complaint_close(complaint=complaint, actor=actor, outcome=data["outcome"])
    elif action == "publish":
        services.complaint_publish(complaint=complaint, actor=actor, summary=data["summary"])


def _default_summary(complaint) -> str:
    parts = [
        _("%(agency)s demanded “%(certificate)s” (%(month)s).")
        % {
            "agency": complaint.agency,
            "certificate": complaint.certificate,
            "month": complaint.occurred_on.strftime("%Y-%m"),
        }
    ]
    if complaint.correction:
        parts.append(_("Correction: %(text)s") % {"text": complaint.correction})
    return " ".join(parts)


@officer_required
def complaint_pdf(request, number):
    complaint = _staff_complaint(request, number)
    content = _pdf(
        "oversight/print/complaint.html",
        {
            "complaint": complaint,
            "events": complaint.events.select_related("actor"),
            "attachments": complaint.attachments.all(),
            "printed_at": timezone.now(),
        },
        title=f"complaint {complaint.tracking_number}",
    )
    audit_record(actor=request.user, action="complaint.printed", obj=complaint)
    return _download(content, f"{complaint.tracking_number}.pdf", PDF_TYPE, inline=True)


@officer_required
def complaint_attachment(request, number, pk):
    complaint = _staff_complaint(request, number)
    attachment = complaint.attachments.filter(pk=pk).first()
    if attachment is None:
        raise Http404
    audit_record(
        actor=request.user,
        action="complaint.attachment_viewed",
        obj=complaint,
        data={"attachment": attachment.pk},
    )
    suffix = attachment.file.name.rsplit(".", 1)[-1]
    response = FileResponse(
        attachment.file.open("rb"),
        as_attachment=True,
        filename=f"{complaint.tracking_number}-{attachment.pk}.{suffix}",
    )
    response["Content-Type"] = attachment.content_type
    response["X-Content-Type-Options"] = "nosniff"
    return response


# ---- catalog lists ---------------------------------------------------------------------


@lists_required
def list_index(request):
    form = ListUploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            catalog_list = services.catalog_list_submit(
                actor=request.user, upload=form.cleaned_data["file"]
            )
        except DomainError as error:
            form.add_error("file" if error.field == "file" else None, error.message)
        else:
            return redirect("oversight:list_detail", pk=catalog_list.pk)
    lists = selectors.lists_visible_to(request.user)
    page = Paginator(lists, 20).get_page(request.GET.get("page"))
    return render(
        request,
        "oversight/list_index.html",
        {
            "form": form,
            "page": page,
            "is_officer": roles.has_role(request.user, roles.OVERSIGHT_OFFICER),
        },
    )


@lists_required
def list_template(request):
    from accounts import selectors as accounts_selectors

    unit = request.user.unit
    departments = accounts_selectors.departments().values_list("code", "name")
    content = xlsx.template_bytes(unit_name=unit.name if unit else "", department_codes=departments)
    code = unit.code if unit else "city"
    return _download(content, f"list-template-{code}.xlsx", xlsx.XLSX_CONTENT_TYPE)


def _visible_list(request, pk) -> CatalogList:
    catalog_list = selectors.list_for(request.user, pk)
    if catalog_list is None:
        raise Http404
    return catalog_list


@lists_required
def list_detail(request, pk):
    catalog_list = _visible_list(request, pk)
    is_officer = roles.has_role(request.user, roles.OVERSIGHT_OFFICER)
    form = ListDecisionForm(request.POST or None)
    if request.method == "POST":
        if not is_officer:
            raise PermissionDenied
        action = request.POST.get("action")
        if form.is_valid():
            try:
                if action == "merge":
                    services.catalog_list_merge(
                        catalog_list=catalog_list,
                        actor=request.user,
                        note=form.cleaned_data["note"],
                    )
                    messages.success(request, _("The list is merged into the city's catalog."))
                elif action == "reject":
                    services.catalog_list_reject(
                        catalog_list=catalog_list,
                        actor=request.user,
                        note=form.cleaned_data["note"],
                    )
                    messages.success(request, _("The list is rejected."))
                else:
                    raise Http404
            except DomainError as error:
                messages.error(request, error.message)
            return redirect("oversight:list_detail", pk=catalog_list.pk)
    state = progress.snapshot(catalog_list.job) if catalog_list.job else None
    diff = None
    if catalog_list.status in (CatalogList.Status.IMPORTED,):
        diff = selectors.catalog_list_diff(catalog_list)
    errors = (
        catalog_list.errors.all()[:200] if catalog_list.status == CatalogList.Status.REFUSED else []
    )
    return render(
        request,
        "oversight/list_detail.html",
        {
            "catalog_list": catalog_list,
            "state": state,
            "diff": diff,
            "errors": errors,
            "is_officer": is_officer,
            "form": form,
            "labels": {column.key: column.label for column in xlsx.COLUMNS},
        },
    )


@lists_required
def list_errors_download(request, pk, fmt):
    if fmt not in ("xlsx", "csv"):
        raise Http404
    catalog_list = _visible_list(request, pk)
    errors = selectors.list_errors(catalog_list)
    if fmt == "csv":
        return _download(
            xlsx.errors_csv(errors), f"list-{pk}-errors.csv", "text/csv; charset=utf-8"
        )
    return _download(xlsx.errors_bytes(errors), f"list-{pk}-errors.xlsx", xlsx.XLSX_CONTENT_TYPE)


@lists_required
def catalog_export(request, fmt):
    if fmt not in ("xlsx", "pdf"):
        raise Http404
    return catalog_export_response(fmt, department=request.GET.get("department", ""))


def catalog_export_response(fmt: str, *, department: str = "") -> HttpResponse:
    """The city's catalog as a list: XLSX (importable again) or a printable PDF by category."""
    rows = selectors.catalog_rows(department=department[:32])
    stamp = timezone.localdate().isoformat()
    if fmt == "xlsx":
        content = xlsx.catalog_bytes(rows)
        return _download(content, f"catalog-{stamp}.xlsx", xlsx.XLSX_CONTENT_TYPE)
    groups = []
    for key, label in xlsx.DISPOSITION_WORDS.items():
        members = [row for row in rows if row["disposition"] == key]
        if members:
            groups.append({"key": key, "label": label, "rows": members})
    content = _pdf(
        "oversight/print/catalog.html",
        {"groups": groups, "printed_on": timezone.localdate(), "count": len(rows)},
        title="catalog",
    )
    return _download(content, f"catalog-{stamp}.pdf", PDF_TYPE)
