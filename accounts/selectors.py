"""Reads about accounts and persons, for the other apps."""

import datetime as dt

from django.conf import settings
from django.utils import timezone

from . import id_numbers
from .models import Person, Unit, User
from .roles import VERIFICATION_OFFICER, WINDOW_CLERK, has_role


def person_by_id_number(number: str) -> Person | None:
    if not id_numbers.is_valid(number):
        return None
    return Person.objects.filter(id_hash=id_numbers.keyed_hash(number)).first()


def unit_scope_ids(user) -> list[int]:
    """The ids of a staff member's unit and of every unit under it (its area), for per-unit
    scopes. Empty when the account has no unit: a scope built on it then matches nothing.

    Cached on the user object for the request, like the role names.
    """
    cached = getattr(user, "_unit_scope_ids", None)
    if cached is not None:
        return cached
    unit_id = getattr(user, "unit_id", None)
    ids = [unit_id] if unit_id else []
    frontier = list(ids)
    while frontier:
        frontier = list(
            Unit.objects.filter(parent_id__in=frontier)
            .exclude(pk__in=ids)
            .values_list("pk", flat=True)
        )
        ids.extend(frontier)
    if user is not None and getattr(user, "is_authenticated", False):
        user._unit_scope_ids = ids
    return ids


#: Audit actions by which a window clerk looks a resident up by ID number at the window.
WINDOW_LOOKUP_ACTIONS = ("pledge.window_lookup", "agent.searched")


def persons_served_by(user, *, now=None):
    """The keyed hashes of the persons a window clerk looked up by ID number at the window
    within ``CHENGNUO_WINDOW_SERVICE_HOURS`` (default 8): the resident stood at the window
    with an ID card, so the clerk may serve them. Read from the audit log, which records
    every such lookup; a subquery of ``person_hash`` values."""
    from core.models import AuditEvent

    if not getattr(user, "is_authenticated", False):
        return AuditEvent.objects.none().values("person_hash")
    since = (now or timezone.now()) - dt.timedelta(hours=settings.CHENGNUO_WINDOW_SERVICE_HOURS)
    return (
        AuditEvent.objects.filter(
            actor=user, action__in=WINDOW_LOOKUP_ACTIONS, occurred_at__gte=since
        )
        .exclude(person_hash="")
        .values("person_hash")
    )


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


def agent_authorisations_visible_to(user):
    """Authorisations a window clerk may open (revoke, scan): those recorded at their hall
    (their unit and the units under it), and those given or held by a person the clerk looked
    up by ID number at the window lately (``persons_served_by``). Nobody else sees any."""
    from django.db.models import Q

    from .models import AgentAuthorisation

    qs = AgentAuthorisation.objects.select_related(
        "principal", "agent", "recorded_by", "revoked_by"
    )
    if not has_role(user, WINDOW_CLERK):
        return qs.none()
    served = persons_served_by(user)
    return qs.filter(
        Q(recorded_by__unit_id__in=unit_scope_ids(user))
        | Q(principal__id_hash__in=served)
        | Q(agent__id_hash__in=served)
    )


def agent_authorisations_recent(user, limit: int = 50):
    """The latest authorisations recorded at the clerk's hall."""
    return (
        agent_authorisations_visible_to(user)
        .filter(recorded_by__unit_id__in=unit_scope_ids(user))
        .order_by("-recorded_at", "-id")[:limit]
    )


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
