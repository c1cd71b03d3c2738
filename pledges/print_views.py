"""Pages for printing: the public verify page and the window clerk's printing pages.

Thin: forms validate, one service in ``printing`` (or ``services``) does the work.
"""

import io
import re

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.http import FileResponse, Http404, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_safe
from rest_framework.throttling import SimpleRateThrottle

from accounts import roles
from accounts.decorators import role_required
from accounts.models import Unit
from core.errors import DomainError
from core.middleware import client_ip
from core.models import BackgroundJob

from . import printing, selectors, services
from .models import Channel, Matter

# ---- the public verify page ----------------------------------------------------------


class VerifyRateThrottle(SimpleRateThrottle):
    """Per client IP, at the ``verify`` rate of ``REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]``.

    The address is REMOTE_ADDR only (core.middleware.client_ip): DRF's default identity would
    trust a client-sent X-Forwarded-For and let anyone reset their own limit.
    """

    scope = "verify"

    def get_rate(self):
        from rest_framework.settings import api_settings

        # Read at each request (not frozen at import like the class default), so settings
        # overrides apply.
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope, "60/min")

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": client_ip(request) or "-"}


@require_safe
def verify(request, number, token):
    """Anyone holding the paper scans the QR code: confirm the form, reveal nothing more."""
    throttle = VerifyRateThrottle()
    if not throttle.allow_request(request, None):
        wait = throttle.wait()
        response = render(request, "pledges/verify_throttled.html", status=429)
        if wait is not None:
            response["Retry-After"] = str(int(wait) + 1)
        return response
    pledge = printing.verify_lookup(number, token)
    if pledge is None:
        response = render(request, "pledges/verify_invalid.html", {"number": number}, status=404)
    else:
        response = render(
            request,
            "pledges/verify.html",
            {"pledge": pledge, "masked_name": printing.mask_name(pledge.applicant_name)},
        )
    response["X-Robots-Tag"] = "noindex"
    response["Referrer-Policy"] = "no-referrer"
    response["Cache-Control"] = "no-store"
    return response


# ---- the window clerk's pages -----------------------------------------------------------

window_clerk_required = role_required(roles.WINDOW_CLERK)


def _pdf_response(handle, filename: str, *, inline: bool) -> FileResponse:
    response = FileResponse(
        handle, as_attachment=not inline, filename=filename, content_type="application/pdf"
    )
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response


@require_GET
@window_clerk_required
def window_print(request, number):
    """The stored form of a pledge, shown in the browser for printing (audited)."""
    pledge = selectors.pledge_for(request.user, number)
    if pledge is None:
        raise Http404
    pledge = printing.pledge_pdf_print(pledge=pledge, actor=request.user, via="window")
    return _pdf_response(
        printing.open_stored_pdf(pledge), printing.pledge_pdf_filename(pledge), inline=True
    )


class BlankSearchForm(forms.Form):
    q = forms.CharField(label=gettext_lazy("Search matters"), required=False, max_length=100)


@require_GET
@window_clerk_required
def window_blank_list(request):
    """Pledgeable matters, each with its blank form for hand filling."""
    form = BlankSearchForm(request.GET or None)
    search = form.cleaned_data["q"] if form.is_valid() else ""
    matters = selectors.matter_list(search=search, pledgeable=True)
    return render(request, "pledges/print/window_blank.html", {"form": form, "matters": matters})


@require_GET
@window_clerk_required
def window_blank_form(request, code):
    matter = get_object_or_404(Matter.objects.select_related("department"), code=code)
    try:
        name = printing.blank_form_get(matter=matter, actor=request.user)
    except DomainError as error:
        raise Http404(error.message) from error
    return _pdf_response(
        printing.open_stored(name), printing.blank_form_filename(matter), inline=True
    )


# ---- a pledge signed on paper -------------------------------------------------------------


def scan_max_bytes() -> int:
    return getattr(settings, "CHENGNUO_SCAN_MAX_BYTES", 5 * 1024 * 1024)


SCAN_TYPES = {"application/pdf": "pdf", "image/png": "png", "image/jpeg": "jpg"}


def check_scan(upload: UploadedFile) -> str:
    """The scan's real type (``pdf``, ``png``, ``jpg``), judged by content, never by name.

    Raises ``forms.ValidationError`` for anything else, for a broken image or PDF, and for a
    file over the size limit.
    """
    if upload.size > scan_max_bytes():
        raise forms.ValidationError(
            _("The scan is too large (at most %(mb)s MB).")
            % {"mb": round(scan_max_bytes() / 1024 / 1024, 1)}
        )
    upload.seek(0)
    head = upload.read(8192)
    import filetype

    kind = filetype.guess(head)
    mime = kind.mime if kind else ""
    if mime not in SCAN_TYPES:
        raise forms.ValidationError(_("The scan must be a PDF, PNG or JPEG file."))
    upload.seek(0)
    if mime == "application/pdf":
        data = upload.read()
        if not data.startswith(b"%PDF-") or b"%%EOF" not in data[-2048:]:
            raise forms.ValidationError(_("The PDF scan cannot be read."))
    else:
        from PIL import Image, UnidentifiedImageError

        try:
            with Image.open(io.BytesIO(upload.read())) as image:
                image.verify()
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
            raise forms.ValidationError(_("The scanned image cannot be read.")) from exc
    upload.seek(0)
    return SCAN_TYPES[mime]


class PaperPledgeForm(forms.Form):
    """A pledge the applicant signed on paper at the window; the number is given now."""

    matter = forms.ModelChoiceField(
        label=gettext_lazy("Matter"), queryset=Matter.objects.none(), to_field_name="code"
    )
    name = forms.CharField(label=gettext_lazy("Applicant's name"), max_length=100)
    id_number = forms.CharField(label=gettext_lazy("ID number"), max_length=30)
    phone = forms.RegexField(
        label=gettext_lazy("Phone"),
        regex=r"^1\d{10}$",
        required=False,
        error_messages={"invalid": gettext_lazy("Enter an 11-digit mobile number.")},
    )
    address = forms.CharField(label=gettext_lazy("Address"), max_length=200, required=False)
    town = forms.ModelChoiceField(
        label=gettext_lazy("Town or street"),
        queryset=Unit.objects.none(),
        to_field_name="code",
        required=False,
    )
    wet_signature = forms.BooleanField(
        label=gettext_lazy(
            "The applicant read the notice, ticked every statement and signed the paper form "
            "in person, in front of me."
        ),
        error_messages={"required": gettext_lazy("Confirm the signature on paper.")},
    )
    scan = forms.FileField(
        label=gettext_lazy("Scan of the signed form"),
        help_text=gettext_lazy("PDF, PNG or JPEG."),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["matter"].queryset = selectors.matter_list(pledgeable=True)
        self.fields["matter"].label_from_instance = lambda m: f"{m.code} {m.name}"
        self.fields["town"].queryset = Unit.objects.filter(
            kind__in=[Unit.Kind.TOWN, Unit.Kind.STREET]
        ).order_by("code")
        self.fields["scan"].help_text = _("PDF, PNG or JPEG, at most %(mb)s MB.") % {
            "mb": round(scan_max_bytes() / 1024 / 1024, 1)
        }

    def clean_scan(self):
        upload = self.cleaned_data["scan"]
        self.scan_kind = check_scan(upload)
        return upload


def _apply_domain_error(form, error: DomainError) -> None:
    field = {
        "typed_name": "name",
        "paper_scan": "scan",
        "applicant": "name",
        "statements_accepted": "wet_signature",
    }.get(error.field, error.field)
    form.add_error(field if field in form.fields else None, error.message)


@require_http_methods(["GET", "POST"])
@window_clerk_required
def window_paper(request):
    """Record a pledge signed on paper: wet signature confirmed, scan attached."""
    if request.method == "POST":
        form = PaperPledgeForm(request.POST, request.FILES)
    else:
        form = PaperPledgeForm()
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            pledge = services.pledge_sign(
                matter=data["matter"],
                applicant={
                    "name": data["name"],
                    "id_number": data["id_number"],
                    "phone": data["phone"],
                    "address": data["address"],
                    "town": data["town"],
                },
                actor=request.user,
                statements_accepted=data["wet_signature"],
                typed_name=data["name"],
                channel=Channel.WINDOW,
                paper_scan=data["scan"],
            )
        except DomainError as error:
            _apply_domain_error(form, error)
        else:
            messages.success(
                request,
                _("Pledge %(number)s recorded. Print the numbered form for the applicant.")
                % {"number": pledge.number},
            )
            return redirect(f"{reverse('pledges:window')}?q={pledge.number}")
    return render(request, "pledges/print/window_paper.html", {"form": form})


# ---- batches ----------------------------------------------------------------------------

# A pledge number, ``CN-2026-000123``.
NUMBER_PATTERN = re.compile(r"^CN-\d{4}-\d{6}$")


class BatchForm(forms.Form):
    day = forms.DateField(
        label=gettext_lazy("Day signed"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    matter = forms.ModelChoiceField(
        label=gettext_lazy("Only this matter (optional)"),
        queryset=Matter.objects.none(),
        to_field_name="code",
        required=False,
    )
    numbers = forms.CharField(
        label=gettext_lazy("Or these pledge numbers"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=gettext_lazy("One per line, or separated by commas or spaces."),
        max_length=printing.BATCH_LIMIT * 16,
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["matter"].queryset = Matter.objects.filter(pledges__isnull=False).distinct()
        self.fields["matter"].label_from_instance = lambda m: f"{m.code} {m.name}"

    def clean_numbers(self):
        raw = self.cleaned_data["numbers"].replace(",", " ").replace("，", " ")
        numbers = [n.strip().upper() for n in raw.split() if n.strip()]
        bad = [n for n in numbers if not NUMBER_PATTERN.match(n)]
        if bad:
            raise forms.ValidationError(
                _("Not pledge numbers: %(numbers)s") % {"numbers": ", ".join(bad[:5])}
            )
        return numbers

    def clean(self):
        data = super().clean()
        if not data.get("numbers") and not data.get("day"):
            raise forms.ValidationError(_("Choose a day or list the pledge numbers."))
        return data


@require_http_methods(["GET", "POST"])
@window_clerk_required
def window_batch(request):
    """Print many forms at once, in the background; one PDF at the end."""
    if request.method == "POST":
        form = BatchForm(request.POST)
    else:
        form = BatchForm(initial={"day": timezone.localdate()})
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            job = printing.batch_print_start(
                actor=request.user,
                numbers=data["numbers"],
                day=data["day"],
                matter=data["matter"],
            )
        except DomainError as error:
            form.add_error(error.field if error.field in form.fields else None, error.message)
        else:
            return redirect("printing:window_batch_job", job_id=job.pk)
    return render(
        request,
        "pledges/print/window_batch.html",
        {"form": form, "jobs": printing.batch_jobs_of(request.user)},
    )


def _job_or_404(request, job_id) -> BackgroundJob:
    job = printing.batch_for(request.user, job_id)
    if job is None:
        raise Http404
    return job


def _job_state(job: BackgroundJob) -> dict:
    return {
        "id": job.pk,
        "status": job.status,
        "status_display": job.get_status_display(),
        "done": job.done,
        "total": job.total,
        "percent": job.percent,
        "error": job.error if job.status == BackgroundJob.Status.FAILED else "",
        "download_url": reverse("printing:window_batch_download", args=[job.pk])
        if job.status == BackgroundJob.Status.DONE
        else "",
    }


@require_GET
@window_clerk_required
def window_batch_job(request, job_id):
    job = _job_or_404(request, job_id)
    return render(
        request, "pledges/print/window_batch_job.html", {"job": job, "state": _job_state(job)}
    )


@require_GET
@window_clerk_required
def window_batch_status(request, job_id):
    """The job's progress as JSON, polled by the progress page."""
    response = JsonResponse(_job_state(_job_or_404(request, job_id)))
    response["Cache-Control"] = "no-store"
    return response


@require_GET
@window_clerk_required
def window_batch_download(request, job_id):
    job = _job_or_404(request, job_id)
    try:
        with transaction.atomic():
            handle = printing.batch_download(job=job, actor=request.user)
    except DomainError as error:
        raise Http404(error.message) from error
    return _pdf_response(handle, f"batch-{job.pk}.pdf", inline=True)
