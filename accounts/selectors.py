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


def authorisation_for(agent_person, principal_person, matter_code: str, on_date):
    """The agent's valid authorisation from the principal for ``matter_code`` on ``on_date``
    (the latest recorded, if several), or ``None``. Revoked ones never count."""
    from .models import AgentAuthorisation

    if agent_person is None or principal_person is None:
        return None
    return (
        AgentAuthorisation.objects.filter(
            agent=agent_person,
            principal=principal_person,
            matter_code=matter_code,
            valid_from__lte=on_date,
            valid_to__gte=on_date,
            revoked_at__isnull=True,
        )
        .order_by("-recorded_at", "-id")
        .first()
    )


def agent_authorisations_recent(limit: int = 50):
    from .models import AgentAuthorisation

    return AgentAuthorisation.objects.select_related(
        "principal", "agent", "recorded_by", "revoked_by"
    ).order_by("-recorded_at", "-id")[:limit]


def agent_authorisations_of(person):
    """Every authorisation a person gave or holds, newest first (window search)."""
    from django.db.models import Q

    from .models import AgentAuthorisation

    return (
        AgentAuthorisation.objects.filter(Q(principal=person) | Q(agent=person))
        .select_related("principal", "agent", "recorded_by", "revoked_by")
        .order_by("-recorded_at", "-id")
    )


def audit_events_filtered(
    *, person_id_number: str = "", staff_username: str = "", since=None, until=None
):
    """The audit log for an auditor, filtered by a person's ID number (matched through its
    keyed hash: the log never holds the number), a staff username and a period."""
    from core.audit_export import audit_events

    person_hashes = None
    if person_id_number:
        person_hashes = [id_numbers.keyed_hash(id_numbers.validate(person_id_number))]
    return audit_events(
        person_hashes=person_hashes, staff_username=staff_username, since=since, until=until
    )
