"""Writes of the oversight app. Each public function is one transaction.

The merge of a catalog list is the one place where ``oversight`` writes another app's rows
(the ``Matter`` catalog): ``pledges.services`` offers no catalog write yet, and the merge
belongs to the bureau's workflow. The catalog itself is written by
``pledges.services.matters_upsert``, which keeps every change in the matters' history with
the bureau officer as the author.
"""

from __future__ import annotations

import hashlib
import logging
import re

from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts import roles
from accounts.models import Unit
from core.audit import audit_record
from core.calendar import add_working_days
from core.errors import Conflict, DomainError, NotAllowed
from core.models import BackgroundJob
from core.notifications import notify
from core.outbox import enqueue

from . import conf, progress, selectors, xlsx
from .models import (
    CatalogList,
    CatalogListError,
    CatalogListRow,
    Complaint,
    ComplaintAttachment,
    ComplaintChannel,
    ComplaintEvent,
    ComplaintNumberCounter,
    ComplaintStatus,
    ServiceGuide,
)

logger = logging.getLogger(__name__)

IMPORT_JOB = "catalog_list_import"
REPORT_EXPORT_JOB = "quarterly_report_export"
IMPORT_BATCH = 2000


# ---- service guides --------------------------------------------------------------------


def guide_publish(*, guide: ServiceGuide, actor=None) -> ServiceGuide:
    with transaction.atomic():
        guide = ServiceGuide.objects.select_for_update().get(pk=guide.pk)
        if guide.is_published:
            return guide
        if not guide.office.strip():
            raise DomainError(_("A guide needs its responsible office."), field="office")
        guide.status = ServiceGuide.Status.PUBLISHED
        guide.published_at = timezone.now()
        guide.save(update_fields=["status", "published_at", "updated_at"])
        audit_record(actor=actor, action="guide.published", obj=guide)
    return guide


def guide_unpublish(*, guide: ServiceGuide, actor=None) -> ServiceGuide:
    with transaction.atomic():
        guide = ServiceGuide.objects.select_for_update().get(pk=guide.pk)
        if not guide.is_published:
            return guide
        guide.status = ServiceGuide.Status.DRAFT
        guide.save(update_fields=["status", "updated_at"])
        audit_record(actor=actor, action="guide.unpublished", obj=guide)
    return guide


# ---- catalog lists ---------------------------------------------------------------------

LIST_UNIT_KINDS = (Unit.Kind.TOWN, Unit.Kind.STREET, Unit.Kind.DEPARTMENT)


def _list_unit_for(actor) -> Unit:
    """The unit whose list ``actor`` hands in: a list submitter's own town, street or
    department; the bureau may hand in a city-wide list (e.g. re-importing the catalog)."""
    unit = getattr(actor, "unit", None)
    if roles.has_role(actor, roles.LIST_SUBMITTER):
        if unit is None or unit.kind not in LIST_UNIT_KINDS:
            raise NotAllowed(
                _(
                    "Your account must belong to a town, street office or department "
                    "to hand in a list."
                )
            )
        return unit
    if roles.has_role(actor, roles.OVERSIGHT_OFFICER):
        if unit is None:
            raise NotAllowed(_("Your account belongs to no unit."))
        return unit
    raise NotAllowed(_("Only list submitters and the bureau hand in catalog lists."))


def catalog_list_submit(*, actor, upload) -> CatalogList:
    """Store an uploaded list and queue its import (a background job with progress)."""
    unit = _list_unit_for(actor)
    size = getattr(upload, "size", None) or 0
    if size > conf.list_max_bytes():
        raise DomainError(
            _("The file is too large: at most %(mb)s MB.")
            % {"mb": conf.list_max_bytes() // (1024 * 1024)},
            field="file",
        )
    if size == 0:
        raise DomainError(_("The file is empty."), field="file")
    digest = hashlib.sha256()
    for chunk in upload.chunks():
        digest.update(chunk)
    upload.seek(0)
    head = upload.read(8)
    upload.seek(0)
    if not head.startswith(xlsx.ZIP_MAGIC) and not head.startswith(xlsx.CFB_MAGIC):
        # Refused at once; an encrypted workbook gets its own message from the import.
        raise DomainError(_("The file is not an XLSX workbook. Use the template."), field="file")
    name = re.sub(r"[^\w.\-]+", "_", getattr(upload, "name", "") or "list.xlsx")[-120:]
    with transaction.atomic():
        job = BackgroundJob.objects.create(
            kind=IMPORT_JOB, owner=actor if actor.is_authenticated else None
        )
        catalog_list = CatalogList(
            unit=unit,
            submitted_by=actor,
            file_name=(getattr(upload, "name", "") or "list.xlsx")[:200],
            file_sha256=digest.hexdigest(),
            file_size=size,
            job=job,
        )
        catalog_list.file.save(f"{unit.code}-{digest.hexdigest()[:16]}-{name}", upload, save=False)
        catalog_list.save()
        job.params = {"catalog_list": catalog_list.pk}
        job.save(update_fields=["params"])
        audit_record(
            actor=actor,
            action="catalog_list.submitted",
            obj=catalog_list,
            data={"unit": unit.code, "file": catalog_list.file_name, "sha256": digest.hexdigest()},
        )
        from .tasks import import_catalog_list

        enqueue(
            import_catalog_list,
            catalog_list.pk,
            dedupe_key=f"oversight.import_list:{catalog_list.pk}",
        )
    return catalog_list


class _Refuse(Exception):
    """Raised inside the import's transaction to roll every inserted row back."""


def catalog_list_import(*, catalog_list_id: int) -> CatalogList:
    """Read, check and store the rows of a queued list: all of them, or none.

    Safe to run twice: a list that is no longer queued is returned as it is. Rows go in by
    batches inside one transaction; the first error stops the inserts (checking goes on to
    report every row) and the transaction is rolled back, then the errors are stored.
    """
    with transaction.atomic():
        catalog_list = CatalogList.objects.select_for_update().get(pk=catalog_list_id)
        # ``importing``: a worker died mid-import (its rows were rolled back); start again.
        if catalog_list.status not in (CatalogList.Status.QUEUED, CatalogList.Status.IMPORTING):
            return catalog_list
        catalog_list.status = CatalogList.Status.IMPORTING
        catalog_list.save(update_fields=["status"])
        job = catalog_list.job
        if job is not None:
            BackgroundJob.objects.filter(pk=job.pk).update(status=BackgroundJob.Status.RUNNING)
    unit = catalog_list.unit
    own_department = unit.code if unit.kind == Unit.Kind.DEPARTMENT else None
    department_codes = set(selectors.department_codes())
    job_id = catalog_list.job_id
    refusal = ""
    reader = None
    stored = 0
    try:
        with catalog_list.file.open("rb") as handle:
            reader = xlsx.ListReader(
                handle,
                department_codes=department_codes,
                own_department=own_department,
                on_progress=(lambda done, total: progress.report(job_id, done, total))
                if job_id
                else None,
            )
            try:
                with transaction.atomic():
                    batch: list[CatalogListRow] = []
                    for row in reader.rows():
                        if reader.error_count == 0:
                            batch.append(CatalogListRow(catalog_list_id=catalog_list.pk, **row))
                            if len(batch) >= IMPORT_BATCH:
                                CatalogListRow.objects.bulk_create(batch)
                                stored += len(batch)
                                batch = []
                        elif batch:
                            batch = []
                    if reader.error_count:
                        raise _Refuse
                    CatalogListRow.objects.bulk_create(batch)
                    stored += len(batch)
                    _finish_import(catalog_list, reader, stored)
            except _Refuse:
                pass
    except xlsx.ListFileRefused as refused:
        refusal = refused.message
    except Exception:
        logger.exception("catalog list %s could not be imported", catalog_list_id)
        refusal = _("The file could not be read. Check that it is an XLSX made from the template.")
    catalog_list.refresh_from_db()
    if catalog_list.status == CatalogList.Status.IMPORTED:
        return catalog_list
    _refuse_import(catalog_list, reader, refusal)
    catalog_list.refresh_from_db()
    return catalog_list


def _finish_import(catalog_list: CatalogList, reader, stored: int) -> None:
    catalog_list.status = CatalogList.Status.IMPORTED
    catalog_list.row_count = stored
    catalog_list.error_count = 0
    catalog_list.imported_at = timezone.now()
    catalog_list.save(update_fields=["status", "row_count", "error_count", "imported_at"])
    if catalog_list.job_id:
        BackgroundJob.objects.filter(pk=catalog_list.job_id).update(
            status=BackgroundJob.Status.DONE,
            done=reader.rows_read,
            total=reader.rows_read,
            result={"rows": stored},
            finished_at=timezone.now(),
        )
    audit_record(
        actor=catalog_list.submitted_by,
        action="catalog_list.imported",
        obj=catalog_list,
        data={"rows": stored},
    )
    notify(
        recipient=catalog_list.submitted_by,
        kind="catalog_list.imported",
        title=_("Your list was imported: %(rows)s items.") % {"rows": stored},
        body=_("The bureau will review what it changes in the catalog."),
        link=f"/lists/{catalog_list.pk}/",
        dedupe_key=f"catalog_list:{catalog_list.pk}:imported",
    )
    list_id, job_id = catalog_list.pk, catalog_list.job_id
    transaction.on_commit(lambda: progress.clear(job_id) if job_id else None)
    logger.info("catalog list %s imported with %s rows", list_id, stored)


def _refuse_import(catalog_list: CatalogList, reader, refusal: str) -> None:
    with transaction.atomic():
        catalog_list = CatalogList.objects.select_for_update().get(pk=catalog_list.pk)
        if catalog_list.status != CatalogList.Status.IMPORTING:
            return
        catalog_list.errors.all().delete()
        errors = list(reader.errors) if reader is not None else []
        if refusal:
            errors.insert(0, xlsx.RowError(0, "", "", refusal))
        CatalogListError.objects.bulk_create(
            CatalogListError(
                catalog_list=catalog_list,
                row_number=error.row,
                column=error.column[:64],
                value=error.value[:200],
                message=error.message[:300],
            )
            for error in errors
        )
        count = (reader.error_count if reader is not None else 0) + (1 if refusal else 0)
        catalog_list.status = CatalogList.Status.REFUSED
        catalog_list.refusal = (
            refusal
            or _("%(count)s problems found; nothing was imported. Correct them and upload again.")
            % {"count": count}
        )[:500]
        catalog_list.row_count = 0
        catalog_list.error_count = count
        catalog_list.save(update_fields=["status", "refusal", "row_count", "error_count"])
        if catalog_list.job_id:
            BackgroundJob.objects.filter(pk=catalog_list.job_id).update(
                status=BackgroundJob.Status.FAILED,
                error=catalog_list.refusal,
                finished_at=timezone.now(),
            )
        audit_record(
            actor=catalog_list.submitted_by,
            action="catalog_list.refused",
            obj=catalog_list,
            data={"errors": count, "refusal": refusal[:200]},
        )
        notify(
            recipient=catalog_list.submitted_by,
            kind="catalog_list.refused",
            title=_("Your list was refused; nothing was imported."),
            body=catalog_list.refusal,
            link=f"/lists/{catalog_list.pk}/",
            dedupe_key=f"catalog_list:{catalog_list.pk}:refused",
        )
        job_id = catalog_list.job_id
        transaction.on_commit(lambda: progress.clear(job_id) if job_id else None)


def _require_officer(actor) -> None:
    if not roles.has_role(actor, roles.OVERSIGHT_OFFICER):
        raise NotAllowed(_("Only the bureau's oversight officers may do this."))


# The matter fields a list sets. ``valid_from`` only when the row gives one.
LIST_FIELDS = ("name", "certificate", "disposition", "legal_basis", "where_instead", "valid_to")


def catalog_list_merge(*, catalog_list: CatalogList, actor, note: str = "") -> CatalogList:
    """Merge an imported list into the city's catalog: new matters created, changed ones
    updated (each change kept in the matter's history), nothing deleted."""
    _require_officer(actor)
    with transaction.atomic():
        catalog_list = CatalogList.objects.select_for_update().get(pk=catalog_list.pk)
        if not catalog_list.can_move_to(CatalogList.Status.MERGED):
            raise Conflict(
                _("This list is %(status)s; only an imported list can be merged.")
                % {"status": catalog_list.get_status_display()},
                code="invalid_state",
            )
        diff = selectors.catalog_list_diff(catalog_list, limit=None)
        if diff["conflicts"]:
            first = diff["conflicts"][0]
            raise Conflict(
                _("Row %(row)s (%(code)s): %(problem)s")
                % {"row": first["row"], "code": first["code"], "problem": first["problem"]},
                code="list_conflict",
            )
        created, updated = _matters_upsert(diff, actor=actor, catalog_list=catalog_list)
        catalog_list.status = CatalogList.Status.MERGED
        catalog_list.decided_at = timezone.now()
        catalog_list.decided_by = actor
        catalog_list.decision_note = note[:500]
        catalog_list.merge_summary = {
            "created": created,
            "updated": updated,
            "unchanged": diff["counts"]["unchanged"],
        }
        catalog_list.save(
            update_fields=["status", "decided_at", "decided_by", "decision_note", "merge_summary"]
        )
        audit_record(
            actor=actor,
            action="catalog_list.merged",
            obj=catalog_list,
            data=catalog_list.merge_summary,
        )
        notify(
            recipient=catalog_list.submitted_by,
            kind="catalog_list.merged",
            title=_("Your list was merged into the city's catalog."),
            body=_("%(created)s new, %(updated)s changed, %(unchanged)s unchanged.")
            % catalog_list.merge_summary,
            link=f"/lists/{catalog_list.pk}/",
            dedupe_key=f"catalog_list:{catalog_list.pk}:merged",
        )
    return catalog_list


def _matters_upsert(diff: dict, *, actor, catalog_list: CatalogList) -> tuple[int, int]:
    """Write a list's diff into the catalog (through pledges), then give new items a guide."""
    from pledges.services import matters_upsert

    departments = {unit.code: unit for unit in Unit.objects.filter(kind=Unit.Kind.DEPARTMENT)}
    new = []
    for row in diff["new_rows"]:
        values = {key: row[key] for key in LIST_FIELDS}
        if row["valid_from"]:
            values["valid_from"] = row["valid_from"]
        new.append({"code": row["code"], "department": departments[row["department"]], **values})
    changes = []
    for matter, row, changed in diff["changed_rows"]:
        values = {
            key: departments[row[key]] if key == "department" else row[key] for key in changed
        }
        changes.append((matter, values))
    created, updated = matters_upsert(
        new=new,
        changes=changes,
        actor=actor,
        reason=f"catalog list #{catalog_list.pk} ({catalog_list.unit.code})",
    )
    # Every catalog item has a guide: a draft for the catalog administrator to complete.
    ServiceGuide.objects.bulk_create(
        [ServiceGuide(matter=m, office=m.department.name) for m in created],
        batch_size=500,
        ignore_conflicts=True,
    )
    return len(created), updated


def catalog_list_reject(*, catalog_list: CatalogList, actor, note: str) -> CatalogList:
    _require_officer(actor)
    if not note.strip():
        raise DomainError(_("Say why the list is rejected."), field="note")
    with transaction.atomic():
        catalog_list = CatalogList.objects.select_for_update().get(pk=catalog_list.pk)
        if not catalog_list.can_move_to(CatalogList.Status.REJECTED):
            raise Conflict(
                _("This list is %(status)s; only an imported list can be rejected.")
                % {"status": catalog_list.get_status_display()},
                code="invalid_state",
            )
        catalog_list.status = CatalogList.Status.REJECTED
        catalog_list.decided_at = timezone.now()
        catalog_list.decided_by = actor
        catalog_list.decision_note = note.strip()[:500]
        catalog_list.save(update_fields=["status", "decided_at", "decided_by", "decision_note"])
        audit_record(
            actor=actor,
            action="catalog_list.rejected",
            obj=catalog_list,
            data={"note": catalog_list.decision_note},
        )
        notify(
            recipient=catalog_list.submitted_by,
            kind="catalog_list.rejected",
            title=_("The bureau rejected your list."),
            body=catalog_list.decision_note,
            link=f"/lists/{catalog_list.pk}/",
            dedupe_key=f"catalog_list:{catalog_list.pk}:rejected",
        )
    return catalog_list


# ---- complaints ------------------------------------------------------------------------

ATTACHMENT_TYPES = {
    "image/jpeg": "jpg",
    "image/png": "png",
    "image/webp": "webp",
    "image/heic": "heic",
    "application/pdf": "pdf",
}


def _next_tracking_number(year: int) -> str:
    """Next ``TS-<year>-<6 digits>`` under a row lock, inside the complaint's transaction;
    the unique constraint on the number backs it."""
    try:
        with transaction.atomic():
            ComplaintNumberCounter.objects.get_or_create(year=year)
    except IntegrityError:
        pass
    counter = ComplaintNumberCounter.objects.select_for_update().get(year=year)
    counter.last += 1
    counter.save(update_fields=["last"])
    return f"TS-{year}-{counter.last:06d}"


def check_attachment(upload) -> tuple[str, bytes]:
    """Sniff an attachment's real type from its bytes (never its name); return type and bytes."""
    import filetype

    limit = conf.complaint_attachment_max_bytes()
    size = getattr(upload, "size", None)
    if size is not None and size > limit:
        raise DomainError(
            _("An attachment may be at most %(mb)s MB.") % {"mb": limit // (1024 * 1024)},
            field="attachments",
        )
    data = upload.read(limit + 1)
    if len(data) > limit:
        raise DomainError(
            _("An attachment may be at most %(mb)s MB.") % {"mb": limit // (1024 * 1024)},
            field="attachments",
        )
    if not data:
        raise DomainError(_("An attachment is empty."), field="attachments")
    kind = filetype.guess(data[:8192])
    if kind is None or kind.mime not in ATTACHMENT_TYPES:
        raise DomainError(
            _("Attachments must be photos (JPEG, PNG, WebP, HEIC) or PDF documents."),
            field="attachments",
        )
    return kind.mime, data


def _event(complaint, *, actor, kind: str, note: str = "", public: bool = True) -> None:
    ComplaintEvent.objects.create(
        complaint=complaint,
        actor=actor if getattr(actor, "is_authenticated", False) else None,
        status=complaint.status,
        kind=kind,
        note=note,
        public=public,
    )


def complaint_file(*, data: dict, actor, attachments=(), channel: str = ComplaintChannel.ONLINE):
    """Record a complaint. Anyone may file one online; staff enter hotline calls."""
    if channel == ComplaintChannel.HOTLINE and not roles.is_staff_role(actor):
        raise NotAllowed(_("Only staff enter hotline complaints."), field="channel")
    attachments = list(attachments)
    if len(attachments) > conf.complaint_max_attachments():
        raise DomainError(
            _("At most %(n)s attachments.") % {"n": conf.complaint_max_attachments()},
            field="attachments",
        )
    checked = [(upload, *check_attachment(upload)) for upload in attachments]
    today = timezone.localdate()
    occurred_on = data["occurred_on"]
    if occurred_on > today:
        raise DomainError(_("The date cannot be in the future."), field="occurred_on")
    user = actor if getattr(actor, "is_authenticated", False) else None
    with transaction.atomic():
        complaint = Complaint.objects.create(
            tracking_number=_next_tracking_number(today.year),
            channel=channel,
            agency=data["agency"].strip(),
            certificate=data["certificate"].strip(),
            description=data["description"].strip(),
            occurred_on=occurred_on,
            place=(data.get("place") or "").strip(),
            contact=(data.get("contact") or "").strip(),
            submitted_by=user if channel == ComplaintChannel.ONLINE else None,
            entered_by=user if channel == ComplaintChannel.HOTLINE else None,
        )
        for upload, mime, raw in checked:
            digest = hashlib.sha256(raw).hexdigest()
            attachment = ComplaintAttachment(
                complaint=complaint,
                original_name=(getattr(upload, "name", "") or "attachment")[:200],
                content_type=mime,
                size=len(raw),
                sha256=digest,
            )
            attachment.file.save(
                f"{complaint.tracking_number}-{digest[:16]}.{ATTACHMENT_TYPES[mime]}",
                ContentFile(raw),
                save=False,
            )
            attachment.save()
        _event(complaint, actor=user, kind="received")
        audit_record(
            actor=user,
            action="complaint.filed",
            obj=complaint,
            data={"number": complaint.tracking_number, "channel": channel},
        )
    return complaint


def _locked_complaint(complaint: Complaint) -> Complaint:
    return Complaint.objects.select_for_update().get(pk=complaint.pk)


def _move(complaint: Complaint, status: str) -> None:
    if not complaint.can_move_to(status):
        raise Conflict(
            _("This complaint is %(status)s; that step is not possible now.")
            % {"status": complaint.get_status_display()},
            code="invalid_state",
        )
    complaint.status = status


def complaint_triage(
    *, complaint: Complaint, actor, accept: bool, note: str = "", matter=None
) -> Complaint:
    """Accept a complaint for handling, or dismiss it (out of scope, unfounded) with reasons."""
    _require_officer(actor)
    if not accept and not note.strip():
        raise DomainError(_("Say why the complaint is dismissed."), field="note")
    with transaction.atomic():
        complaint = _locked_complaint(complaint)
        _move(complaint, ComplaintStatus.ACCEPTED if accept else ComplaintStatus.DISMISSED)
        complaint.triage_note = note.strip()[:500]
        fields = ["status", "triage_note"]
        if matter is not None:
            complaint.matter = matter
            fields.append("matter")
        if not accept:
            complaint.closed_at = timezone.now()
            complaint.outcome = complaint.triage_note
            fields += ["closed_at", "outcome"]
        complaint.save(update_fields=fields)
        _event(complaint, actor=actor, kind="accepted" if accept else "dismissed", note=note)
        audit_record(
            actor=actor,
            action="complaint.accepted" if accept else "complaint.dismissed",
            obj=complaint,
            data={"note": complaint.triage_note},
        )
    return complaint


def complaint_forward(
    *,
    complaint: Complaint,
    actor,
    superior: Unit | None = None,
    superior_name: str = "",
    working_days: int | None = None,
    note: str = "",
) -> Complaint:
    """Send the case to the agency's superior, who must have it corrected by a deadline
    counted in working days."""
    _require_officer(actor)
    name = (superior.name if superior else superior_name).strip()
    if not name:
        raise DomainError(_("Name the agency's superior."), field="superior")
    days = conf.correction_working_days() if working_days is None else int(working_days)
    if not 1 <= days <= 60:
        raise DomainError(_("The deadline is 1 to 60 working days."), field="working_days")
    with transaction.atomic():
        complaint = _locked_complaint(complaint)
        _move(complaint, ComplaintStatus.FORWARDED)
        complaint.superior = superior
        complaint.superior_name = name[:200]
        complaint.forwarded_at = timezone.now()
        complaint.correction_deadline = add_working_days(timezone.localdate(), days)
        complaint.overdue_since = None
        complaint.save(
            update_fields=[
                "status",
                "superior",
                "superior_name",
                "forwarded_at",
                "correction_deadline",
                "overdue_since",
            ]
        )
        _event(
            complaint,
            actor=actor,
            kind="forwarded",
            note=_("Forwarded to %(name)s; correction due by %(date)s.")
            % {"name": name, "date": complaint.correction_deadline.isoformat()},
        )
        if note.strip():
            _event(complaint, actor=actor, kind="note", note=note.strip(), public=False)
        audit_record(
            actor=actor,
            action="complaint.forwarded",
            obj=complaint,
            data={"superior": name, "deadline": complaint.correction_deadline.isoformat()},
        )
        if superior is not None:
            for recipient in selectors.unit_staff(superior):
                notify(
                    recipient=recipient,
                    kind="complaint.forwarded",
                    title=_("Complaint %(number)s: correction required by %(date)s")
                    % {
                        "number": complaint.tracking_number,
                        "date": complaint.correction_deadline.isoformat(),
                    },
                    body=_("%(agency)s demanded “%(certificate)s”.")
                    % {"agency": complaint.agency, "certificate": complaint.certificate},
                    dedupe_key=f"complaint:{complaint.pk}:forwarded:{int(complaint.forwarded_at.timestamp())}",
                )
    return complaint


def complaint_record_answer(
    *, complaint: Complaint, actor, answer: str, correction: str = ""
) -> Complaint:
    """Record the superior's answer, and the correction made if there is one."""
    _require_officer(actor)
    if not answer.strip():
        raise DomainError(_("Record the answer received."), field="answer")
    with transaction.atomic():
        complaint = _locked_complaint(complaint)
        now = timezone.now()
        target = ComplaintStatus.CORRECTED if correction.strip() else ComplaintStatus.ANSWERED
        _move(complaint, target)
        complaint.answer = answer.strip()
        complaint.answered_at = now
        fields = ["status", "answer", "answered_at"]
        if correction.strip():
            complaint.correction = correction.strip()
            complaint.corrected_at = now
            fields += ["correction", "corrected_at"]
        complaint.save(update_fields=fields)
        _event(complaint, actor=actor, kind="answered", note=complaint.answer)
        if correction.strip():
            _event(complaint, actor=actor, kind="corrected", note=complaint.correction)
        audit_record(
            actor=actor,
            action="complaint.answered",
            obj=complaint,
            data={"corrected": bool(correction.strip())},
        )
    return complaint


def complaint_close(*, complaint: Complaint, actor, outcome: str) -> Complaint:
    _require_officer(actor)
    if not outcome.strip():
        raise DomainError(_("Write the outcome."), field="outcome")
    with transaction.atomic():
        complaint = _locked_complaint(complaint)
        _move(complaint, ComplaintStatus.CLOSED)
        complaint.outcome = outcome.strip()[:500]
        complaint.closed_at = timezone.now()
        complaint.save(update_fields=["status", "outcome", "closed_at"])
        _event(complaint, actor=actor, kind="closed", note=complaint.outcome)
        audit_record(actor=actor, action="complaint.closed", obj=complaint)
        if complaint.submitted_by_id:
            notify(
                recipient=complaint.submitted_by,
                kind="complaint.closed",
                title=_("Your complaint %(number)s is closed.")
                % {"number": complaint.tracking_number},
                body=complaint.outcome,
                link=selectors.complaint_track_path(complaint),
                dedupe_key=f"complaint:{complaint.pk}:closed",
            )
    return complaint


def complaint_publish(*, complaint: Complaint, actor, summary: str) -> Complaint:
    """Publish the case, anonymised, on the public notices page (公开曝光)."""
    _require_officer(actor)
    summary = summary.strip()
    if not summary:
        raise DomainError(_("Write the summary to publish."), field="summary")
    with transaction.atomic():
        complaint = _locked_complaint(complaint)
        if complaint.status not in (ComplaintStatus.CORRECTED, ComplaintStatus.CLOSED):
            raise Conflict(
                _("Only a corrected or closed case can be published."), code="invalid_state"
            )
        complaint.public_summary = summary[:4000]
        complaint.published_at = complaint.published_at or timezone.now()
        complaint.save(update_fields=["public_summary", "published_at"])
        _event(complaint, actor=actor, kind="published")
        audit_record(actor=actor, action="complaint.published", obj=complaint)
    return complaint


def complaint_unpublish(*, complaint: Complaint, actor) -> Complaint:
    _require_officer(actor)
    with transaction.atomic():
        complaint = _locked_complaint(complaint)
        if complaint.published_at is None:
            return complaint
        complaint.published_at = None
        complaint.save(update_fields=["published_at"])
        _event(complaint, actor=actor, kind="unpublished", public=False)
        audit_record(actor=actor, action="complaint.unpublished", obj=complaint)
    return complaint


def complaints_flag_overdue(*, today=None) -> int:
    """Flag forwarded cases whose correction deadline has passed; notify the officer who
    forwarded them. Safe to run twice a day: a case is flagged once."""
    today = today or timezone.localdate()
    flagged = 0
    candidates = Complaint.objects.filter(
        status__in=[ComplaintStatus.FORWARDED, ComplaintStatus.ANSWERED],
        correction_deadline__lt=today,
        corrected_at__isnull=True,
        overdue_since__isnull=True,
    ).values_list("pk", flat=True)
    for pk in list(candidates):
        with transaction.atomic():
            complaint = Complaint.objects.select_for_update().get(pk=pk)
            if complaint.overdue_since is not None or complaint.corrected_at is not None:
                continue
            if complaint.correction_deadline is None or complaint.correction_deadline >= today:
                continue
            complaint.overdue_since = complaint.correction_deadline
            complaint.save(update_fields=["overdue_since"])
            _event(
                complaint,
                actor=None,
                kind="overdue",
                note=_("The correction was due by %(date)s and has not been reported.")
                % {"date": complaint.correction_deadline.isoformat()},
            )
            audit_record(actor=None, action="complaint.overdue", obj=complaint)
            forwarded = complaint.events.filter(kind="forwarded", actor__isnull=False).last()
            recipients = [forwarded.actor] if forwarded else list(selectors.oversight_officers())
            for recipient in recipients:
                notify(
                    recipient=recipient,
                    kind="complaint.overdue",
                    title=_("Complaint %(number)s: correction overdue since %(date)s")
                    % {
                        "number": complaint.tracking_number,
                        "date": complaint.correction_deadline.isoformat(),
                    },
                    link=f"/bureau/complaints/{complaint.tracking_number}/",
                    dedupe_key=f"complaint:{complaint.pk}:overdue:{complaint.correction_deadline}",
                )
            flagged += 1
    return flagged


# ---- quarterly reports -----------------------------------------------------------------


def report_export_start(*, quarter: str, fmt: str, actor) -> BackgroundJob:
    """Queue the export of a quarter's report as XLSX or PDF; a progress bar follows it."""
    if not roles.has_role(actor, roles.OVERSIGHT_OFFICER):
        raise NotAllowed(_("Only the bureau's oversight officers export the quarterly report."))
    if fmt not in ("xlsx", "pdf"):
        raise DomainError(_("The format is xlsx or pdf."), field="format")
    with transaction.atomic():
        job = BackgroundJob.objects.create(
            kind=REPORT_EXPORT_JOB,
            owner=actor,
            total=4,
            params={"quarter": quarter, "format": fmt},
        )
        audit_record(actor=actor, action="report.export_requested", obj=job, data=job.params)
        from .tasks import export_quarterly_report

        enqueue(export_quarterly_report, job.pk, dedupe_key=f"oversight.export_report:{job.pk}")
    return job


def report_export_run(*, job_id: int) -> BackgroundJob:
    """Build the export file of a queued job. Safe to run twice: a finished job is kept."""
    from django.core.files.storage import storages

    from . import reports

    with transaction.atomic():
        job = BackgroundJob.objects.select_for_update().get(pk=job_id)
        if job.status in (BackgroundJob.Status.DONE, BackgroundJob.Status.FAILED):
            return job
        job.status = BackgroundJob.Status.RUNNING
        job.save(update_fields=["status"])
    quarter, fmt = job.params["quarter"], job.params["format"]

    def step(done: int) -> None:
        BackgroundJob.objects.filter(pk=job_id).update(done=done)

    try:
        step(1)
        figures = selectors.quarterly_figures(quarter)
        step(2)
        content = reports.render_xlsx(figures) if fmt == "xlsx" else reports.render_pdf(figures)
        step(3)
        name = f"reports/jobs/{job_id}/report-{quarter}.{fmt}"
        storage = storages["private"]
        if storage.exists(name):
            storage.delete(name)
        stored = storage.save(name, ContentFile(content))
    except Exception as exc:
        logger.exception("quarterly report export %s failed", job_id)
        BackgroundJob.objects.filter(pk=job_id).update(
            status=BackgroundJob.Status.FAILED, error=str(exc)[:500], finished_at=timezone.now()
        )
        job.refresh_from_db()
        return job
    BackgroundJob.objects.filter(pk=job_id).update(
        status=BackgroundJob.Status.DONE,
        done=4,
        result_file=stored,
        result={"quarter": quarter, "format": fmt, "size": len(content)},
        finished_at=timezone.now(),
    )
    job.refresh_from_db()
    notify(
        recipient=job.owner,
        kind="report.exported",
        title=_("The report for %(quarter)s is ready.") % {"quarter": quarter},
        link=f"/bureau/jobs/{job_id}/",
        dedupe_key=f"report-export:{job_id}",
    )
    return job


def quarterly_report_prepare(*, quarter: str, actor=None, refresh: bool = False):
    """Freeze the quarter's figures with their XLSX and PDF (the beat task at quarter end).

    Safe to run twice: a prepared quarter is kept unless ``refresh`` asks for it again.
    """
    from . import reports
    from .models import QuarterlyReport

    existing = QuarterlyReport.objects.filter(quarter=quarter).first()
    if existing is not None and not refresh:
        return existing
    figures = selectors.quarterly_figures(quarter)
    xlsx_bytes = reports.render_xlsx(figures)
    pdf_bytes = reports.render_pdf(figures)
    with transaction.atomic():
        report, _created = QuarterlyReport.objects.select_for_update().get_or_create(
            quarter=quarter, defaults={"figures": {}}
        )
        if report.figures and not refresh:
            return report
        report.figures = reports.jsonable(figures)
        report.prepared_at = timezone.now()
        report.prepared_by = actor if getattr(actor, "is_authenticated", False) else None
        report.xlsx.save(f"report-{quarter}.xlsx", ContentFile(xlsx_bytes), save=False)
        report.pdf.save(f"report-{quarter}.pdf", ContentFile(pdf_bytes), save=False)
        report.save()
        audit_record(actor=actor, action="report.prepared", obj=report, data={"quarter": quarter})
        for officer in selectors.oversight_officers():
            notify(
                recipient=officer,
                kind="report.prepared",
                title=_("The quarterly report for %(quarter)s is prepared.") % {"quarter": quarter},
                link=f"/bureau/?quarter={quarter}",
                dedupe_key=f"report:{quarter}:prepared",
            )
    return report
