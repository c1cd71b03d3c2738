"""Oversight of the reform: service guides (办事指南), catalog lists handed in by towns and
departments (清单), complaints about needless certificate demands (投诉), quarterly reports
(季度报送).
"""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from accounts.crypto import EncryptedTextField
from core.storage import private_storage

# ---- service guides --------------------------------------------------------------------


class GuideType(models.TextChoices):
    LICENCE = "licence", _("administrative licence")
    CONFIRMATION = "confirmation", _("administrative confirmation")
    BENEFIT = "benefit", _("administrative benefit")
    REGISTRATION = "registration", _("registration")
    PUBLIC_SERVICE = "public_service", _("public service")
    OTHER = "other", _("other")


class ServiceGuide(models.Model):
    """The service guide (办事指南) of one catalog matter, with the fields of DOMAIN.md §5.

    Conditions and steps are kept one per line (numbered when shown); materials and questions
    are rows of their own, so the admin edits them as tables.
    """

    class Status(models.TextChoices):
        DRAFT = "draft", _("draft")
        PUBLISHED = "published", _("published")

    matter = models.OneToOneField(
        "pledges.Matter",
        on_delete=models.PROTECT,
        related_name="guide",
        verbose_name=_("matter"),
    )
    guide_type = models.CharField(
        _("type"), max_length=16, choices=GuideType.choices, default=GuideType.CONFIRMATION
    )
    office = models.CharField(_("responsible office"), max_length=200)
    window = models.CharField(_("window"), max_length=200, blank=True)
    legal_basis = models.TextField(
        _("legal basis"), blank=True, help_text=_("Empty: the legal basis of the matter.")
    )
    who_may_apply = models.TextField(_("who may apply"), blank=True)
    conditions = models.TextField(_("conditions"), blank=True, help_text=_("One per line."))
    steps = models.TextField(_("process steps"), blank=True, help_text=_("One per line."))
    statutory_days = models.PositiveSmallIntegerField(
        _("statutory time limit (working days)"),
        null=True,
        blank=True,
        help_text=_("0: on the spot. Empty: none set by law."),
    )
    promised_days = models.PositiveSmallIntegerField(
        _("promised time limit (working days)"), default=0, help_text=_("0: on the spot.")
    )
    fee = models.CharField(
        _("fees"), max_length=300, blank=True, help_text=_("Empty: free of charge.")
    )
    result = models.CharField(_("result"), max_length=200, blank=True)
    delivery = models.CharField(_("delivery of the result"), max_length=200, blank=True)
    place = models.CharField(_("place"), max_length=300, blank=True)
    hours = models.CharField(_("office hours"), max_length=200, blank=True)
    enquiry_phone = models.CharField(_("enquiry phone"), max_length=60, blank=True)
    complaint_phone = models.CharField(_("complaint phone"), max_length=60, blank=True)
    online_url = models.URLField(_("online address"), blank=True)
    visits = models.PositiveSmallIntegerField(
        _("visits needed"), default=1, help_text=_("0: done entirely online.")
    )
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.DRAFT, db_index=True
    )
    published_at = models.DateTimeField(_("published at"), null=True, blank=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["matter__code"]
        verbose_name = _("service guide")
        verbose_name_plural = _("service guides")

    def __str__(self):
        return f"{self.matter.code} {self.matter.name}"

    @property
    def is_published(self) -> bool:
        return self.status == self.Status.PUBLISHED

    @property
    def effective_legal_basis(self) -> str:
        return self.legal_basis.strip() or self.matter.legal_basis

    @property
    def statutory_text(self) -> str:
        return _days_text(self.statutory_days) or gettext("none set by law")

    @property
    def promised_text(self) -> str:
        return _days_text(self.promised_days)

    @property
    def fee_text(self) -> str:
        return self.fee.strip() or gettext("Free of charge")

    @property
    def visits_text(self) -> str:
        if self.visits == 0:
            return gettext("none: done entirely online")
        return ngettext("%(n)s visit", "%(n)s visits", self.visits) % {"n": self.visits}

    @property
    def condition_list(self) -> list[str]:
        return [line.strip() for line in self.conditions.splitlines() if line.strip()]

    @property
    def step_list(self) -> list[str]:
        return [line.strip() for line in self.steps.splitlines() if line.strip()]


def _days_text(days: int | None) -> str:
    if days is None:
        return ""
    if days == 0:
        return gettext("on the spot")
    return ngettext("%(n)s working day", "%(n)s working days", days) % {"n": days}


class GuideMaterial(models.Model):
    """One material of a guide: original or copy, how many, where it comes from, forms."""

    class Form(models.TextChoices):
        ORIGINAL = "original", _("original")
        COPY = "copy", _("copy")
        BOTH = "both", _("original and copy")
        ELECTRONIC = "electronic", _("electronic")

    guide = models.ForeignKey(ServiceGuide, on_delete=models.CASCADE, related_name="materials")
    position = models.PositiveSmallIntegerField(_("position"), default=0)
    name = models.CharField(_("material"), max_length=200)
    form = models.CharField(_("form"), max_length=16, choices=Form.choices, default=Form.ORIGINAL)
    copies = models.PositiveSmallIntegerField(_("copies"), default=1)
    source = models.CharField(_("source"), max_length=200, blank=True)
    pledge_replaceable = models.BooleanField(_("may be replaced by a pledge"), default=False)
    note = models.CharField(_("note"), max_length=300, blank=True)
    blank_form = models.FileField(
        _("blank form"), storage=private_storage, upload_to="guides/forms/", blank=True
    )
    sample_form = models.FileField(
        _("sample form"), storage=private_storage, upload_to="guides/samples/", blank=True
    )

    class Meta:
        ordering = ["guide", "position", "id"]
        verbose_name = _("material")
        verbose_name_plural = _("materials")

    def __str__(self):
        return self.name


class GuideQuestion(models.Model):
    """A frequently asked question of a guide."""

    guide = models.ForeignKey(ServiceGuide, on_delete=models.CASCADE, related_name="questions")
    position = models.PositiveSmallIntegerField(_("position"), default=0)
    question = models.CharField(_("question"), max_length=300)
    answer = models.TextField(_("answer"))

    class Meta:
        ordering = ["guide", "position", "id"]
        verbose_name = _("frequently asked question")
        verbose_name_plural = _("frequently asked questions")

    def __str__(self):
        return self.question


# ---- catalog lists ---------------------------------------------------------------------


class CatalogList(models.Model):
    """A list (清单) of certificate items a town, street office or department hands in.

    Imported whole or refused whole: its rows exist only when every row passed validation.
    """

    class Status(models.TextChoices):
        QUEUED = "queued", _("queued")
        IMPORTING = "importing", _("importing")
        REFUSED = "refused", _("refused")
        IMPORTED = "imported", _("imported, awaiting the bureau")
        MERGED = "merged", _("merged into the catalog")
        REJECTED = "rejected", _("rejected by the bureau")

    TRANSITIONS = {
        Status.QUEUED: {Status.IMPORTING, Status.REFUSED},
        Status.IMPORTING: {Status.IMPORTED, Status.REFUSED},
        Status.IMPORTED: {Status.MERGED, Status.REJECTED},
    }

    unit = models.ForeignKey(
        "accounts.Unit", on_delete=models.PROTECT, related_name="+", verbose_name=_("unit")
    )
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    file = models.FileField(storage=private_storage, upload_to="lists/")
    file_name = models.CharField(_("file name"), max_length=200)
    file_sha256 = models.CharField(max_length=64)
    file_size = models.PositiveIntegerField(default=0)
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.QUEUED, db_index=True
    )
    job = models.ForeignKey(
        "core.BackgroundJob", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    refusal = models.CharField(_("why refused"), max_length=500, blank=True)
    row_count = models.PositiveIntegerField(default=0)
    error_count = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    imported_at = models.DateTimeField(null=True, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decision_note = models.CharField(max_length=500, blank=True)
    merge_summary = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("catalog list")
        verbose_name_plural = _("catalog lists")

    def __str__(self):
        return f"{self.unit} {self.file_name}"

    def can_move_to(self, status: str) -> bool:
        return status in self.TRANSITIONS.get(self.status, set())

    @property
    def is_running(self) -> bool:
        return self.status in (self.Status.QUEUED, self.Status.IMPORTING)


class CatalogListRow(models.Model):
    """One validated row of a list, as handed in (the catalog changes only on merge)."""

    catalog_list = models.ForeignKey(CatalogList, on_delete=models.CASCADE, related_name="rows")
    row_number = models.PositiveIntegerField()
    code = models.CharField(max_length=32)
    name = models.CharField(max_length=200)
    certificate = models.CharField(max_length=300)
    disposition = models.CharField(max_length=16)
    legal_basis = models.TextField(blank=True)
    department = models.CharField(max_length=32)
    issuer = models.CharField(max_length=200, blank=True)
    where_instead = models.CharField(max_length=300, blank=True)
    valid_from = models.DateField(null=True, blank=True)
    valid_to = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["catalog_list", "row_number"]
        constraints = [
            models.UniqueConstraint(fields=["catalog_list", "code"], name="list_row_code_unique")
        ]


class CatalogListError(models.Model):
    """One problem found in a refused list: the row, the column, what is wrong."""

    catalog_list = models.ForeignKey(CatalogList, on_delete=models.CASCADE, related_name="errors")
    row_number = models.PositiveIntegerField()
    column = models.CharField(max_length=64, blank=True)
    value = models.CharField(max_length=200, blank=True)
    message = models.CharField(max_length=300)

    class Meta:
        ordering = ["catalog_list", "row_number", "id"]


# ---- complaints ------------------------------------------------------------------------


class ComplaintStatus(models.TextChoices):
    RECEIVED = "received", _("received")
    ACCEPTED = "accepted", _("accepted")
    DISMISSED = "dismissed", _("dismissed")
    FORWARDED = "forwarded", _("forwarded for correction")
    ANSWERED = "answered", _("answered")
    CORRECTED = "corrected", _("corrected")
    CLOSED = "closed", _("closed")


class ComplaintChannel(models.TextChoices):
    ONLINE = "online", _("online")
    HOTLINE = "hotline", _("hotline")


class Complaint(models.Model):
    """A report (投诉) of an agency that demanded an unreasonable certificate."""

    TRANSITIONS = {
        ComplaintStatus.RECEIVED: {ComplaintStatus.ACCEPTED, ComplaintStatus.DISMISSED},
        ComplaintStatus.ACCEPTED: {ComplaintStatus.FORWARDED, ComplaintStatus.DISMISSED},
        ComplaintStatus.FORWARDED: {ComplaintStatus.ANSWERED, ComplaintStatus.CORRECTED},
        ComplaintStatus.ANSWERED: {
            ComplaintStatus.CORRECTED,
            ComplaintStatus.FORWARDED,
            ComplaintStatus.CLOSED,
        },
        ComplaintStatus.CORRECTED: {ComplaintStatus.CLOSED},
    }
    OPEN = (
        ComplaintStatus.RECEIVED,
        ComplaintStatus.ACCEPTED,
        ComplaintStatus.FORWARDED,
        ComplaintStatus.ANSWERED,
    )

    tracking_number = models.CharField(_("tracking number"), max_length=20, unique=True)
    channel = models.CharField(
        _("channel"), max_length=16, choices=ComplaintChannel.choices, default="online"
    )
    agency = models.CharField(_("agency"), max_length=200)
    certificate = models.CharField(_("certificate demanded"), max_length=200)
    description = models.TextField(_("what happened"))
    occurred_on = models.DateField(_("date"))
    place = models.CharField(_("place"), max_length=200, blank=True)
    contact = EncryptedTextField(_("contact"), blank=True)
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    entered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("entered by (hotline)"),
    )
    status = models.CharField(
        _("status"),
        max_length=16,
        choices=ComplaintStatus.choices,
        default=ComplaintStatus.RECEIVED,
        db_index=True,
    )
    received_at = models.DateTimeField(_("received at"), default=timezone.now, db_index=True)
    matter = models.ForeignKey(
        "pledges.Matter",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("catalog matter"),
    )
    triage_note = models.CharField(_("triage note"), max_length=500, blank=True)
    superior = models.ForeignKey(
        "accounts.Unit",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("superior unit"),
    )
    superior_name = models.CharField(_("superior"), max_length=200, blank=True)
    forwarded_at = models.DateTimeField(null=True, blank=True)
    correction_deadline = models.DateField(_("correction deadline"), null=True, blank=True)
    answer = models.TextField(_("answer"), blank=True)
    answered_at = models.DateTimeField(null=True, blank=True)
    correction = models.TextField(_("correction"), blank=True)
    corrected_at = models.DateTimeField(null=True, blank=True)
    overdue_since = models.DateField(_("overdue since"), null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(_("outcome"), max_length=500, blank=True)
    published_at = models.DateTimeField(null=True, blank=True)
    public_summary = models.TextField(_("published summary"), blank=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        verbose_name = _("complaint")
        verbose_name_plural = _("complaints")
        indexes = [models.Index(fields=["status", "correction_deadline"])]

    def __str__(self):
        return self.tracking_number

    def can_move_to(self, status: str) -> bool:
        return status in self.TRANSITIONS.get(self.status, set())

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN

    @property
    def is_overdue(self) -> bool:
        return self.overdue_since is not None and self.corrected_at is None

    @property
    def is_published(self) -> bool:
        return self.published_at is not None


class ComplaintNumberCounter(models.Model):
    """The last tracking number given per year; locked while a complaint is written."""

    year = models.PositiveSmallIntegerField(primary_key=True)
    last = models.PositiveIntegerField(default=0)


class ComplaintAttachment(models.Model):
    """A photo or document attached to a complaint; kept in private storage."""

    complaint = models.ForeignKey(Complaint, on_delete=models.CASCADE, related_name="attachments")
    file = models.FileField(storage=private_storage, upload_to="complaints/")
    original_name = models.CharField(max_length=200)
    content_type = models.CharField(max_length=100)
    size = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)

    class Meta:
        ordering = ["id"]

    def __str__(self):
        return self.original_name


class ComplaintEvent(models.Model):
    """One step of a complaint's handling. ``public`` events show on the tracking page."""

    class Kind(models.TextChoices):
        RECEIVED = "received", _("received")
        ACCEPTED = "accepted", _("accepted for handling")
        DISMISSED = "dismissed", _("dismissed")
        FORWARDED = "forwarded", _("forwarded to the superior")
        NOTE = "note", _("note")
        ANSWERED = "answered", _("answer received")
        CORRECTED = "corrected", _("corrected")
        CLOSED = "closed", _("closed")
        OVERDUE = "overdue", _("correction overdue")
        PUBLISHED = "published", _("published")
        UNPUBLISHED = "unpublished", _("no longer published")

    complaint = models.ForeignKey(Complaint, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField(default=timezone.now)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    status = models.CharField(max_length=16, choices=ComplaintStatus.choices)
    kind = models.CharField(max_length=32, choices=Kind.choices)
    note = models.TextField(blank=True)
    public = models.BooleanField(default=True)

    class Meta:
        ordering = ["at", "id"]


# ---- quarterly reports -----------------------------------------------------------------


class QuarterlyReport(models.Model):
    """The figures of one quarter (季度报送), frozen when prepared, with their exports."""

    quarter = models.CharField(_("quarter"), max_length=6, unique=True)
    figures = models.JSONField(default=dict)
    prepared_at = models.DateTimeField(default=timezone.now)
    prepared_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    xlsx = models.FileField(storage=private_storage, upload_to="reports/", blank=True)
    pdf = models.FileField(storage=private_storage, upload_to="reports/", blank=True)

    class Meta:
        ordering = ["-quarter"]
        verbose_name = _("quarterly report")
        verbose_name_plural = _("quarterly reports")

    def __str__(self):
        return self.quarter
