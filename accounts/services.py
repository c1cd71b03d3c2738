"""Writes for accounts and persons."""

import hashlib
import re

from django.conf import settings
from django.contrib.auth.models import Group
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from core.audit import audit_record
from core.errors import Conflict, DomainError, NotAllowed
from core.middleware import current_context
from core.otp import otp_check, otp_issue

from . import id_numbers, privacy, roles, two_factor
from .models import AgentAuthorisation, Person, PrivacyConsent, Unit, User
from .realname import real_name_matches


def _validated_id(number: str, field: str = "id_number") -> str:
    try:
        return id_numbers.validate(number)
    except id_numbers.InvalidIdNumber as exc:
        raise DomainError(str(exc), field=field) from exc


def person_get_or_create(
    *, id_number: str, name: str, phone: str = "", address: str = "", town: Unit | None = None
) -> Person:
    """Find the person by the keyed hash of the number, creating them on first sight.

    Contact details given later fill blanks but never overwrite what is recorded.
    """
    number = _validated_id(id_number)
    id_hash = id_numbers.keyed_hash(number)
    person = Person.objects.filter(id_hash=id_hash).first()
    if person is None:
        person = Person(name=name.strip(), phone=phone, address=address, town=town)
        person.set_id_number(number)
        try:
            with transaction.atomic():
                person.save()
        except IntegrityError:
            person = Person.objects.get(id_hash=id_hash)
        return person
    changed = []
    for field, value in (("phone", phone), ("address", address), ("town", town)):
        if value and not getattr(person, field):
            setattr(person, field, value)
            changed.append(field)
    if changed:
        person.save(update_fields=changed)
    return person


def account_register(
    *,
    username: str,
    password: str,
    real_name: str,
    id_number: str,
    phone: str,
    code: str,
    address: str,
    town: Unit,
    privacy_notice_version: str = "",
) -> User:
    """Register a resident: checked phone code, real-name check, one account per ID number,
    and explicit consent to the current privacy notice (``privacy_notice_version``: the
    version the person read and ticked; an older or missing version is refused)."""
    number = _validated_id(id_number)
    if User.objects.filter(username=username).exists():
        raise DomainError(_("This username is taken."), field="username")
    try:
        validate_password(password, User(username=username, real_name=real_name))
    except ValidationError as exc:
        raise DomainError(" ".join(exc.messages), field="password") from exc
    # The phone code first: the registry answers (name matches, account exists) only to
    # someone who holds a fresh code, so it cannot serve as an unthrottled lookup.
    otp_check(phone=phone, purpose="register", code=code)
    if not real_name_matches(name=real_name, id_number=number):
        raise DomainError(
            _("The name and ID number do not match the population registry."), field="real_name"
        )
    if privacy_notice_version != privacy.CURRENT_VERSION:
        raise DomainError(
            _("Read the privacy notice and give your consent to register."),
            field="privacy_consent",
            code="consent_required",
        )
    with transaction.atomic():
        person = person_get_or_create(
            id_number=number, name=real_name, phone=phone, address=address, town=town
        )
        if User.objects.select_for_update().filter(person=person).exists():
            raise DomainError(_("An account already exists for this ID number."), field="id_number")
        user = User.objects.create_user(
            username=username, password=password, real_name=real_name, phone=phone, person=person
        )
        user.groups.add(Group.objects.get(name=roles.RESIDENT))
        consent = privacy_consent_record(
            person=person, account=user, version=privacy_notice_version
        )
        audit_record(
            actor=user,
            action="account.registered",
            obj=user,
            person_hash=person.id_hash,
            data={"privacy_notice": consent.notice_version},
        )
    return user


def privacy_consent_record(
    *, person: Person, account: User | None, version: str, channel: str = "online"
) -> PrivacyConsent:
    """Store consent to the privacy notice ``version`` with the SHA-256 of its text."""
    try:
        digest = privacy.notice_sha256(version)
    except privacy.UnknownVersion as exc:
        raise DomainError(_("Unknown privacy notice version."), field="privacy_consent") from exc
    with transaction.atomic():
        consent = PrivacyConsent.objects.create(
            person=person,
            account=account,
            notice_version=version,
            notice_sha256=digest,
            channel=channel,
            ip=current_context().get("ip"),
        )
        audit_record(
            actor=account,
            action="privacy.consented",
            obj=consent,
            person_hash=person.id_hash,
            data={"version": version, "sha256": digest},
        )
    return consent


def account_upsert(
    *,
    username: str,
    role: str,
    password: str,
    real_name: str = "",
    id_number: str = "",
    unit_code: str = "",
    phone: str = "",
    totp_secret: str = "",
) -> tuple[User, bool]:
    """Create an account or update role, password and details of an existing one.

    ``totp_secret`` (base32) gives a staff account its authenticator, replacing any other.
    """
    if role not in roles.ALL_ROLES:
        raise DomainError(
            _("Unknown role %(role)s; choose one of %(roles)s.")
            % {"role": role, "roles": ", ".join(roles.ALL_ROLES)},
            field="role",
        )
    if not username.strip():
        raise DomainError(_("The username must not be empty."), field="username")
    if not password:
        raise DomainError(_("The password must not be empty."), field="password")
    unit = None
    if unit_code:
        unit = (
            Unit.objects.filter(code=unit_code).first()
            or Unit.objects.filter(name=unit_code).first()
        )
        if unit is None:
            raise DomainError(_("Unknown unit %(unit)s.") % {"unit": unit_code}, field="unit")
    if role != roles.RESIDENT and unit is None:
        existing = User.objects.filter(username=username).first()
        if existing is None or existing.unit is None:
            raise DomainError(_("A staff account needs --unit."), field="unit")
    if totp_secret:
        try:
            two_factor.decode_secret(totp_secret)
        except two_factor.InvalidSecret as exc:
            raise DomainError(str(exc), field="totp_secret") from exc
    number = _validated_id(id_number) if id_number else ""
    if role == roles.RESIDENT and not number:
        existing = User.objects.filter(username=username).first()
        if existing is None or existing.person is None:
            raise DomainError(_("A resident account needs --id-number."), field="id_number")
    with transaction.atomic():
        user, created = User.objects.select_for_update().get_or_create(username=username)
        if real_name:
            user.real_name = real_name
        if phone:
            user.phone = phone
        if unit is not None:
            user.unit = unit
        if number:
            person = person_get_or_create(
                id_number=number, name=real_name or user.real_name or username, phone=phone
            )
            other = User.objects.filter(person=person).exclude(pk=user.pk).first()
            if other is not None:
                raise DomainError(
                    _("The ID number already belongs to account %(name)s.")
                    % {"name": other.username},
                    field="id_number",
                )
            user.person = person
        user.set_password(password)
        user.is_staff = role == roles.CATALOG_ADMIN
        user.save()
        user.groups.set([Group.objects.get(name=role)])
        if totp_secret:
            two_factor.totp_provision(user=user, secret_base32=totp_secret)
            audit_record(actor=None, action="auth.second_factor_provisioned", obj=user)
    return user, created


# ---- password reset by a one-time SMS code ----------------------------------------------


def _account_phone(user: User) -> str:
    return user.phone or (user.person.phone if user.person_id else "")


def password_reset_request(*, username: str, phone: str) -> bool:
    """Send a reset code to ``phone`` if it is the phone of the active account ``username``.

    Returns whether a code went out; the page says the same either way, so nobody learns
    which usernames and phones exist.
    """
    user = User.objects.filter(username=username.strip(), is_active=True).first()
    if user is None or not phone or _account_phone(user) != phone:
        audit_record(
            actor=None, action="auth.password_reset_refused", data={"username": username[:150]}
        )
        return False
    otp_issue(phone=phone, purpose="password_reset")
    audit_record(actor=None, action="auth.password_reset_requested", obj=user)
    return True


def password_reset_confirm(*, username: str, code: str, password: str) -> User:
    """Set a new password with the code sent to the account's phone.

    Every other session of the account ends (the password hash changes) and its API token
    is deleted. A staff member still needs the second factor at the next sign-in.
    """
    from rest_framework.authtoken.models import Token

    user = User.objects.filter(username=username.strip(), is_active=True).first()
    phone = _account_phone(user) if user else ""
    if user is None or not phone:
        raise DomainError(_("The code is wrong."), field="code")
    otp_check(phone=phone, purpose="password_reset", code=code)
    try:
        validate_password(password, user)
    except ValidationError as exc:
        raise DomainError(" ".join(exc.messages), field="password1") from exc
    with transaction.atomic():
        user.set_password(password)
        user.save(update_fields=["password"])
        Token.objects.filter(user=user).delete()
        audit_record(actor=None, action="auth.password_reset", obj=user)
    return user


# ---- agents (代办) ------------------------------------------------------------------------

SCAN_TYPES = {"application/pdf": "pdf", "image/jpeg": "jpg", "image/png": "png"}


def _sniffed_scan(scan) -> tuple[bytes, str]:
    """The scan's bytes and MIME type, judged by content (not by name or header)."""
    import filetype

    limit = settings.CHENGNUO_AGENT_SCAN_MAX_BYTES
    if scan is None:
        raise DomainError(_("Attach the scan of the signed authorisation form."), field="scan")
    if scan.size is not None and scan.size > limit:
        raise DomainError(
            _("The scan is larger than %(mb)s MB.") % {"mb": limit // (1024 * 1024)}, field="scan"
        )
    scan.seek(0)
    data = scan.read(limit + 1)
    if len(data) > limit:
        raise DomainError(
            _("The scan is larger than %(mb)s MB.") % {"mb": limit // (1024 * 1024)}, field="scan"
        )
    kind = filetype.guess(data)
    if kind is None or kind.mime not in SCAN_TYPES:
        raise DomainError(_("The scan must be a PDF, JPEG or PNG file."), field="scan")
    return data, kind.mime


def _person_for(*, id_number: str, name: str, field: str) -> Person:
    number = _validated_id(id_number, field=field)
    person = Person.objects.filter(id_hash=id_numbers.keyed_hash(number)).first()
    if person is not None and re.sub(r"\s+", "", person.name) != re.sub(r"\s+", "", name):
        raise DomainError(
            _("The name does not match the person recorded with this ID number."), field=field
        )
    return person or person_get_or_create(id_number=number, name=name)


def agent_authorisation_record(
    *,
    actor: User,
    principal_id_number: str,
    principal_name: str,
    agent_id_number: str,
    agent_name: str,
    matter_code: str,
    valid_from,
    valid_to,
    scan,
    note: str = "",
) -> AgentAuthorisation:
    """A window clerk records that the principal authorised the agent for one matter,
    after checking the signed paper form and both identity documents; the scan is kept."""
    if not roles.has_role(actor, roles.WINDOW_CLERK):
        raise NotAllowed(_("Only a window clerk records agent authorisations."))
    if valid_to < valid_from:
        raise DomainError(_("The authorisation ends before it starts."), field="valid_to")
    matter_code = (matter_code or "").strip()
    if not matter_code:
        raise DomainError(_("Name the matter the authorisation is for."), field="matter_code")
    data, mime = _sniffed_scan(scan)
    digest = hashlib.sha256(data).hexdigest()
    with transaction.atomic():
        principal = _person_for(
            id_number=principal_id_number, name=principal_name, field="principal_id_number"
        )
        agent = _person_for(id_number=agent_id_number, name=agent_name, field="agent_id_number")
        if principal.pk == agent.pk:
            raise DomainError(_("A person cannot be their own agent."), field="agent_id_number")
        authorisation = AgentAuthorisation(
            principal=principal,
            agent=agent,
            matter_code=matter_code,
            valid_from=valid_from,
            valid_to=valid_to,
            scan_sha256=digest,
            scan_type=mime,
            note=note[:300],
            recorded_by=actor,
        )
        authorisation.scan.save(f"{digest[:24]}.{SCAN_TYPES[mime]}", ContentFile(data), save=False)
        authorisation.save()
        audit_record(
            actor=actor,
            action="agent.authorised",
            obj=authorisation,
            person_hash=principal.id_hash,
            data={
                "agent_hash": agent.id_hash,
                "matter": matter_code,
                "valid_from": valid_from.isoformat(),
                "valid_to": valid_to.isoformat(),
                "scan_sha256": digest,
            },
        )
    return authorisation


def agent_authorisation_revoke(
    *, authorisation: AgentAuthorisation, actor: User, reason: str
) -> AgentAuthorisation:
    """End an authorisation early (the principal withdrew it, or it was recorded wrongly)."""
    if not roles.has_role(actor, roles.WINDOW_CLERK):
        raise NotAllowed(_("Only a window clerk revokes agent authorisations."))
    if not (reason or "").strip():
        raise DomainError(_("Say why the authorisation is revoked."), field="reason")
    with transaction.atomic():
        authorisation = AgentAuthorisation.objects.select_for_update().get(pk=authorisation.pk)
        if authorisation.revoked_at is not None:
            raise Conflict(_("This authorisation is already revoked."), code="already_revoked")
        authorisation.revoked_at = timezone.now()
        authorisation.revoked_by = actor
        authorisation.revoke_reason = reason.strip()[:300]
        authorisation.save(update_fields=["revoked_at", "revoked_by", "revoke_reason"])
        audit_record(
            actor=actor,
            action="agent.revoked",
            obj=authorisation,
            person_hash=authorisation.principal.id_hash,
            data={"reason": authorisation.revoke_reason},
        )
    return authorisation
