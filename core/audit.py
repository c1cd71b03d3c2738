"""The audit log: one call per staff write or read of personal data."""

from .middleware import current_context
from .models import AuditEvent
from .prepared import PreparedInsert


def audit_record(
    *, actor, action: str, obj=None, object_type: str = "", object_id="", person_hash="", data=None
) -> AuditEvent:
    """Append one audit event. Call inside the transaction of the change it records."""
    if obj is not None:
        object_type = object_type or obj._meta.label_lower
        object_id = object_id or str(obj.pk)
    context = current_context()
    user = actor if getattr(actor, "is_authenticated", False) else None
    unit = getattr(user, "unit", None) if user else None
    event = AuditEvent(
        actor=user,
        actor_username=user.get_username() if user else "",
        actor_unit=unit.code if unit else "",
        action=action,
        object_type=object_type,
        object_id=str(object_id),
        person_hash=person_hash or "",
        data=data or {},
        ip=context.get("ip"),
        user_agent=context.get("user_agent", ""),
    )
    _insert.bind(event).execute()  # AuditEvent.objects.create, its INSERT compiled once
    return event


_insert = PreparedInsert(AuditEvent)
