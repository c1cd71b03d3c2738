"""Everything the system holds about one person, for their own copy (PIPL art. 45).

``core`` cannot import the apps above it, so each app contributes its own section: it
registers a provider in its ``AppConfig.ready``::

    from core.personal_data import register_provider
    register_provider("pledges", pledges_for_person, order=30)

A provider is called as ``provider(person, account=account)`` (``person`` may be ``None`` for
a staff account without a person) and returns JSON-serialisable data: lists of plain dicts
with dates as ISO strings. It shows what the person may see: masked ID numbers, no keyed
hashes, no key material, no other person's data, no staff member's name (the unit is enough).
"""

from collections.abc import Callable
from dataclasses import dataclass

from django.utils import timezone


@dataclass(frozen=True)
class Provider:
    name: str
    provide: Callable
    order: int
    title: str


_providers: dict[str, Provider] = {}


def register_provider(name: str, provide: Callable, *, order: int = 100, title: str = "") -> None:
    """Register (or replace, so ``ready()`` running twice is harmless) the section ``name``."""
    _providers[name] = Provider(name=name, provide=provide, order=order, title=title or name)


def providers() -> list[Provider]:
    return sorted(_providers.values(), key=lambda p: (p.order, p.name))


def collect(person, *, account=None) -> dict:
    """``{"generated_at", "sections": {name: data}}`` from every registered provider."""
    sections = {}
    for provider in providers():
        data = provider.provide(person, account=account)
        if data:
            sections[provider.name] = data
    return {
        "generated_at": timezone.now().isoformat(),
        "sections": sections,
        "titles": {p.name: str(p.title) for p in providers() if p.name in sections},
    }


def iso(value) -> str | None:
    """A date or time as ISO 8601 (local time for datetimes), ``None`` stays ``None``."""
    if value is None:
        return None
    if hasattr(value, "tzinfo") and hasattr(value, "hour"):
        return timezone.localtime(value).isoformat()
    return value.isoformat()


# ---- core's own sections ----------------------------------------------------------------


def notifications_of(person, *, account=None) -> list[dict]:
    from .models import Notification

    if account is None:
        return []
    return [
        {
            "created_at": iso(n.created_at),
            "title": n.title,
            "body": n.body,
            "read_at": iso(n.read_at),
        }
        for n in Notification.objects.filter(recipient=account).order_by("created_at", "id")
    ]


def audit_events_about(person, *, account=None) -> list[dict]:
    """What was done with the person's records and by their account, and by which unit.

    Staff members' usernames are left out (the unit answers "who"); the person's own
    account's events are included with the address they came from.
    """
    from django.db.models import Q

    from .models import AuditEvent

    query = Q()
    if person is not None:
        query |= Q(person_hash=person.id_hash)
    if account is not None:
        query |= Q(actor=account)
    if not query:
        return []
    rows = []
    for event in AuditEvent.objects.filter(query).order_by("occurred_at", "id").iterator():
        own = account is not None and event.actor_id == account.pk
        by = "you" if own else (event.actor_unit or ("" if event.actor_id else "system"))
        rows.append(
            {
                "occurred_at": iso(event.occurred_at),
                "action": event.action,
                "record": f"{event.object_type}:{event.object_id}" if event.object_type else "",
                "by": by,
                "ip": event.ip if own else None,
            }
        )
    return rows
