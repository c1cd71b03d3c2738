"""Printing pledge forms (打印承诺书): the stored form of each pledge, blank forms, batches.

- A pledge's form is rendered once and kept: one private file per pledge, with its SHA-256
  on the row. It prints the *frozen* content the person signed, never the current template.
  Rendering happens outside any lock; the row is then locked, re-checked and written, so two
  requests at once (or a retried task) leave one file, and the loser's bytes are dropped.
- A blank form of a pledgeable matter carries the matter code and template version, no
  number; it is stored under a name derived from everything printed on it, so a change of
  text, name or copies makes a new file and the old one is never served for it.
- A batch (a day's pledges, or chosen numbers) runs in a Celery task with progress on a
  ``BackgroundJob`` and yields one PDF made of the stored forms.
- Every print and download by staff goes to the audit log.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import io
import logging
import os
import uuid

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts import id_numbers, roles
from core.audit import audit_record
from core.errors import DomainError, NotAllowed
from core.models import AuditEvent, BackgroundJob
from core.outbox import enqueue
from core.storage import save_replacing
from core.tokens import check_token

from . import pdf, selectors
from .content import canonical_json, form_title
from .models import Channel, MaskedCopy, Matter, Pledge, PledgeStatus

logger = logging.getLogger(__name__)

FORM_TEMPLATE = "pledges/print/form.html"
# Part of a blank form's stored name: bump it when the form's layout changes.
FORM_LAYOUT_VERSION = 1
BATCH_KIND = "pledge_print_batch"
# The most forms one batch prints (about a minute of rendering on two cores when none is
# stored yet).
BATCH_LIMIT = 500

# The form is a legal document printed in Chinese whatever the interface language
# (DOMAIN.md §1), so its fixed words are Chinese data here, not translatable strings.
APPLICANT_COPY_LABEL = "申请人留存联"
AUTHORITY_COPY_LABEL = "行政机关留存联"
CHANNEL_LABELS = {Channel.ONLINE: "网上签署", Channel.WINDOW: "窗口签署"}
_NUMERALS = "〇一二三四五六七八九十"


def _storage():
    """The private storage the pledge's file fields use (instantiated once, at import)."""
    return Pledge._meta.get_field("pdf").storage


# ---- small pure helpers ---------------------------------------------------------------


def mask_name(name: str) -> str:
    """A name as the public verify page shows it: 张* , 王*明 , 欧**娜."""
    name = (name or "").strip()
    if len(name) <= 1:
        return "*" * len(name)
    if len(name) == 2:
        return name[0] + "*"
    return name[0] + "*" * (len(name) - 2) + name[-1]


def mask_phone(phone: str) -> str:
    phone = phone or ""
    return phone[:3] + "****" + phone[-4:] if len(phone) >= 7 else phone


def chinese_ordinal(n: int) -> str:
    """1 → 一, 10 → 十, 12 → 十二, 20 → 二十 (section numbers of the notice)."""
    if n <= 10:
        return _NUMERALS[n]
    tens, units = divmod(n, 10)
    head = "" if tens == 1 else _NUMERALS[tens]
    return head + "十" + (_NUMERALS[units] if units else "")


def form_date(value: dt.datetime | str | None) -> str:
    if not value:
        return ""
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    day = timezone.localtime(value).date() if timezone.is_aware(value) else value.date()
    return f"{day.year}年{day.month}月{day.day}日"


def copy_plan(copies: int, masked_on: str) -> list[dict]:
    """Which copies are printed and which of them mask the ID number.

    One copy stays with the authority; two or more give the first to the applicant.
    """
    copies = max(1, copies)
    labels = [AUTHORITY_COPY_LABEL] if copies == 1 else [APPLICANT_COPY_LABEL]
    authority_copies = copies - 1 if copies > 1 else 0
    for index in range(authority_copies):
        suffix = f"（{chinese_ordinal(index + 1)}）" if authority_copies > 1 else ""
        labels.append(AUTHORITY_COPY_LABEL + suffix)
    plan = []
    for label in labels:
        is_applicant = label == APPLICANT_COPY_LABEL
        masked = masked_on == MaskedCopy.BOTH or (
            masked_on == (MaskedCopy.APPLICANT if is_applicant else MaskedCopy.AUTHORITY)
        )
        plan.append({"label": label, "masked": masked, "is_applicant": is_applicant})
    return plan


def qr_data_uri(url: str) -> str:
    import segno

    return segno.make(url, error="m", micro=False).svg_data_uri(border=0, dark="#000")


def _image_data_uri(raw: bytes) -> str:
    mime = "image/jpeg" if raw[:2] == b"\xff\xd8" else "image/png"
    return f"data:{mime};base64,{base64.b64encode(raw).decode()}"


def signature_data_uri(pledge: Pledge) -> str:
    """The drawn signature as a data URI, or "" when the pledge was signed on paper."""
    if not pledge.signature:
        return ""
    try:
        with pledge.signature.open("rb") as handle:
            return _image_data_uri(handle.read())
    except FileNotFoundError:
        logger.error("signature file of %s is missing", pledge.number)
        return ""


def public_verify_url(pledge: Pledge) -> str:
    return settings.CHENGNUO_PUBLIC_BASE_URL.rstrip("/") + selectors.verify_path(pledge)


# ---- the form's content ---------------------------------------------------------------


def _notice(sections) -> list[dict]:
    return [
        {"ordinal": chinese_ordinal(i), "title": s.get("title", ""), "body": s.get("body", "")}
        for i, s in enumerate(sections or [], start=1)
    ]


def pledge_form_context(pledge: Pledge) -> dict:
    """Everything the form prints, from the frozen content (plus the decrypted ID number)."""
    content = pledge.content
    applicant = content.get("applicant", {})
    matter = content.get("matter", {})
    full_id = pledge.person.id_number
    full_phone = pledge.applicant_phone or ""
    copies = []
    for copy in copy_plan(pledge.matter.copies, pledge.matter.id_masked_on):
        masked = copy["masked"]
        copies.append(
            {
                **copy,
                "applicant": {
                    "name": applicant.get("name") or pledge.applicant_name,
                    "id_type": applicant.get("id_type", "居民身份证"),
                    "id_number": (applicant.get("id_masked") or id_numbers.mask(full_id))
                    if masked
                    else full_id,
                    "phone": (applicant.get("phone_masked") or mask_phone(full_phone))
                    if masked
                    else full_phone,
                    "address": " ".join(
                        part for part in (applicant.get("town"), applicant.get("address")) if part
                    ),
                    "agent": applicant.get("agent") or "",
                    "authorisation": applicant.get("authorisation") or "",
                },
            }
        )
    verify_url = public_verify_url(pledge)
    return {
        "blank": False,
        "title": content.get("title") or form_title(matter.get("name", pledge.matter.name)),
        "number": pledge.number,
        "matter": matter,
        "template_version": content.get("template_version", pledge.template.version),
        "notice": _notice(content.get("notice")),
        "statements": content.get("statements") or [],
        "authority": content.get("authority") or matter.get("department", ""),
        "channel_label": CHANNEL_LABELS.get(content.get("channel"), ""),
        "signed_date": form_date(content.get("signed_at") or pledge.signed_at),
        "typed_name": pledge.typed_name,
        "signature_uri": signature_data_uri(pledge),
        "verify_url": verify_url,
        "qr_uri": qr_data_uri(verify_url),
        "content_sha256": pledge.content_sha256,
        "copies": copies,
        "font_stack": pdf.font_stack_css(),
    }


def blank_form_context(matter: Matter) -> dict:
    """A form for hand filling: the current text, the matter code and version, no number."""
    template = matter.current_template()
    if template is None:
        raise DomainError(_("This matter has no published pledge text yet."), field="matter")
    blank_applicant = {
        "name": "",
        "id_type": "",
        "id_number": "",
        "phone": "",
        "address": "",
        "agent": "",
    }
    copies = [
        {**copy, "applicant": blank_applicant}
        for copy in copy_plan(matter.copies, matter.id_masked_on)
    ]
    return {
        "blank": True,
        "title": form_title(matter.name),
        "number": "",
        "matter": {
            "code": matter.code,
            "name": matter.name,
            "certificate": matter.certificate,
            "legal_basis": matter.legal_basis,
            "department": matter.department.name,
        },
        "template_version": template.version,
        "notice": _notice(template.notice),
        "statements": template.statements or [],
        "authority": matter.department.name,
        "copies": copies,
        "font_stack": pdf.font_stack_css(),
    }


def pledge_form_html(pledge: Pledge) -> str:
    return render_to_string(FORM_TEMPLATE, pledge_form_context(pledge))


def blank_form_html(matter: Matter) -> str:
    return render_to_string(FORM_TEMPLATE, blank_form_context(matter))


def pledge_form_render(pledge: Pledge) -> bytes:
    """The PDF bytes of ``pledge``'s form, freshly rendered (nothing stored)."""
    return pdf.render_pdf(pledge_form_html(pledge), title=pledge.number, accessible=True)


# ---- the stored form of a pledge --------------------------------------------------------


def _stored(pledge: Pledge) -> bool:
    return bool(pledge.pdf.name) and _storage().exists(pledge.pdf.name)


def pledge_pdf_store(*, pledge: Pledge) -> Pledge:
    """The pledge with its stored form, rendering and storing it if there is none yet.

    Safe under concurrency and when run twice: render outside the lock, then lock the row,
    re-check and write. Of two renders at once one file is kept and the other discarded.
    """
    if _stored(pledge):
        return pledge
    pledge = Pledge.objects.select_related("matter", "person", "template").get(pk=pledge.pk)
    if _stored(pledge):
        return pledge
    data = pledge_form_render(pledge)
    with transaction.atomic():
        locked = Pledge.objects.select_for_update().get(pk=pledge.pk)
        if _stored(locked):
            return locked
        stale = locked.pdf.name
        # One name per pledge, replaced if there: a worker killed between storing the file and
        # the commit leaves that file, and the rerun writes over it rather than beside it.
        name = locked.pdf.field.generate_filename(locked, f"{locked.number}.pdf")
        locked.pdf.name = _store_form(name, data)
        locked.pdf_sha256 = hashlib.sha256(data).hexdigest()
        try:
            locked.save(update_fields=["pdf", "pdf_sha256"])
        except Exception:
            _storage().delete(locked.pdf.name)
            raise
        if stale and stale != locked.pdf.name:
            # A name on the row whose file was gone: the new file replaces it.
            logger.warning("stored form %s of %s was missing; rendered again", stale, locked)
    return locked


def _store_form(name: str, data: bytes) -> str:
    """Write a rendered form under ``name`` (a seam of its own, where a rerun overwrites)."""
    return save_replacing(_storage(), name, data)


def pledge_pdf_print(*, pledge: Pledge, actor, via: str) -> Pledge:
    """Print or download ``pledge``'s form: the stored one, made on first use.

    Staff prints and downloads go to the audit log (the form holds the full ID number).
    """
    if not selectors.pledges_visible_to(actor).filter(pk=pledge.pk).exists():
        raise NotAllowed(_("You may not print this pledge."))
    pledge = pledge_pdf_store(pledge=pledge)
    if roles.is_staff_role(actor):
        audit_record(
            actor=actor,
            action="pledge.printed",
            obj=pledge,
            person_hash=pledge.person.id_hash,
            data={"number": pledge.number, "via": via},
        )
    return pledge


def pledge_pdf_filename(pledge: Pledge) -> str:
    return f"{pledge.number}.pdf"


# ---- blank forms --------------------------------------------------------------------------


def blank_form_name(matter: Matter) -> str:
    """The storage name of ``matter``'s blank form: changes whenever anything printed does."""
    context = blank_form_context(matter)
    context.pop("font_stack")
    digest = hashlib.sha256(
        canonical_json({"layout": FORM_LAYOUT_VERSION, "form": context}).encode()
    ).hexdigest()[:16]
    code = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in matter.code)
    return f"blank-forms/{code}-v{context['template_version']}-{digest}.pdf"


def _write_once(name: str, data: bytes) -> str:
    """Store ``data`` under exactly ``name``, atomically where the storage is a file system.

    Two writers at once both complete and one file remains; a reader never sees half a file.
    """
    storage = _storage()
    try:
        final_path = storage.path(name)
    except NotImplementedError:
        # Object stores write whole objects; a second writer replaces identical content.
        if not storage.exists(name):
            storage.save(name, ContentFile(data))
        return name
    os.makedirs(os.path.dirname(final_path), exist_ok=True)
    temporary = f"{final_path}.{uuid.uuid4().hex}.tmp"
    with open(temporary, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, final_path)
    return name


def blank_form_get(*, matter: Matter, actor=None) -> str:
    """The storage name of ``matter``'s blank form, rendered and stored on first use."""
    if not selectors.matter_is_pledgeable(matter):
        raise DomainError(
            _("This matter does not accept pledges; it has no pledge form."),
            field="matter",
            code="not_pledgeable",
        )
    name = blank_form_name(matter)
    if not _storage().exists(name):
        data = pdf.render_pdf(blank_form_html(matter), title=matter.code, accessible=True)
        _write_once(name, data)
    if roles.is_staff_role(actor):
        audit_record(
            actor=actor,
            action="matter.blank_form_printed",
            obj=matter,
            data={"matter": matter.code},
        )
    return name


def blank_form_filename(matter: Matter) -> str:
    template = matter.current_template()
    return f"{matter.code}-v{template.version if template else 0}-blank.pdf"


# ---- batches ------------------------------------------------------------------------------


def batch_numbers_for_day(day: dt.date, *, matter: Matter | None = None, among=None) -> list[str]:
    """The pledges signed on ``day`` (local time) that still stand, in number order;
    ``among`` (a pledge queryset: the clerk's scope) narrows them."""
    tz = timezone.get_current_timezone()
    start = dt.datetime.combine(day, dt.time.min, tzinfo=tz)
    qs = Pledge.objects.all() if among is None else among
    qs = qs.filter(signed_at__gte=start, signed_at__lt=start + dt.timedelta(days=1))
    qs = qs.exclude(status=PledgeStatus.WITHDRAWN)
    if matter is not None:
        qs = qs.filter(matter=matter)
    return list(qs.order_by("number").values_list("number", flat=True))


def batch_print_start(
    *, actor, numbers=(), day: dt.date | None = None, matter: Matter | None = None
) -> BackgroundJob:
    """Queue a batch: the pledges of ``day`` (optionally one matter's) or the ``numbers``,
    among the pledges the clerk may print (a number outside them is "unknown")."""
    if not roles.has_role(actor, roles.WINDOW_CLERK):
        raise NotAllowed(_("Only a window clerk prints batches."))
    scope = selectors.pledges_visible_to(actor)
    if numbers:
        wanted = list(dict.fromkeys(n.strip().upper() for n in numbers if n.strip()))
        found = set(scope.filter(number__in=wanted).values_list("number", flat=True))
        unknown = [n for n in wanted if n not in found]
        if unknown:
            raise DomainError(
                _("Unknown pledge numbers: %(numbers)s") % {"numbers": ", ".join(unknown[:10])},
                field="numbers",
            )
        selected = wanted
    elif day is not None:
        selected = batch_numbers_for_day(day, matter=matter, among=scope)
    else:
        raise DomainError(_("Choose a day or list the pledge numbers."), field="numbers")
    if not selected:
        raise DomainError(_("No pledge to print for this choice."), field="day")
    if len(selected) > BATCH_LIMIT:
        raise DomainError(
            _("At most %(limit)s forms per batch; this choice has %(count)s.")
            % {"limit": BATCH_LIMIT, "count": len(selected)},
            field="numbers",
        )
    from .tasks import print_pledge_batch

    with transaction.atomic():
        job = BackgroundJob.objects.create(
            kind=BATCH_KIND,
            owner=actor,
            total=len(selected),
            params={
                "numbers": selected,
                "day": day.isoformat() if day and not numbers else "",
                "matter": matter.code if matter and not numbers else "",
            },
        )
        audit_record(
            actor=actor,
            action="pledge.batch_print_queued",
            obj=job,
            data={"count": len(selected), "day": job.params["day"]},
        )
        enqueue(print_pledge_batch, job.pk, dedupe_key=f"pledges.batch_print:{job.pk}")
    return job


def _merge(stored_names: list[str]) -> bytes:
    from pypdf import PdfWriter

    writer = PdfWriter()
    storage = _storage()
    for name in stored_names:
        with storage.open(name, "rb") as handle:
            writer.append(io.BytesIO(handle.read()))
    out = io.BytesIO()
    writer.write(out)
    writer.close()
    return out.getvalue()


def batch_print_run(*, job_id: int) -> BackgroundJob | None:
    """Print a queued batch: store every form (progress per form), then merge them.

    Safe to run twice: a finished or failed job is left alone, stored forms are reused.
    """
    job = BackgroundJob.objects.filter(pk=job_id, kind=BATCH_KIND).select_related("owner").first()
    if job is None or job.status in (BackgroundJob.Status.DONE, BackgroundJob.Status.FAILED):
        return job
    BackgroundJob.objects.filter(pk=job.pk).update(status=BackgroundJob.Status.RUNNING, done=0)
    numbers = job.params.get("numbers", [])
    # A rerun (the worker died midway) reuses the stored forms and logs each print once.
    audited = set(
        AuditEvent.objects.filter(action="pledge.printed", data__job=job.pk).values_list(
            "object_id", flat=True
        )
    )
    try:
        pledges = {
            p.number: p
            for p in Pledge.objects.select_related("matter", "person", "template").filter(
                number__in=numbers
            )
        }
        names = []
        for done, number in enumerate(numbers, start=1):
            pledge = pledges.get(number)
            if pledge is not None:
                pledge = pledge_pdf_store(pledge=pledge)
                names.append(pledge.pdf.name)
                if job.owner is not None and str(pledge.pk) not in audited:
                    audit_record(
                        actor=job.owner,
                        action="pledge.printed",
                        obj=pledge,
                        person_hash=pledge.person.id_hash,
                        data={"number": number, "via": "batch", "job": job.pk},
                    )
            BackgroundJob.objects.filter(pk=job.pk).update(done=done)
        if not names:
            raise DomainError(_("None of the pledges of this batch exists any more."))
        data = _merge(names)
        result_name = save_replacing(_storage(), f"batches/batch-{job.pk}.pdf", data)
        BackgroundJob.objects.filter(pk=job.pk).update(
            status=BackgroundJob.Status.DONE,
            result_file=result_name,
            result={"forms": len(names), "bytes": len(data)},
            finished_at=timezone.now(),
        )
    except Exception as exc:
        logger.exception("batch print %s failed", job.pk)
        BackgroundJob.objects.filter(pk=job.pk).update(
            status=BackgroundJob.Status.FAILED,
            error=str(exc)[:2000] or exc.__class__.__name__,
            finished_at=timezone.now(),
        )
    job.refresh_from_db()
    return job


def batch_for(user, job_id: int) -> BackgroundJob | None:
    """A batch job as its owner sees it; nobody else sees it."""
    if not getattr(user, "is_authenticated", False):
        return None
    return BackgroundJob.objects.filter(pk=job_id, kind=BATCH_KIND, owner=user).first()


def batch_jobs_of(user, limit: int = 10):
    return BackgroundJob.objects.filter(kind=BATCH_KIND, owner=user).order_by("-created_at")[:limit]


def batch_download(*, job: BackgroundJob, actor):
    """Open a finished batch's PDF (audited: it holds many people's forms)."""
    if job.status != BackgroundJob.Status.DONE or not job.result_file:
        raise DomainError(_("This batch is not finished yet."), code="not_ready")
    audit_record(
        actor=actor,
        action="pledge.batch_downloaded",
        obj=job,
        data={"forms": job.result.get("forms", 0)},
    )
    return _storage().open(job.result_file, "rb")


# ---- public verification ------------------------------------------------------------------


def verify_lookup(number: str, token: str) -> Pledge | None:
    """The pledge a QR link names, or None when the number is unknown or the token wrong."""
    pledge = Pledge.objects.select_related("matter").filter(number=(number or "").upper()).first()
    if pledge is None:
        # Same work as a real check, so timing does not tell unknown numbers apart.
        check_token(selectors.VERIFY_PURPOSE, f"{number}:", token)
        return None
    if not check_token(selectors.VERIFY_PURPOSE, f"{pledge.number}:{pledge.content_sha256}", token):
        return None
    return pledge


def open_stored_pdf(pledge: Pledge):
    return _storage().open(pledge.pdf.name, "rb")


def open_stored(name: str):
    return _storage().open(name, "rb")
