"""Accounts (账户), organisational units (单位) and persons (自然人).

A person is keyed by the keyed hash of their ID number. Pledges and credit records belong to
the person; an account, when there is one, links to exactly one person (one account per ID
number).
"""

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.storage import private_storage

from . import id_numbers
from .crypto import EncryptedTextField


class Unit(models.Model):
    """A department (部门), a town (镇) or street office (街道), or a service hall (服务大厅)."""

    class Kind(models.TextChoices):
        DEPARTMENT = "department", _("department")
        TOWN = "town", _("town")
        STREET = "street", _("street office")
        SERVICE_HALL = "service_hall", _("service hall")
        BUREAU = "bureau", _("bureau")

    code = models.CharField(_("code"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=100)
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, verbose_name=_("parent unit")
    )

    class Meta:
        ordering = ["kind", "code"]
        verbose_name = _("unit")
        verbose_name_plural = _("units")

    def __str__(self):
        return self.name

    @property
    def is_area(self) -> bool:
        return self.kind in (self.Kind.TOWN, self.Kind.STREET)


class Person(models.Model):
    """A natural person, found by the keyed hash of the ID number; the number is encrypted."""

    id_hash = models.CharField(max_length=64, unique=True, editable=False)
    id_number = EncryptedTextField(_("ID number"))
    id_masked = models.CharField(_("ID number (masked)"), max_length=18)
    name = models.CharField(_("name"), max_length=100)
    phone = EncryptedTextField(_("phone"), blank=True)
    address = models.CharField(_("address"), max_length=200, blank=True)
    town = models.ForeignKey(
        Unit,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="residents",
        verbose_name=_("town or street"),
        limit_choices_to={"kind__in": [Unit.Kind.TOWN, Unit.Kind.STREET]},
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("person")
        verbose_name_plural = _("persons")

    def __str__(self):
        return f"{self.name} ({self.id_masked})"

    def set_id_number(self, number: str) -> None:
        self.id_number = number
        self.id_hash = id_numbers.keyed_hash(number)
        self.id_masked = id_numbers.mask(number)


class User(AbstractUser):
    """An account. Staff accounts belong to a unit; resident accounts to a person."""

    real_name = models.CharField(_("real name"), max_length=100, blank=True)
    phone = models.CharField(_("phone"), max_length=20, blank=True)
    unit = models.ForeignKey(
        Unit,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="staff",
        verbose_name=_("unit"),
    )
    person = models.OneToOneField(
        Person,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="account",
        verbose_name=_("person"),
    )

    class Meta:
        verbose_name = _("account")
        verbose_name_plural = _("accounts")

    @property
    def display_name(self) -> str:
        return self.real_name or self.get_username()


class RegistryEntry(models.Model):
    """One line of the local population registry used by the demo real-name check.

    Holds a keyed hash of the ID number and the registered name, never the number itself.
    """

    id_hash = models.CharField(max_length=64, unique=True)
    name = models.CharField(max_length=100)

    class Meta:
        verbose_name = _("population registry entry")
        verbose_name_plural = _("population registry")

    def __str__(self):
        return self.name


class PrivacyConsent(models.Model):
    """Explicit consent to processing sensitive personal information (PIPL art. 29), given
    to one version of the privacy notice; the notice's SHA-256 pins the exact text."""

    person = models.ForeignKey(
        Person, on_delete=models.PROTECT, related_name="privacy_consents", verbose_name=_("person")
    )
    account = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="privacy_consents"
    )
    notice_version = models.CharField(_("privacy notice version"), max_length=20)
    notice_sha256 = models.CharField(max_length=64)
    channel = models.CharField(_("channel"), max_length=16, default="online")
    consented_at = models.DateTimeField(_("consented at"), default=timezone.now)
    ip = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        ordering = ["-consented_at", "-id"]
        verbose_name = _("privacy consent")
        verbose_name_plural = _("privacy consents")

    def __str__(self):
        return f"{self.person_id} {self.notice_version}"


class AgentAuthorisation(models.Model):
    """A person (委托人) authorises an agent (代办人) to pledge on their behalf for one matter.

    Recorded by a window clerk after checking the signed paper form, whose scan is kept.
    Valid from ``valid_from`` to ``valid_to`` (both days included) unless revoked.
    """

    principal = models.ForeignKey(
        Person,
        on_delete=models.PROTECT,
        related_name="authorisations_given",
        verbose_name=_("principal"),
    )
    agent = models.ForeignKey(
        Person,
        on_delete=models.PROTECT,
        related_name="authorisations_held",
        verbose_name=_("agent"),
    )
    # The matter's code: accounts sits below the catalog and cannot reference it.
    matter_code = models.CharField(_("matter code"), max_length=32, db_index=True)
    valid_from = models.DateField(_("valid from"))
    valid_to = models.DateField(_("valid to"))
    scan = models.FileField(
        _("signed authorisation form"),
        storage=private_storage,
        upload_to="agent-authorisations/",
        blank=True,
    )
    scan_sha256 = models.CharField(max_length=64)
    scan_type = models.CharField(max_length=40)
    note = models.CharField(_("note"), max_length=300, blank=True)
    recorded_by = models.ForeignKey(
        User, null=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("recorded by")
    )
    recorded_at = models.DateTimeField(_("recorded at"), default=timezone.now)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)
    revoked_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    revoke_reason = models.CharField(_("why revoked"), max_length=300, blank=True)
    scan_deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-recorded_at", "-id"]
        verbose_name = _("agent authorisation")
        verbose_name_plural = _("agent authorisations")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(valid_to__gte=models.F("valid_from")),
                name="agent_authorisation_dates_ordered",
            ),
            models.CheckConstraint(
                condition=~models.Q(principal=models.F("agent")),
                name="agent_authorisation_not_self",
            ),
        ]
        indexes = [models.Index(fields=["agent", "principal", "matter_code"])]

    def __str__(self):
        return f"{self.agent_id} → {self.principal_id} {self.matter_code}"

    def is_valid_on(self, day) -> bool:
        return self.revoked_at is None and self.valid_from <= day <= self.valid_to
