"""The catalog of certificate matters (证明事项), versioned templates and pledges (承诺书)."""

import datetime as dt

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from accounts.crypto import EncryptedTextField
from accounts.models import Person, Unit
from core.storage import private_storage


class Disposition(models.TextChoices):
    """How the catalog sorts a certificate item (DOMAIN.md §4)."""

    MUST_ISSUE = "must_issue", _("must issue")
    MUST_NOT_ISSUE = "must_not_issue", _("must not issue")
    MAY_ISSUE = "may_issue", _("may issue if verifiable")
    PLEDGE = "pledge", _("replaced by a pledge")


class RiskLevel(models.TextChoices):
    LOW = "low", _("low")
    MEDIUM = "medium", _("medium")
    HIGH = "high", _("high")
    VERY_HIGH = "very_high", _("very high")


class VerificationMethod(models.TextChoices):
    DATA_CHECK = "data_check", _("online data check")
    ASSISTED = "assisted", _("assisted check by another department")
    WRITTEN = "written", _("written check")
    ONSITE = "onsite", _("on-site investigation")
    PUBLIC_NOTICE = "public_notice", _("public notice")


class MaskedCopy(models.TextChoices):
    APPLICANT = "applicant", _("applicant copy")
    AUTHORITY = "authority", _("authority copy")
    BOTH = "both", _("both copies")
    NONE = "none", _("no copy")


class Matter(models.Model):
    """A certificate matter (证明事项) of the catalog, with its validity and version history."""

    code = models.CharField(_("code"), max_length=32, unique=True)
    name = models.CharField(_("matter"), max_length=200)
    department = models.ForeignKey(
        Unit,
        on_delete=models.PROTECT,
        related_name="matters",
        verbose_name=_("department"),
        limit_choices_to={"kind": Unit.Kind.DEPARTMENT},
    )
    certificate = models.CharField(_("certificate replaced"), max_length=300)
    legal_basis = models.TextField(_("legal basis"), blank=True)
    disposition = models.CharField(
        _("disposition"), max_length=16, choices=Disposition.choices, db_index=True
    )
    excluded_from_pledge = models.BooleanField(
        _("excluded from pledges"),
        default=False,
        help_text=_("National security, public safety, health, life and property, and the like."),
    )
    exclusion_reason = models.CharField(_("why excluded"), max_length=300, blank=True)
    risk_level = models.CharField(
        _("risk level"), max_length=16, choices=RiskLevel.choices, default=RiskLevel.MEDIUM
    )
    verification_methods = models.JSONField(
        _("verification methods"),
        default=list,
        blank=True,
        help_text=_("Codes: data_check, assisted, written, onsite, public_notice."),
    )
    verification_days = models.PositiveSmallIntegerField(
        _("verification time limit (working days)"), default=20
    )
    verification_note = models.CharField(_("how it is verified"), max_length=300, blank=True)
    publish_pledges = models.BooleanField(_("pledges made public"), default=False)
    publication_scope = models.CharField(_("publication scope"), max_length=200, blank=True)
    publication_period_days = models.PositiveIntegerField(
        _("publication period (days)"), null=True, blank=True
    )
    form_copies = models.PositiveSmallIntegerField(
        _("printed copies"), null=True, blank=True, help_text=_("Empty: the city default.")
    )
    id_masked_on = models.CharField(
        _("ID number masked on"),
        max_length=16,
        choices=MaskedCopy.choices,
        default=MaskedCopy.APPLICANT,
    )
    where_instead = models.CharField(
        _("where the resident goes instead"),
        max_length=300,
        blank=True,
        help_text=_("For items committees must not issue: the office or data source to use."),
    )
    valid_from = models.DateField(_("valid from"), default=dt.date(2021, 1, 1))
    valid_to = models.DateField(_("valid to"), null=True, blank=True)
    source = models.TextField(_("source"), blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["code"]
        verbose_name = _("certificate matter")
        verbose_name_plural = _("certificate matters")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(valid_to__isnull=True)
                | models.Q(valid_to__gte=models.F("valid_from")),
                name="matter_validity_ordered",
            ),
            models.CheckConstraint(
                condition=~models.Q(disposition="must_issue") | ~models.Q(legal_basis=""),
                name="matter_must_issue_has_basis",
            ),
        ]

    def __str__(self):
        return f"{self.code} {self.name}"

    def is_valid_on(self, day: dt.date) -> bool:
        return self.valid_from <= day and (self.valid_to is None or day <= self.valid_to)

    @property
    def accepts_pledges(self) -> bool:
        """Open to pledges today: disposition, exclusion and validity (template checked apart)."""
        return (
            self.disposition == Disposition.PLEDGE
            and not self.excluded_from_pledge
            and self.is_valid_on(timezone.localdate())
        )

    @property
    def copies(self) -> int:
        return self.form_copies or settings.CHENGNUO_FORM_COPIES

    def current_template(self):
        return (
            self.templates.filter(status=PledgeTemplate.Status.PUBLISHED)
            .order_by("-version")
            .first()
        )


class PledgeTemplate(models.Model):
    """A version of a matter's notice and statements. Published versions never change."""

    class Status(models.TextChoices):
        DRAFT = "draft", _("draft")
        PUBLISHED = "published", _("published")

    matter = models.ForeignKey(
        Matter, on_delete=models.PROTECT, related_name="templates", verbose_name=_("matter")
    )
    version = models.PositiveIntegerField(_("version"))
    notice = models.JSONField(
        _("notice sections"),
        help_text=_('A list of {"key", "title", "body"}: the notice (告知) in reading order.'),
    )
    statements = models.JSONField(
        _("statements"), help_text=_('A list of {"key", "text"}: what the applicant pledges.')
    )
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.DRAFT
    )
    created_at = models.DateTimeField(default=timezone.now)
    published_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["matter", "-version"]
        verbose_name = _("pledge template")
        verbose_name_plural = _("pledge templates")
        constraints = [
            models.UniqueConstraint(fields=["matter", "version"], name="template_version_unique")
        ]

    def __str__(self):
        return f"{self.matter.code} v{self.version}"

    def save(self, *args, **kwargs):
        if self.pk and self.status == self.Status.PUBLISHED:
            stored = PledgeTemplate.objects.filter(pk=self.pk).values("notice", "statements")
            stored = stored.first()
            if stored and (
                stored["notice"] != self.notice or stored["statements"] != self.statements
            ):
                raise PermissionError("a published template is frozen; make a new version")
        super().save(*args, **kwargs)


class PledgeStatus(models.TextChoices):
    SIGNED = "signed", _("signed")
    DECIDED = "decided", _("decided")
    WITHDRAWN = "withdrawn", _("withdrawn")
    # Verification after the fact (事后核查).
    UNDER_CHECK = "under_check", _("under check")
    VERIFIED = "verified", _("verified")
    FOUND_FALSE = "found_false", _("found false")
    BREACH = "breach", _("promise breached")
    REVOCATION_PENDING = "revocation_pending", _("revocation pending")
    REVOKED = "revoked", _("revoked")


class Channel(models.TextChoices):
    ONLINE = "online", _("online")
    WINDOW = "window", _("service window")


class Pledge(models.Model):
    """A signed pledge (承诺书) in place of a certificate. Its text is frozen at signing."""

    # Every allowed state change, in one place. Later issues add states here.
    # Verification (pledges/lifecycle.py): a drawn pledge is under check until the finding
    # takes effect; "could not verify" returns it to the state it had before the check.
    TRANSITIONS = {
        PledgeStatus.SIGNED: {
            PledgeStatus.DECIDED,
            PledgeStatus.WITHDRAWN,
            PledgeStatus.UNDER_CHECK,
        },
        PledgeStatus.DECIDED: {PledgeStatus.UNDER_CHECK},
        PledgeStatus.UNDER_CHECK: {
            PledgeStatus.VERIFIED,
            PledgeStatus.FOUND_FALSE,
            PledgeStatus.BREACH,
            PledgeStatus.SIGNED,
            PledgeStatus.DECIDED,
        },
        PledgeStatus.VERIFIED: {PledgeStatus.UNDER_CHECK},
        PledgeStatus.FOUND_FALSE: {PledgeStatus.REVOCATION_PENDING},
        PledgeStatus.BREACH: {PledgeStatus.REVOCATION_PENDING},
        PledgeStatus.REVOCATION_PENDING: {PledgeStatus.REVOKED},
    }

    number = models.CharField(_("number"), max_length=20, unique=True)
    matter = models.ForeignKey(
        Matter, on_delete=models.PROTECT, related_name="pledges", verbose_name=_("matter")
    )
    template = models.ForeignKey(PledgeTemplate, on_delete=models.PROTECT, related_name="+")
    person = models.ForeignKey(
        Person, on_delete=models.PROTECT, related_name="pledges", verbose_name=_("person")
    )
    account = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="pledges",
    )
    clerk = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="pledges_taken",
        verbose_name=_("window clerk"),
    )
    applicant_name = models.CharField(_("applicant"), max_length=100)
    applicant_phone = EncryptedTextField(_("phone"), blank=True)
    applicant_address = models.CharField(_("address"), max_length=200, blank=True)
    applicant_town = models.ForeignKey(
        Unit, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    channel = models.CharField(_("channel"), max_length=16, choices=Channel.choices)
    status = models.CharField(
        _("status"),
        max_length=32,
        choices=PledgeStatus.choices,
        default=PledgeStatus.SIGNED,
        db_index=True,
    )
    content = models.JSONField(_("frozen content"))
    content_sha256 = models.CharField(max_length=64)
    statements_accepted = models.BooleanField(default=False)
    typed_name = models.CharField(_("typed name"), max_length=100, blank=True)
    signature = models.FileField(storage=private_storage, upload_to="signatures/", blank=True)
    paper_scan = models.FileField(storage=private_storage, upload_to="scans/", blank=True)
    signed_at = models.DateTimeField(_("signed at"), db_index=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=400, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decision_note = models.CharField(max_length=500, blank=True)
    withdrawn_at = models.DateTimeField(null=True, blank=True)
    withdraw_reason = models.CharField(max_length=500, blank=True)
    # The printed form: one stored private file per pledge, with its SHA-256.
    pdf = models.FileField(storage=private_storage, upload_to="forms/", blank=True)
    pdf_sha256 = models.CharField(max_length=64, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    revocation_note = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-signed_at", "-id"]
        verbose_name = _("pledge")
        verbose_name_plural = _("pledges")
        indexes = [
            models.Index(fields=["matter", "signed_at"]),
            models.Index(fields=["person", "signed_at"]),
        ]

    def __str__(self):
        return self.number

    def can_move_to(self, status: str) -> bool:
        return status in self.TRANSITIONS.get(self.status, set())


class PledgeNumberCounter(models.Model):
    """The last number given per year; locked while a pledge is written, so numbers have no gaps."""

    year = models.PositiveSmallIntegerField(primary_key=True)
    last = models.PositiveIntegerField(default=0)


class CertificateChoice(models.Model):
    """The applicant chose to bring the certificate instead of pledging (recorded, DOMAIN.md §1)."""

    matter = models.ForeignKey(Matter, on_delete=models.PROTECT, related_name="certificate_choices")
    person = models.ForeignKey(Person, null=True, blank=True, on_delete=models.PROTECT)
    account = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    channel = models.CharField(max_length=16, choices=Channel.choices, default=Channel.ONLINE)
    chosen_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-chosen_at"]
