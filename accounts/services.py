"""Writes for accounts and persons."""

from django.contrib.auth.models import Group
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from core.audit import audit_record
from core.errors import DomainError
from core.otp import otp_check

from . import id_numbers, roles
from .models import Person, Unit, User
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
) -> User:
    """Register a resident: checked phone code, real-name check, one account per ID number."""
    number = _validated_id(id_number)
    if User.objects.filter(username=username).exists():
        raise DomainError(_("This username is taken."), field="username")
    try:
        validate_password(password, User(username=username, real_name=real_name))
    except ValidationError as exc:
        raise DomainError(" ".join(exc.messages), field="password") from exc
    if not real_name_matches(name=real_name, id_number=number):
        raise DomainError(
            _("The name and ID number do not match the population registry."), field="real_name"
        )
    otp_check(phone=phone, purpose="register", code=code)
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
        audit_record(actor=user, action="account.registered", obj=user, person_hash=person.id_hash)
    return user


def account_upsert(
    *,
    username: str,
    role: str,
    password: str,
    real_name: str = "",
    id_number: str = "",
    unit_code: str = "",
    phone: str = "",
) -> tuple[User, bool]:
    """Create an account or update role, password and details of an existing one."""
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
    return user, created
