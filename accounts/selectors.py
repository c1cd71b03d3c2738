"""Reads about accounts and persons, for the other apps."""

from . import id_numbers
from .models import Person, Unit, User
from .roles import VERIFICATION_OFFICER


def person_by_id_number(number: str) -> Person | None:
    if not id_numbers.is_valid(number):
        return None
    return Person.objects.filter(id_hash=id_numbers.keyed_hash(number)).first()


def areas():
    """Towns and street offices of the city (for address forms)."""
    return Unit.objects.filter(kind__in=[Unit.Kind.TOWN, Unit.Kind.STREET]).order_by("code")


def departments():
    return Unit.objects.filter(kind=Unit.Kind.DEPARTMENT).order_by("code")


def active_officers():
    return User.objects.filter(is_active=True, groups__name=VERIFICATION_OFFICER).distinct()
