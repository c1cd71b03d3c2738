"""Credit records (信用记录), the hash-chained ledger (账本), hearings, objections (异议),
repair (信用修复), pushes to the credit-sharing platform and the access log.

A record copies the facts it needs (matter, pledge number, finding, evidence hashes) when it
is drafted, so ``credit`` never imports the apps that report to it. Every event of a record is
also appended to the ledger, which is never updated: a correction is a new event.
"""

import datetime as dt

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.storage import private_storage


class RecordKind(models.TextChoices):
    FALSE_PLEDGE = "false_pledge", _("false pledge")
    BREACH = "breach", _("breach of pledge")
    OTHER = "other", _("other dishonest conduct")


class Severity(models.TextChoices):
    MINOR = "minor", _("minor")
    GENERAL = "general", _("general")
    SERIOUS = "serious", _("serious")


class RecordState(models.TextChoices):
    PENDING_REVIEW = "pending_review", _("pending review")
    CONFIRMED = "confirmed", _("confirmed")
    UNDER_OBJECTION = "under_objection", _("under objection")
    ANNULLED = "annulled", _("annulled")
    REPAIRED = "repaired", _("repaired")
    EXPIRED = "expired", _("expired")


#: States in which a confirmed record is in force (publication and blocking depend on dates).
ACTIVE_STATES = (RecordState.CONFIRMED, RecordState.UNDER_OBJECTION)
#: States that carry a severity and computed windows.
DECIDED_STATES = (
    RecordState.CONFIRMED,
    RecordState.UNDER_OBJECTION,
    RecordState.REPAIRED,
    RecordState.EXPIRED,
)

#: Every allowed change of state, in one place. A correction keeps ``confirmed``.
TRANSITIONS = {
    RecordState.PENDING_REVIEW: {RecordState.CONFIRMED, RecordState.ANNULLED},
    RecordState.CONFIRMED: {
        RecordState.UNDER_OBJECTION,
        RecordState.REPAIRED,
        RecordState.EXPIRED,
    },
    RecordState.UNDER_OBJECTION: {RecordState.CONFIRMED, RecordState.ANNULLED},
    RecordState.ANNULLED: set(),
    RecordState.REPAIRED: set(),
    RecordState.EXPIRED: set(),
}


class CreditRecord(models.Model):
    """A credit record (信用记录) of one person, drafted by the office that found the facts."""

    person = models.ForeignKey(
        "accounts.Person",
        on_delete=models.PROTECT,
        related_name="credit_records",
        verbose_name=_("person"),
        db_index=False,  # the block index below starts with the person
    )
    kind = models.CharField(_("kind"), max_length=32, choices=RecordKind.choices)
    state = models.CharField(
        _("state"), max_length=32, choices=RecordState.choices, default=RecordState.PENDING_REVIEW
    )
    source = models.CharField(
        _("source"),
        max_length=200,
        unique=True,
        help_text=_("What reported it, e.g. verification.finding:123; one record per source."),
    )
    facts = models.JSONField(_("facts"), default=dict, blank=True)
    matter_name = models.CharField(_("matter"), max_length=200, blank=True)
    pledge_number = models.CharField(_("pledge number"), max_length=32, blank=True)

    hearing_deadline = models.DateField(_("statement due by"), null=True, blank=True)

    severity = models.CharField(_("severity"), max_length=16, choices=Severity.choices, blank=True)
    legal_basis = models.TextField(_("legal basis"), blank=True)
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    decided_on = models.DateField(_("decision date"), null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("decided by"),
    )
    annul_reason = models.TextField(_("reason for annulment"), blank=True)

    published = models.BooleanField(_("published"), default=False)
    publication_starts_on = models.DateField(_("publication starts"), null=True, blank=True)
    repair_possible_on = models.DateField(_("repair possible from"), null=True, blank=True)
    publication_ends_on = models.DateField(_("publication ends"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)

    version = models.PositiveIntegerField(
        _("version"), default=0, help_text=_("Raised by every change pushed to the platform.")
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("credit record")
        verbose_name_plural = _("credit records")
        indexes = [
            # A person's records in force, newest end first: what the pledging block is
            # derived from (services._refresh_block).
            models.Index(
                fields=["person", "state", "publication_ends_on"], name="credit_rec_block_idx"
            ),
            models.Index(
                fields=["state", "published", "publication_ends_on"], name="credit_rec_public_idx"
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=~Q(state__in=DECIDED_STATES)
                | (~Q(severity="") & Q(publication_ends_on__isnull=False)),
                name="credit_record_decided_has_windows",
            ),
        ]

    def __str__(self):
        return f"#{self.pk} {self.get_kind_display()} {self.get_state_display()}"

    def can_become(self, state: str) -> bool:
        return state in TRANSITIONS.get(self.state, set())

    @property
    def is_blocking_kind(self) -> bool:
        """A false pledge, or any serious record, blocks pledging while active (DOMAIN.md §1)."""
        return self.kind == RecordKind.FALSE_PLEDGE or self.severity == Severity.SERIOUS

    def is_active_on(self, day: dt.date) -> bool:
        return (
            self.state in ACTIVE_STATES
            and self.publication_ends_on is not None
            and day < self.publication_ends_on
        )

    def is_public_on(self, day: dt.date) -> bool:
        return (
            self.published
            and self.is_active_on(day)
            and self.publication_starts_on is not None
            and self.publication_starts_on <= day
        )

    def hearing_open_on(self, day: dt.date) -> bool:
        return (
            self.state == RecordState.PENDING_REVIEW
            and self.hearing_deadline is not None
            and day <= self.hearing_deadline
        )


class CreditBlock(models.Model):
    """A person's current bar on pledging, derived from their records.

    Kept in step by the services in the transaction of every change that can start or end a
    block (under a lock on the person), so eligibility is one primary-key lookup. The date is
    checked in the query: a block ends on ``blocked_until`` even before the expiry task runs.
    ``manage.py rebuild_credit_blocks`` derives the table afresh from the records.
    """

    person = models.OneToOneField(
        "accounts.Person", primary_key=True, on_delete=models.PROTECT, related_name="+"
    )
    blocked_until = models.DateField()
    repair_possible_on = models.DateField(null=True, blank=True)
    false_pledge = models.BooleanField(default=False)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("pledging block")
        verbose_name_plural = _("pledging blocks")


def mask_name(name: str) -> str:
    """``张三`` → ``张*``, ``欧阳小明`` → ``欧***``: the family name stays, the rest is hidden."""
    name = (name or "").strip()
    if not name:
        return ""
    return name[0] + "*" * max(len(name) - 1, 1)


class Statement(models.Model):
    """The person's statement (陈述申辩) during the hearing, before the office decides."""

    record = models.ForeignKey(CreditRecord, on_delete=models.PROTECT, related_name="statements")
    person = models.ForeignKey("accounts.Person", on_delete=models.PROTECT, related_name="+")
    text = models.TextField(_("statement"))
    submitted_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["submitted_at", "id"]
        verbose_name = _("statement")
        verbose_name_plural = _("statements")


class Objection(models.Model):
    """An objection (异议) against a record's content, period or repair result."""

    class Status(models.TextChoices):
        OPEN = "open", _("open")
        UPHELD = "upheld", _("upheld")
        REJECTED = "rejected", _("rejected")

    class Outcome(models.TextChoices):
        ANNUL = "annul", _("record annulled")
        CORRECT = "correct", _("record corrected")

    record = models.ForeignKey(CreditRecord, on_delete=models.PROTECT, related_name="objections")
    person = models.ForeignKey("accounts.Person", on_delete=models.PROTECT, related_name="+")
    reasons = models.TextField(_("reasons"))
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    outcome = models.CharField(max_length=16, choices=Outcome.choices, blank=True)
    filed_at = models.DateTimeField(default=timezone.now)
    due_on = models.DateField(_("decision due by"))
    overdue = models.BooleanField(_("overdue"), default=False)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decision_reason = models.TextField(_("reasons for the decision"), blank=True)

    class Meta:
        ordering = ["-filed_at", "-id"]
        verbose_name = _("objection")
        verbose_name_plural = _("objections")
        constraints = [
            models.UniqueConstraint(
                fields=["record"], condition=Q(status="open"), name="credit_one_open_objection"
            )
        ]


class RepairApplication(models.Model):
    """An application for credit repair (信用修复) with a new credit pledge (信用承诺)."""

    class Status(models.TextChoices):
        PENDING = "pending", _("pending")
        APPROVED = "approved", _("approved")
        REJECTED = "rejected", _("rejected")

    record = models.ForeignKey(CreditRecord, on_delete=models.PROTECT, related_name="repairs")
    person = models.ForeignKey("accounts.Person", on_delete=models.PROTECT, related_name="+")
    credit_pledge = models.TextField(_("credit pledge"))
    correction = models.TextField(_("how the conduct was corrected"))
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    applied_at = models.DateTimeField(default=timezone.now)
    due_on = models.DateField(_("reply due by"))
    overdue = models.BooleanField(_("overdue"), default=False)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decision_reason = models.TextField(_("reasons for the decision"), blank=True)

    class Meta:
        ordering = ["-applied_at", "-id"]
        verbose_name = _("repair application")
        verbose_name_plural = _("repair applications")
        constraints = [
            models.UniqueConstraint(
                fields=["record"], condition=Q(status="pending"), name="credit_one_pending_repair"
            )
        ]


def _attachment_path(instance, filename):
    return f"credit/{instance.record_id}/{filename}"


class Attachment(models.Model):
    """A file given with a statement, an objection or a repair application (private storage)."""

    record = models.ForeignKey(CreditRecord, on_delete=models.PROTECT, related_name="attachments")
    statement = models.ForeignKey(
        Statement, null=True, blank=True, on_delete=models.PROTECT, related_name="attachments"
    )
    objection = models.ForeignKey(
        Objection, null=True, blank=True, on_delete=models.PROTECT, related_name="attachments"
    )
    repair = models.ForeignKey(
        RepairApplication,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="attachments",
    )
    file = models.FileField(storage=private_storage, upload_to=_attachment_path, max_length=300)
    original_name = models.CharField(max_length=200)
    content_type = models.CharField(max_length=100)
    size = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    uploaded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["uploaded_at", "id"]
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(statement__isnull=False, objection__isnull=True, repair__isnull=True)
                    | Q(statement__isnull=True, objection__isnull=False, repair__isnull=True)
                    | Q(statement__isnull=True, objection__isnull=True, repair__isnull=False)
                ),
                name="credit_attachment_one_owner",
            )
        ]


class AppendOnlyQuerySet(models.QuerySet):
    """Refuses bulk updates and deletes: history is never rewritten."""

    def update(self, **kwargs):
        raise PermissionError("append-only table: rows are never updated")

    def delete(self):
        raise PermissionError("append-only table: rows are never deleted")


class AppendOnlyModel(models.Model):
    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise PermissionError(f"{self._meta.label} rows are never changed")
        kwargs["force_insert"] = True
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise PermissionError(f"{self._meta.label} rows are never deleted")


class AccessLog(AppendOnlyModel):
    """A staff read of a record's detail: who, when, which record, why."""

    record = models.ForeignKey(CreditRecord, on_delete=models.PROTECT, related_name="access_logs")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_name = models.CharField(max_length=150)
    actor_unit = models.CharField(max_length=100, blank=True)
    reason = models.CharField(_("reason"), max_length=500)
    viewed_at = models.DateTimeField(default=timezone.now)
    ip = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        ordering = ["-viewed_at", "-id"]
        verbose_name = _("record access")
        verbose_name_plural = _("record access log")


class LedgerEntry(AppendOnlyModel):
    """One event of the ledger (账本): ``hash = sha256(seq, prev_hash, event)``, chained.

    ``event`` is canonical JSON with English codes; ``record_id`` only helps find a record's
    events and is not part of the hash (the event names its record itself).
    """

    seq = models.BigIntegerField(primary_key=True)
    prev_hash = models.CharField(max_length=64)
    event = models.TextField()
    hash = models.CharField(max_length=64)
    record_id = models.BigIntegerField(null=True, blank=True, db_index=True)

    class Meta:
        ordering = ["seq"]
        verbose_name = _("ledger entry")
        verbose_name_plural = _("ledger")

    def __str__(self):
        return f"{self.seq} {self.hash[:12]}"


class LedgerHead(models.Model):
    """The newest sequence number and hash, signed with ``LEDGER_HMAC_KEY`` (one row).

    Updated in the transaction of every append, under a row lock, so appends serialise and
    cutting off the newest rows is detected.
    """

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    seq = models.BigIntegerField(default=0)
    hash = models.CharField(max_length=64)
    mac = models.CharField(max_length=64)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(id=1), name="credit_ledger_head_single")]


class LedgerCheckpoint(AppendOnlyModel):
    """The head as it stood on a day; publishable, so history cannot be rewritten unseen."""

    day = models.DateField(unique=True)
    seq = models.BigIntegerField()
    hash = models.CharField(max_length=64)
    mac = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-day"]
        verbose_name = _("ledger checkpoint")
        verbose_name_plural = _("ledger checkpoints")


class Push(models.Model):
    """One version of a record sent to the credit-sharing platform; unique per version."""

    class Status(models.TextChoices):
        PENDING = "pending", _("pending")
        SENT = "sent", _("sent")
        FAILED = "failed", _("failed")

    record = models.ForeignKey(CreditRecord, on_delete=models.PROTECT, related_name="pushes")
    version = models.PositiveIntegerField()
    payload = models.JSONField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    batch = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("push")
        verbose_name_plural = _("pushes")
        constraints = [
            models.UniqueConstraint(fields=["record", "version"], name="credit_push_once")
        ]
        indexes = [models.Index(fields=["status", "id"], name="credit_push_status_idx")]
