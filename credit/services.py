"""Writes of the credit app. Each public function is one transaction: lock, check the
transition, write, append the ledger event(s) and the audit event, then dispatch after commit.

Other apps report facts through ``record_draft`` only; they never touch the models.
"""

import datetime as dt
import hashlib
import logging

from django.db import IntegrityError, transaction
from django.db.models import Case, IntegerField, Max, Q, Value, When
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts import roles
from accounts.models import Person, User
from core.audit import audit_record
from core.calendar import add_working_days
from core.errors import Conflict, DomainError, NotAllowed, NotFound
from core.middleware import current_context
from core.notifications import notify
from core.outbox import enqueue

from . import conf, ledger
from .files import check_uploads, evidence, store
from .models import (
    ACTIVE_STATES,
    AccessLog,
    CreditBlock,
    CreditRecord,
    Objection,
    Push,
    RecordKind,
    RecordState,
    RepairApplication,
    Severity,
    Statement,
)
from .periods import periods_for

logger = logging.getLogger("chengnuo.credit")

MAX_TEXT = 5000


# ---- helpers ----------------------------------------------------------------------------


def _today():
    return timezone.localdate()


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _account_of(person):
    return User.objects.filter(person_id=person.pk, is_active=True).first()


def credit_officers():
    return User.objects.filter(is_active=True, groups__name=roles.CREDIT_OFFICER).distinct()


def _notify_person(record, *, kind, title, body="", dedupe=""):
    notify(
        recipient=_account_of(record.person),
        kind=kind,
        title=title,
        body=body,
        link=reverse("credit:my_record", args=[record.pk]),
        sms=True,
        dedupe_key=dedupe,
    )


def _notify_office(*, kind, title, body="", link="", dedupe=""):
    for officer in credit_officers():
        notify(recipient=officer, kind=kind, title=title, body=body, link=link, dedupe_key=dedupe)


def _require_officer(actor):
    if not roles.has_role(actor, roles.CREDIT_OFFICER):
        raise NotAllowed(_("Only the credit office may do this."))


def _text(value, *, field, required=True, limit=MAX_TEXT) -> str:
    value = (value or "").strip()
    if required and not value:
        raise DomainError(_("This field is required."), field=field)
    if len(value) > limit:
        raise DomainError(
            _("At most %(n)d characters.") % {"n": limit}, field=field, code="too_long"
        )
    return value


def _lock_record(record) -> CreditRecord:
    pk = record.pk if isinstance(record, CreditRecord) else record
    try:
        return CreditRecord.objects.select_for_update().get(pk=pk)
    except CreditRecord.DoesNotExist as exc:
        raise NotFound(_("No such credit record.")) from exc


def _own_record(record, actor) -> CreditRecord:
    """The record, locked, if it is the actor's own; otherwise 404 (no hint that it exists)."""
    locked = _lock_record(record)
    person_id = getattr(actor, "person_id", None)
    if not person_id or locked.person_id != person_id:
        raise NotFound(_("No such credit record."))
    return locked


def _move(record: CreditRecord, state: str) -> None:
    if not record.can_become(state):
        raise Conflict(
            _("The record is %(state)s; this is no longer possible.")
            % {"state": record.get_state_display()}
        )
    record.state = state


def push_payload(record: CreditRecord) -> dict:
    """What the credit-sharing platform receives for one version of a record."""
    person = record.person
    return {
        "push_id": f"{record.pk}:{record.version}",
        "record": record.pk,
        "version": record.version,
        "source": record.source,
        "person": {"id_hash": person.id_hash, "id_masked": person.id_masked, "name": person.name},
        "kind": record.kind,
        "state": record.state,
        "severity": record.severity,
        "legal_basis": record.legal_basis,
        "matter": record.matter_name,
        "pledge_number": record.pledge_number,
        "decided_on": record.decided_on.isoformat() if record.decided_on else None,
        "published": record.published,
        "publication_starts_on": _iso(record.publication_starts_on),
        "repair_possible_on": _iso(record.repair_possible_on),
        "publication_ends_on": _iso(record.publication_ends_on),
    }


def _iso(day):
    return day.isoformat() if day else None


def _enqueue_push(record: CreditRecord) -> Push:
    """Raise the version and queue that version for the platform (once per version)."""
    record.version += 1
    record.save(update_fields=["version"])
    push, _created = Push.objects.get_or_create(
        record=record, version=record.version, defaults={"payload": push_payload(record)}
    )
    from .tasks import push_records

    # Through the outbox: the push row and the message commit together. One message per
    # push; a run sends every queued push, so later messages often find nothing to do.
    enqueue(push_records, dedupe_key=f"credit.push:{push.pk}")
    return push


def _windows(record) -> dict:
    return {
        "severity": record.severity,
        "decided_on": record.decided_on,
        "published": record.published,
        "publication_starts_on": record.publication_starts_on,
        "repair_possible_on": record.repair_possible_on,
        "publication_ends_on": record.publication_ends_on,
    }


def _apply_periods(record: CreditRecord, severity: str) -> None:
    periods = periods_for(severity, record.decided_on)
    record.severity = severity
    record.published = periods.published
    record.publication_starts_on = periods.starts_on
    record.repair_possible_on = periods.repair_possible_on
    record.publication_ends_on = periods.ends_on


def _severity(value) -> str:
    if value not in Severity.values:
        raise DomainError(
            _("Choose a severity: minor, general or serious."), field="severity", code="invalid"
        )
    return value


# ---- the pledging block ------------------------------------------------------------------


def _blocking_records(today):
    """Records that bar pledging today: in force, of a false pledge or of serious severity."""
    return CreditRecord.objects.filter(
        state__in=ACTIVE_STATES, publication_ends_on__gt=today
    ).filter(Q(kind=RecordKind.FALSE_PLEDGE) | Q(severity=Severity.SERIOUS))


_BLOCK_AGGREGATES = {
    "until": Max("publication_ends_on"),
    "repair": Max("repair_possible_on"),
    "false_pledge": Max(
        Case(
            When(kind=RecordKind.FALSE_PLEDGE, then=Value(1)),
            default=Value(0),
            output_field=IntegerField(),
        )
    ),
}


def _refresh_block(person_id: int) -> None:
    """Derive the person's block from their records, in the caller's transaction.

    The person's row is locked first, so two changes to one person's records cannot both
    compute from a view that misses the other.
    """
    list(Person.objects.select_for_update().filter(pk=person_id).values_list("pk"))
    found = _blocking_records(_today()).filter(person_id=person_id).aggregate(**_BLOCK_AGGREGATES)
    if found["until"] is None:
        CreditBlock.objects.filter(person_id=person_id).delete()
        return
    CreditBlock.objects.update_or_create(
        person_id=person_id,
        defaults={
            "blocked_until": found["until"],
            "repair_possible_on": found["repair"],
            "false_pledge": bool(found["false_pledge"]),
            "updated_at": timezone.now(),
        },
    )


def blocks_rebuild() -> int:
    """Derive every block afresh from the records (after a restore, or to check)."""
    with transaction.atomic():
        CreditBlock.objects.all().delete()
        rows = (
            _blocking_records(_today()).values("person_id").annotate(**_BLOCK_AGGREGATES).order_by()
        )
        now = timezone.now()
        blocks = [
            CreditBlock(
                person_id=row["person_id"],
                blocked_until=row["until"],
                repair_possible_on=row["repair"],
                false_pledge=bool(row["false_pledge"]),
                updated_at=now,
            )
            for row in rows.iterator(chunk_size=5000)
        ]
        CreditBlock.objects.bulk_create(blocks, batch_size=2000)
    return len(blocks)


# ---- drafts and the hearing -----------------------------------------------------------


def record_draft(*, person, kind: str, facts: dict, source: str) -> CreditRecord:
    """Draft a record (``pending_review``) from the facts a reporting office copied in.

    ``facts`` keeps what the source knew, e.g. ``matter_code``, ``matter_name``,
    ``pledge_number``, ``finding`` and ``evidence`` (names and SHA-256 hashes). One record per
    ``source`` (e.g. ``"verification.finding:123"``): a second call returns the first draft.
    The person is notified and may state their case until the hearing deadline.
    """
    if kind not in RecordKind.values:
        raise DomainError(_("Unknown kind of credit record."), field="kind")
    source = (source or "").strip()
    if not source or len(source) > 200:
        raise DomainError(_("A source of at most 200 characters is required."), field="source")
    existing = CreditRecord.objects.filter(source=source).first()
    if existing:
        return existing
    facts = ledger.scrub(dict(facts or {}))
    try:
        with transaction.atomic():
            record = CreditRecord.objects.create(
                person=person,
                kind=kind,
                source=source,
                facts=facts,
                matter_name=str(facts.get("matter_name", ""))[:200],
                pledge_number=str(facts.get("pledge_number", ""))[:32],
                hearing_deadline=add_working_days(_today(), conf.hearing_working_days()),
            )
            ledger.append(
                "record.drafted",
                record=record,
                data={
                    "kind": kind,
                    "source": source,
                    "facts": facts,
                    "hearing_deadline": record.hearing_deadline,
                },
            )
            audit_record(
                actor=None,
                action="credit.record_drafted",
                obj=record,
                person_hash=person.id_hash,
                data={"source": source, "kind": kind},
            )
            _notify_person(
                record,
                kind="credit.hearing",
                title=_("A credit record is being considered about you"),
                body=_(
                    "You may state your case, with documents, until %(date)s before the credit "
                    "office decides."
                )
                % {"date": record.hearing_deadline.isoformat()},
                dedupe=f"credit.hearing:{record.pk}",
            )
    except IntegrityError:
        existing = CreditRecord.objects.filter(source=source).first()
        if existing is None:
            raise
        return existing
    return record


def statement_submit(*, record, actor, text: str, files=()) -> Statement:
    """The person states their case (陈述申辩) with files, within the hearing period."""
    text = _text(text, field="text")
    checked = check_uploads(files)
    with transaction.atomic():
        record = _own_record(record, actor)
        if record.state != RecordState.PENDING_REVIEW:
            raise Conflict(_("The credit office has already decided this record."))
        if not record.hearing_open_on(_today()):
            raise DomainError(
                _("The time for statements ended on %(date)s.")
                % {"date": record.hearing_deadline.isoformat()},
                code="hearing_closed",
                extra={"hearing_deadline": record.hearing_deadline.isoformat()},
            )
        statement = Statement.objects.create(record=record, person_id=record.person_id, text=text)
        attachments = store(record=record, checked=checked, uploaded_by=actor, statement=statement)
        ledger.append(
            "statement.received",
            record=record,
            actor=actor,
            data={
                "statement": statement.pk,
                "text_sha256": _sha(text),
                "files": evidence(attachments),
            },
        )
        _notify_office(
            kind="credit.statement",
            title=_("Statement received for credit record #%(id)s") % {"id": record.pk},
            link=reverse("credit:office_record", args=[record.pk]),
        )
    return statement


# ---- decisions of the credit office -----------------------------------------------------


def record_decide(
    *, record, actor, decision: str, severity: str = "", basis: str = "", reason: str = ""
) -> CreditRecord:
    """Confirm a draft with a severity and legal basis, or annul it with a reason. Final.

    The periods run from the decision date (today). A second decision gets ``Conflict``.
    """
    _require_officer(actor)
    if decision not in ("confirm", "annul"):
        raise DomainError(_("Decide “confirm” or “annul”."), field="decision")
    if decision == "confirm":
        severity = _severity(severity)
        basis = _text(basis, field="basis")
    else:
        reason = _text(reason, field="reason")
    with transaction.atomic():
        record = _lock_record(record)
        if record.state != RecordState.PENDING_REVIEW:
            raise Conflict(
                _("This record has already been decided (%(state)s).")
                % {"state": record.get_state_display()},
                code="already_decided",
            )
        today = _today()
        if (
            decision == "confirm"
            and record.hearing_open_on(today)
            and not record.statements.exists()
        ):
            raise DomainError(
                _(
                    "The person may state their case until %(date)s; confirm after that "
                    "or once they have."
                )
                % {"date": record.hearing_deadline.isoformat()},
                code="hearing_open",
                extra={"hearing_deadline": record.hearing_deadline.isoformat()},
            )
        now = timezone.now()
        record.decided_at = now
        record.decided_on = today
        record.decided_by = actor
        if decision == "confirm":
            _move(record, RecordState.CONFIRMED)
            record.legal_basis = basis
            _apply_periods(record, severity)
            record.save()
            ledger.append(
                "record.confirmed",
                record=record,
                actor=actor,
                data={**_windows(record), "legal_basis": basis},
            )
            if record.published:
                ledger.append(
                    "record.published",
                    record=record,
                    actor=actor,
                    data={
                        "from": record.publication_starts_on,
                        "until": record.publication_ends_on,
                    },
                )
            _enqueue_push(record)
            _refresh_block(record.person_id)
            title = _("Credit record confirmed")
            body = _(
                "Severity: %(severity)s. You may apply for repair from %(repair)s; the record "
                "ends on %(end)s. You may file an objection."
            ) % {
                "severity": record.get_severity_display(),
                "repair": record.repair_possible_on.isoformat(),
                "end": record.publication_ends_on.isoformat(),
            }
        else:
            _move(record, RecordState.ANNULLED)
            record.annul_reason = reason
            record.closed_at = now
            record.save()
            ledger.append("record.annulled", record=record, actor=actor, data={"reason": reason})
            title = _("Credit record annulled")
            body = reason
        audit_record(
            actor=actor,
            action=f"credit.record_{'confirmed' if decision == 'confirm' else 'annulled'}",
            obj=record,
            person_hash=record.person.id_hash,
            data={"severity": record.severity, "reason": reason},
        )
        _notify_person(record, kind=f"credit.{decision}", title=title, body=body)
    return record


def record_view(*, record, actor, reason: str) -> AccessLog:
    """Log a staff read of a record's detail (who, when, which, why). Only credit officers."""
    _require_officer(actor)
    reason = (reason or "").strip()
    if not reason:
        raise DomainError(
            _("Say why you open this record."), field="reason", code="reason_required"
        )
    if len(reason) > 500:
        raise DomainError(_("At most %(n)d characters.") % {"n": 500}, field="reason")
    with transaction.atomic():
        record = CreditRecord.objects.select_related("person").get(pk=record.pk)
        unit = getattr(actor, "unit", None)
        entry = AccessLog.objects.create(
            record=record,
            actor=actor,
            actor_name=actor.display_name,
            actor_unit=unit.name if unit else "",
            reason=reason,
            ip=current_context().get("ip"),
        )
        audit_record(
            actor=actor,
            action="credit.record_viewed",
            obj=record,
            person_hash=record.person.id_hash,
            data={"reason": reason},
        )
    return entry


# ---- objections (异议) -------------------------------------------------------------------


def objection_file(*, record, actor, reasons: str, files=()) -> Objection:
    """The person objects to a confirmed record; it is ``under_objection`` meanwhile."""
    reasons = _text(reasons, field="reasons")
    checked = check_uploads(files)
    with transaction.atomic():
        record = _own_record(record, actor)
        if record.state == RecordState.UNDER_OBJECTION:
            raise Conflict(_("An objection to this record is already open."))
        if record.state != RecordState.CONFIRMED or not record.is_active_on(_today()):
            raise Conflict(_("Only a record in force can be objected to."))
        _move(record, RecordState.UNDER_OBJECTION)
        record.save(update_fields=["state"])
        due_on = _today() + dt.timedelta(days=conf.objection_days())
        objection = Objection.objects.create(
            record=record, person_id=record.person_id, reasons=reasons, due_on=due_on
        )
        attachments = store(record=record, checked=checked, uploaded_by=actor, objection=objection)
        ledger.append(
            "objection.filed",
            record=record,
            actor=actor,
            data={
                "objection": objection.pk,
                "reasons_sha256": _sha(reasons),
                "due_on": due_on,
                "files": evidence(attachments),
            },
        )
        audit_record(
            actor=actor,
            action="credit.objection_filed",
            obj=objection,
            person_hash=record.person.id_hash,
        )
        _notify_office(
            kind="credit.objection",
            title=_("Objection to credit record #%(id)s") % {"id": record.pk},
            body=_("Decide by %(date)s.") % {"date": due_on.isoformat()},
            link=reverse("credit:office_record", args=[record.pk]),
        )
    return objection


def objection_decide(
    *,
    objection,
    actor,
    decision: str,
    reason: str,
    outcome: str = "",
    severity: str = "",
    basis: str = "",
) -> Objection:
    """Uphold (annul or correct the record by new events) or reject an objection, with reasons."""
    _require_officer(actor)
    if decision not in ("upheld", "rejected"):
        raise DomainError(_("Decide “upheld” or “rejected”."), field="decision")
    reason = _text(reason, field="reason")
    if decision == "upheld":
        if outcome not in Objection.Outcome.values:
            raise DomainError(
                _("Say whether the record is annulled or corrected."), field="outcome"
            )
        if outcome == Objection.Outcome.CORRECT:
            severity = _severity(severity)
            basis = _text(basis, field="basis", required=False)
    with transaction.atomic():
        try:
            objection = Objection.objects.select_for_update().get(
                pk=objection.pk if isinstance(objection, Objection) else objection
            )
        except Objection.DoesNotExist as exc:
            raise NotFound(_("No such objection.")) from exc
        if objection.status != Objection.Status.OPEN:
            raise Conflict(_("This objection has already been decided."), code="already_decided")
        record = _lock_record(objection.record_id)
        objection.status = decision
        objection.decided_at = timezone.now()
        objection.decided_by = actor
        objection.decision_reason = reason
        if decision == "rejected":
            _move(record, RecordState.CONFIRMED)
            record.save(update_fields=["state"])
            objection.save()
            ledger.append(
                "objection.rejected",
                record=record,
                actor=actor,
                data={"objection": objection.pk, "reason": reason},
            )
        else:
            objection.outcome = outcome
            objection.save()
            ledger.append(
                "objection.upheld",
                record=record,
                actor=actor,
                data={"objection": objection.pk, "reason": reason, "outcome": outcome},
            )
            if outcome == Objection.Outcome.ANNUL:
                _move(record, RecordState.ANNULLED)
                record.annul_reason = reason
                record.closed_at = timezone.now()
                record.save()
                ledger.append(
                    "record.annulled",
                    record=record,
                    actor=actor,
                    data={"reason": reason, "objection": objection.pk},
                )
                _refresh_block(record.person_id)
            else:
                before = _windows(record)
                _move(record, RecordState.CONFIRMED)
                _apply_periods(record, severity)
                if basis:
                    record.legal_basis = basis
                record.save()
                ledger.append(
                    "record.corrected",
                    record=record,
                    actor=actor,
                    data={
                        "objection": objection.pk,
                        "before": before,
                        "after": _windows(record),
                        "legal_basis": record.legal_basis,
                    },
                )
                _refresh_block(record.person_id)
            _enqueue_push(record)
        audit_record(
            actor=actor,
            action=f"credit.objection_{decision}",
            obj=objection,
            person_hash=record.person.id_hash,
            data={"outcome": outcome, "reason": reason},
        )
        _notify_person(
            record,
            kind="credit.objection_decided",
            title=_("Your objection was upheld")
            if decision == "upheld"
            else _("Your objection was rejected"),
            body=reason,
        )
    return objection


# ---- repair (信用修复) -------------------------------------------------------------------


def repair_apply(
    *, record, actor, credit_pledge: str, correction: str, files=()
) -> RepairApplication:
    """Apply for repair after the minimum period, with a new credit pledge and proof."""
    credit_pledge = _text(credit_pledge, field="credit_pledge")
    correction = _text(correction, field="correction")
    checked = check_uploads(files)
    with transaction.atomic():
        record = _own_record(record, actor)
        today = _today()
        if record.state != RecordState.CONFIRMED or not record.is_active_on(today):
            raise Conflict(_("Only a record in force, with no open objection, can be repaired."))
        if today < record.repair_possible_on:
            raise DomainError(
                _("Repair can be applied for from %(date)s.")
                % {"date": record.repair_possible_on.isoformat()},
                code="too_early",
                extra={"possible_from": record.repair_possible_on.isoformat()},
            )
        if record.repairs.filter(status=RepairApplication.Status.PENDING).exists():
            raise Conflict(_("A repair application for this record is already pending."))
        due_on = add_working_days(today, conf.repair_reply_working_days())
        repair = RepairApplication.objects.create(
            record=record,
            person_id=record.person_id,
            credit_pledge=credit_pledge,
            correction=correction,
            due_on=due_on,
        )
        attachments = store(record=record, checked=checked, uploaded_by=actor, repair=repair)
        ledger.append(
            "repair.applied",
            record=record,
            actor=actor,
            data={
                "repair": repair.pk,
                "credit_pledge_sha256": _sha(credit_pledge),
                "correction_sha256": _sha(correction),
                "due_on": due_on,
                "files": evidence(attachments),
            },
        )
        audit_record(
            actor=actor,
            action="credit.repair_applied",
            obj=repair,
            person_hash=record.person.id_hash,
        )
        _notify_office(
            kind="credit.repair",
            title=_("Repair application for credit record #%(id)s") % {"id": record.pk},
            body=_("Reply by %(date)s.") % {"date": due_on.isoformat()},
            link=reverse("credit:office_record", args=[record.pk]),
        )
    return repair


def repair_decide(*, repair, actor, decision: str, reason: str = "") -> RepairApplication:
    """Approve (publication stops at once, the record no longer blocks) or reject with reasons."""
    _require_officer(actor)
    if decision not in ("approved", "rejected"):
        raise DomainError(_("Decide “approved” or “rejected”."), field="decision")
    reason = _text(reason, field="reason", required=decision == "rejected")
    with transaction.atomic():
        try:
            repair = RepairApplication.objects.select_for_update().get(
                pk=repair.pk if isinstance(repair, RepairApplication) else repair
            )
        except RepairApplication.DoesNotExist as exc:
            raise NotFound(_("No such repair application.")) from exc
        if repair.status != RepairApplication.Status.PENDING:
            raise Conflict(_("This application has already been decided."), code="already_decided")
        record = _lock_record(repair.record_id)
        now = timezone.now()
        repair.status = decision
        repair.decided_at = now
        repair.decided_by = actor
        repair.decision_reason = reason
        if decision == "approved":
            _move(record, RecordState.REPAIRED)
            record.closed_at = now
            record.save()
            repair.save()
            ledger.append(
                "repair.approved",
                record=record,
                actor=actor,
                data={"repair": repair.pk, "reason": reason},
            )
            if record.published:
                ledger.append(
                    "publication.stopped",
                    record=record,
                    actor=actor,
                    data={"on": _today(), "why": "repaired"},
                )
            _enqueue_push(record)
            _refresh_block(record.person_id)
        else:
            repair.save()
            ledger.append(
                "repair.rejected",
                record=record,
                actor=actor,
                data={"repair": repair.pk, "reason": reason},
            )
        audit_record(
            actor=actor,
            action=f"credit.repair_{decision}",
            obj=repair,
            person_hash=record.person.id_hash,
            data={"reason": reason},
        )
        _notify_person(
            record,
            kind="credit.repair_decided",
            title=_("Your credit repair was approved")
            if decision == "approved"
            else _("Your credit repair was rejected"),
            body=reason,
        )
    return repair


# ---- daily work -------------------------------------------------------------------------


def record_expire(*, record_id: int) -> bool:
    """End one record whose maximum period has passed. Safe to run twice."""
    with transaction.atomic():
        record = CreditRecord.objects.select_for_update().filter(pk=record_id).first()
        if (
            record is None
            or record.state != RecordState.CONFIRMED
            or record.publication_ends_on is None
            or record.publication_ends_on > _today()
        ):
            return False
        _move(record, RecordState.EXPIRED)
        record.closed_at = timezone.now()
        record.save(update_fields=["state", "closed_at"])
        ledger.append(
            "record.expired", record=record, data={"ended_on": record.publication_ends_on}
        )
        if record.published:
            ledger.append(
                "publication.stopped",
                record=record,
                data={"on": record.publication_ends_on, "why": "expired"},
            )
        _enqueue_push(record)
        _refresh_block(record.person_id)
    return True


def overdue_flag() -> dict:
    """Flag objections and repair applications the office has not decided in time."""
    today = _today()
    counts = {"objections": 0, "repairs": 0}
    for model, status, key in (
        (Objection, Objection.Status.OPEN, "objections"),
        (RepairApplication, RepairApplication.Status.PENDING, "repairs"),
    ):
        for item_id, record_id in model.objects.filter(
            status=status, overdue=False, due_on__lt=today
        ).values_list("id", "record_id"):
            with transaction.atomic():
                changed = model.objects.filter(pk=item_id, overdue=False).update(overdue=True)
                if not changed:
                    continue
                counts[key] += 1
                _notify_office(
                    kind="credit.overdue",
                    title=_("Overdue: %(what)s for credit record #%(id)s")
                    % {
                        "what": _("objection") if model is Objection else _("repair application"),
                        "id": record_id,
                    },
                    link=reverse("credit:office_record", args=[record_id]),
                    dedupe=f"credit.overdue:{key}:{item_id}",
                )
    return counts


def pushes_send() -> int:
    """Send queued pushes through the configured exporter, one batch per call.

    Each sent push is a ledger event. A failure leaves the pushes queued (counted, retried by
    the next run); a push is unique per record and version, so none is sent twice by us, and
    every line carries ``push_id`` for the platform to drop a batch it already has.
    """
    from .exporters import get_exporter

    exporter = get_exporter()
    with transaction.atomic():
        pushes = list(
            Push.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(
                status__in=[Push.Status.PENDING, Push.Status.FAILED],
                attempts__lt=conf.push_max_attempts(),
            )
            .select_related("record__person")
            .order_by("id")[: conf.export_batch_size()]
        )
        if not pushes:
            return 0
        try:
            batch = exporter.export([push.payload for push in pushes])
        except Exception as exc:  # noqa: BLE001 - any exporter failure is retried later
            logger.warning("credit push failed: %s", exc)
            for push in pushes:
                push.attempts += 1
                push.status = Push.Status.FAILED
                push.last_error = str(exc)[:2000]
                push.save(update_fields=["attempts", "status", "last_error"])
            if any(push.attempts >= conf.push_max_attempts() for push in pushes):
                _notify_office(
                    kind="credit.push_failed",
                    title=_("Credit records could not be pushed to the sharing platform"),
                    body=str(exc)[:300],
                    dedupe=f"credit.push_failed:{pushes[0].pk}",
                )
            return 0
        now = timezone.now()
        for push in pushes:
            push.attempts += 1
            push.status = Push.Status.SENT
            push.batch = batch
            push.sent_at = now
            push.last_error = ""
            push.save(update_fields=["attempts", "status", "batch", "sent_at", "last_error"])
            ledger.append(
                "record.pushed",
                record=push.record,
                data={"version": push.version, "batch": batch},
            )
    return len(pushes)


def ledger_check() -> ledger.VerifyResult:
    """Verify the ledger; on a fault, log an error and alert every credit officer."""
    result = ledger.verify()
    if not result.ok:
        logger.error(
            "credit ledger verification failed at seq %s: %s", result.first_bad_seq, result.problem
        )
        _notify_office(
            kind="credit.ledger_alert",
            title=_("The credit ledger failed verification at sequence %(seq)s")
            % {"seq": result.first_bad_seq},
            body=result.problem,
            link=reverse("credit:office"),
            dedupe=f"credit.ledger_alert:{timezone.localdate().isoformat()}:{result.first_bad_seq}",
        )
    return result
