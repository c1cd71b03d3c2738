"""Spot checks after the fact (事后核查): plans (抽查计划), draws (抽取), check tasks (核查任务),
findings (核查结果), evidence (证据), assisted checks (部门协查), promises with deadlines
(限期承诺) and the local registry the built-in data-check adapter reads.
"""

from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.storage import private_storage
from pledges.models import RiskLevel, VerificationMethod

#: The ratios of the four risk levels when a plan does not say otherwise (Henan 2021).
DEFAULT_RATIOS = {
    RiskLevel.LOW: Decimal("0.01"),
    RiskLevel.MEDIUM: Decimal("0.02"),
    RiskLevel.HIGH: Decimal("0.10"),
    RiskLevel.VERY_HIGH: Decimal("0.30"),
}


class Cadence(models.TextChoices):
    DAILY = "daily", _("daily")
    WEEKLY = "weekly", _("weekly")
    MONTHLY = "monthly", _("monthly")
    CUSTOM = "custom", _("custom crontab")


class SpotCheckPlan(models.Model):
    """A spot-check plan (抽查计划) for one matter or for every matter of a risk level.

    A matter with its own active plan is left out of its risk level's plan, so no pledge is
    drawn twice for one period.
    """

    name = models.CharField(_("name"), max_length=200)
    matter = models.ForeignKey(
        "pledges.Matter",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="spot_check_plans",
        verbose_name=_("matter"),
    )
    risk_level = models.CharField(
        _("risk level"), max_length=16, choices=RiskLevel.choices, blank=True
    )
    ratio = models.DecimalField(
        _("ratio"),
        max_digits=7,
        decimal_places=6,
        validators=[MinValueValidator(Decimal(0)), MaxValueValidator(Decimal(1))],
        help_text=_("Share of each matter's pledges drawn, e.g. 0.02 for 2%; 1 checks all."),
    )
    minimum = models.PositiveIntegerField(
        _("minimum per draw"), default=1, help_text=_("At least this many per matter drawn.")
    )
    method = models.CharField(
        _("method"),
        max_length=16,
        choices=VerificationMethod.choices,
        blank=True,
        help_text=_("Empty: the matter's first verification method."),
    )
    officers_onsite = models.PositiveSmallIntegerField(
        _("officers per on-site check"),
        default=2,
        validators=[MinValueValidator(1), MaxValueValidator(2)],
    )
    credit_weight = models.DecimalField(
        _("weight of a person with a credit history"),
        max_digits=5,
        decimal_places=2,
        default=Decimal("2.00"),
        validators=[MinValueValidator(Decimal("0.01"))],
        help_text=_(
            "1 draws them as often as anyone; 2 makes each of their pledges twice as "
            "likely to be drawn."
        ),
    )
    cadence = models.CharField(
        _("cadence"), max_length=16, choices=Cadence.choices, default=Cadence.WEEKLY
    )
    periodic_task = models.OneToOneField(
        "django_celery_beat.PeriodicTask",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("beat schedule"),
    )
    starts_at = models.DateTimeField(
        _("covers pledges signed after"),
        null=True,
        blank=True,
        help_text=_("Empty: from the first pledge."),
    )
    last_cutoff = models.DateTimeField(_("last cutoff"), null=True, blank=True, editable=False)
    active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]
        verbose_name = _("spot-check plan")
        verbose_name_plural = _("spot-check plans")
        constraints = [
            models.CheckConstraint(
                condition=(Q(matter__isnull=False) & Q(risk_level=""))
                | (Q(matter__isnull=True) & ~Q(risk_level="")),
                name="plan_matter_xor_risk_level",
            ),
            models.CheckConstraint(
                condition=Q(ratio__gte=0) & Q(ratio__lte=1), name="plan_ratio_in_range"
            ),
            models.CheckConstraint(
                condition=Q(officers_onsite__gte=1) & Q(officers_onsite__lte=2),
                name="plan_officers_onsite_range",
            ),
            models.CheckConstraint(condition=Q(credit_weight__gt=0), name="plan_weight_positive"),
        ]

    def __str__(self):
        return self.name

    @property
    def ratio_percent(self) -> str:
        """The ratio as a percentage for display: ``2%``, ``0.5%``."""
        value = (self.ratio * 100).normalize()
        return f"{value:f}%"

    @property
    def scope_display(self) -> str:
        if self.matter_id:
            return str(self.matter)
        return str(RiskLevel(self.risk_level).label)


class Draw(models.Model):
    """One draw (抽取) of a plan: the population up to its cutoff, the seed, the result.

    Everything needed to recompute it is kept: the cutoff and the window start, the seed, the
    algorithm version, the parameters, the population file (numbers, strata, weights) with its
    SHA-256, the officers who could be drawn, and the digest of the drawn numbers.
    """

    class Trigger(models.TextChoices):
        BEAT = "beat", _("scheduled")
        MANUAL = "manual", _("by hand")

    plan = models.ForeignKey(
        SpotCheckPlan, on_delete=models.PROTECT, related_name="draws", verbose_name=_("plan")
    )
    cutoff = models.DateTimeField(_("cutoff"))
    window_start = models.DateTimeField(_("after"), null=True, blank=True)
    trigger = models.CharField(_("trigger"), max_length=16, choices=Trigger.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    seed = models.CharField(_("seed"), max_length=64)
    algorithm_version = models.CharField(_("algorithm"), max_length=32)
    ratio = models.DecimalField(_("ratio"), max_digits=7, decimal_places=6)
    minimum = models.PositiveIntegerField(_("minimum per draw"))
    credit_weight = models.DecimalField(max_digits=5, decimal_places=2)
    officers_onsite = models.PositiveSmallIntegerField(default=2)
    officers = models.JSONField(
        _("officer directory"),
        default=list,
        help_text=_("The officers who could be drawn: [id, unit id, person id], by id."),
    )
    population_file = models.FileField(storage=private_storage, upload_to="draws/", blank=True)
    population_sha256 = models.CharField(_("population digest (SHA-256)"), max_length=64)
    population_count = models.PositiveIntegerField(_("population"))
    drawn_count = models.PositiveIntegerField(_("drawn"))
    result_sha256 = models.CharField(_("result digest (SHA-256)"), max_length=64)
    strata = models.JSONField(
        _("strata"), default=dict, help_text=_('{"matter code": {"size": n, "drawn": k}}')
    )
    drawn_at = models.DateTimeField(_("drawn at"), default=timezone.now)
    followed_up_at = models.DateTimeField(null=True, blank=True)
    publish_due = models.DateField(_("results public by"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)

    class Meta:
        ordering = ["-drawn_at", "-id"]
        verbose_name = _("draw")
        verbose_name_plural = _("draws")
        constraints = [
            models.UniqueConstraint(fields=["plan", "cutoff"], name="draw_unique_plan_cutoff")
        ]

    def __str__(self):
        return f"{self.plan} @ {timezone.localtime(self.cutoff):%Y-%m-%d %H:%M}"

    ratio_percent = SpotCheckPlan.ratio_percent


class TaskStatus(models.TextChoices):
    OPEN = "open", _("open")
    AWAITING_COUNTERSIGN = "awaiting_countersign", _("awaiting countersignature")
    DONE = "done", _("done")


class CheckTask(models.Model):
    """A check task (核查任务): one pledge, one lead officer (and a second one on site)."""

    class Origin(models.TextChoices):
        DRAW = "draw", _("random draw")
        PROMISE = "promise", _("promise past its deadline")

    origin = models.CharField(_("origin"), max_length=16, choices=Origin.choices)
    draw = models.ForeignKey(
        Draw, null=True, blank=True, on_delete=models.PROTECT, related_name="tasks"
    )
    promise_term = models.ForeignKey(
        "PromiseTerm", null=True, blank=True, on_delete=models.PROTECT, related_name="tasks"
    )
    pledge = models.ForeignKey(
        "pledges.Pledge", on_delete=models.PROTECT, related_name="check_tasks"
    )
    matter = models.ForeignKey("pledges.Matter", on_delete=models.PROTECT, related_name="+")
    method = models.CharField(_("method"), max_length=16, choices=VerificationMethod.choices)
    lead = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="check_tasks_led",
        verbose_name=_("lead officer"),
    )
    second = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="check_tasks_seconded",
        verbose_name=_("second officer"),
    )
    # The officers as drawn; ``lead`` and ``second`` change when a supervisor reassigns.
    drawn_lead = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    drawn_second = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    status = models.CharField(
        _("status"), max_length=32, choices=TaskStatus.choices, default=TaskStatus.OPEN
    )
    status_before = models.CharField(
        max_length=32, blank=True, help_text=_("The pledge's state before the check.")
    )
    due_date = models.DateField(_("due"))
    rank = models.FloatField(null=True, blank=True)
    stratum_size = models.PositiveIntegerField(null=True, blank=True)
    seed = models.CharField(
        max_length=64, blank=True, help_text=_("Tasks made outside a draw: their officer seed.")
    )
    created_at = models.DateTimeField(default=timezone.now)
    overdue_flagged_at = models.DateTimeField(null=True, blank=True)
    followed_up_at = models.DateTimeField(
        null=True, blank=True, help_text=_("Pledge put under check and person notified.")
    )

    class Meta:
        ordering = ["due_date", "id"]
        verbose_name = _("check task")
        verbose_name_plural = _("check tasks")
        constraints = [
            models.UniqueConstraint(fields=["draw", "pledge"], name="task_unique_draw_pledge"),
            models.UniqueConstraint(
                fields=["pledge", "promise_term"],
                condition=Q(promise_term__isnull=False),
                name="task_unique_pledge_promise",
            ),
            models.CheckConstraint(
                condition=(Q(origin="draw") & Q(draw__isnull=False))
                | (Q(origin="promise") & Q(promise_term__isnull=False)),
                name="task_origin_has_source",
            ),
            models.CheckConstraint(
                condition=Q(second__isnull=True) | ~Q(second=models.F("lead")),
                name="task_two_different_officers",
            ),
        ]
        indexes = [
            models.Index(fields=["lead", "status", "due_date"]),
            models.Index(fields=["second", "status"]),
            models.Index(fields=["status", "due_date"]),
        ]

    def __str__(self):
        return f"#{self.pk} {self.pledge_id}"

    @property
    def needs_countersign(self) -> bool:
        return self.second_id is not None

    def is_late_on(self, day) -> bool:
        return day > self.due_date


class FindingResult(models.TextChoices):
    TRUTHFUL = "truthful", _("truthful")
    FALSE = "false", _("false pledge")
    BREACH = "breach", _("breach of pledge")
    UNVERIFIABLE = "unverifiable", _("could not verify")


class Finding(models.Model):
    """A finding (核查结果): final once recorded; one per task (the constraint says so)."""

    task = models.OneToOneField(CheckTask, on_delete=models.PROTECT, related_name="finding")
    result = models.CharField(_("result"), max_length=16, choices=FindingResult.choices)
    method = models.CharField(_("method"), max_length=16, choices=VerificationMethod.choices)
    reason = models.TextField(_("reason"))
    notes = models.TextField(_("on-site notes"), blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    recorded_at = models.DateTimeField(default=timezone.now)
    late = models.BooleanField(_("late"), default=False)
    countersigned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    countersigned_at = models.DateTimeField(null=True, blank=True)
    countersign_note = models.CharField(max_length=500, blank=True)
    effective_at = models.DateTimeField(_("in effect since"), null=True, blank=True)
    credit_record_id = models.PositiveBigIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["-recorded_at"]
        verbose_name = _("finding")
        verbose_name_plural = _("findings")

    def __str__(self):
        return f"{self.task_id}: {self.result}"


class Evidence(models.Model):
    """A file kept for a task (证据材料): private storage, type sniffed, SHA-256 recorded."""

    class Kind(models.TextChoices):
        OFFICER = "officer", _("officer's upload")
        RESIDENT = "resident", _("material from the person")
        DATA_CHECK = "data_check", _("data-source answer")
        ASSIST_ANSWER = "assist_answer", _("answer of the assisting department")

    task = models.ForeignKey(CheckTask, on_delete=models.PROTECT, related_name="evidence")
    finding = models.ForeignKey(
        Finding, null=True, blank=True, on_delete=models.PROTECT, related_name="evidence"
    )
    kind = models.CharField(max_length=16, choices=Kind.choices)
    file = models.FileField(storage=private_storage, upload_to="evidence/%Y/%m/")
    original_name = models.CharField(max_length=200, blank=True)
    content_type = models.CharField(max_length=100)
    size = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    note = models.CharField(max_length=500, blank=True)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    uploaded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["uploaded_at", "id"]
        verbose_name = _("evidence")
        verbose_name_plural = _("evidence")

    def __str__(self):
        return self.original_name or self.file.name


class AssistRequest(models.Model):
    """A request to another department for an assisted check (部门协查) and its answer."""

    task = models.ForeignKey(CheckTask, on_delete=models.PROTECT, related_name="assist_requests")
    department = models.ForeignKey(
        "accounts.Unit", on_delete=models.PROTECT, related_name="+", verbose_name=_("department")
    )
    question = models.TextField(_("question"))
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    requested_at = models.DateTimeField(default=timezone.now)
    answer = models.TextField(_("answer"), blank=True)
    answered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    answered_at = models.DateTimeField(null=True, blank=True)
    evidence = models.OneToOneField(
        Evidence, null=True, blank=True, on_delete=models.PROTECT, related_name="assist_request"
    )

    class Meta:
        ordering = ["requested_at", "id"]
        verbose_name = _("assist request")
        verbose_name_plural = _("assist requests")

    def __str__(self):
        return f"{self.task_id} → {self.department}"


class PromiseTerm(models.Model):
    """A promise with a deadline carried by a template (e.g. hand in a document in 30 days).

    Kept here, keyed by the template version, so the catalog's tables stay as they are.
    """

    template = models.ForeignKey(
        "pledges.PledgeTemplate",
        on_delete=models.PROTECT,
        related_name="promise_terms",
        verbose_name=_("pledge template"),
    )
    key = models.SlugField(_("key"), max_length=50)
    text = models.CharField(_("what is promised"), max_length=300)
    deadline_days = models.PositiveSmallIntegerField(
        _("deadline (days after signing)"), validators=[MinValueValidator(1)]
    )

    class Meta:
        ordering = ["template", "key"]
        verbose_name = _("promise with a deadline")
        verbose_name_plural = _("promises with deadlines")
        constraints = [
            models.UniqueConstraint(fields=["template", "key"], name="promise_term_unique_key")
        ]

    def __str__(self):
        return f"{self.template}: {self.text}"


class PromiseFulfilment(models.Model):
    """The resident or a clerk marked a promise fulfilled, with the document as proof."""

    pledge = models.ForeignKey(
        "pledges.Pledge", on_delete=models.PROTECT, related_name="promise_fulfilments"
    )
    term = models.ForeignKey(PromiseTerm, on_delete=models.PROTECT, related_name="fulfilments")
    file = models.FileField(storage=private_storage, upload_to="promises/%Y/%m/")
    original_name = models.CharField(max_length=200, blank=True)
    content_type = models.CharField(max_length=100)
    size = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    fulfilled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    fulfilled_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-fulfilled_at"]
        constraints = [
            models.UniqueConstraint(fields=["pledge", "term"], name="promise_fulfilled_once")
        ]


class DataSource(models.Model):
    """Which data-source adapter answers a matter's online data check (网络核验)."""

    matter = models.OneToOneField(
        "pledges.Matter", on_delete=models.CASCADE, related_name="data_source"
    )
    adapter = models.CharField(
        _("adapter"),
        max_length=200,
        default="verification.adapters.LocalRegistryAdapter",
        help_text=_("Dotted path of a DataSourceAdapter subclass."),
    )
    dataset = models.CharField(
        _("dataset"), max_length=100, blank=True, help_text=_("For the local registry: its name.")
    )
    options = models.JSONField(default=dict, blank=True)

    class Meta:
        verbose_name = _("data source")
        verbose_name_plural = _("data sources")

    def __str__(self):
        return f"{self.matter.code}: {self.adapter}"


class RegistryRecord(models.Model):
    """A line of the local registry the built-in adapter reads (loaded from CSV).

    Holds the keyed hash of the ID number, never the number itself.
    """

    dataset = models.CharField(_("dataset"), max_length=100)
    id_hash = models.CharField(max_length=64)
    name = models.CharField(_("name"), max_length=100)
    fact = models.CharField(
        _("fact"),
        max_length=16,
        choices=[("confirms", _("confirms")), ("contradicts", _("contradicts"))],
    )
    detail = models.CharField(_("detail"), max_length=300, blank=True)
    recorded_on = models.DateField(_("recorded on"), null=True, blank=True)

    class Meta:
        ordering = ["dataset", "id"]
        verbose_name = _("registry record")
        verbose_name_plural = _("local registry")
        constraints = [
            models.UniqueConstraint(fields=["dataset", "id_hash"], name="registry_unique_person")
        ]
        indexes = [models.Index(fields=["id_hash"])]

    def __str__(self):
        return f"{self.dataset}: {self.name}"
