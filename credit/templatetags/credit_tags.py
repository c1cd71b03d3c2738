from django import template
from django.utils.translation import gettext_lazy as _

register = template.Library()

EVENT_LABELS = {
    "record.drafted": _("Record drafted; hearing opened"),
    "statement.received": _("Statement received"),
    "record.confirmed": _("Record confirmed"),
    "record.annulled": _("Record annulled"),
    "record.published": _("Publication started"),
    "record.corrected": _("Record corrected"),
    "objection.filed": _("Objection filed"),
    "objection.upheld": _("Objection upheld"),
    "objection.rejected": _("Objection rejected"),
    "repair.applied": _("Repair applied for"),
    "repair.approved": _("Repair approved"),
    "repair.rejected": _("Repair rejected"),
    "publication.stopped": _("Publication stopped"),
    "record.expired": _("Record expired"),
    "record.pushed": _("Sent to the credit-sharing platform"),
}


@register.filter
def event_label(code: str) -> str:
    return EVENT_LABELS.get(code, code)


@register.filter
def event_time(value: str) -> str:
    """``2026-03-01T02:03:04.123456Z`` → ``2026-03-01 10:03`` in the site's time zone."""
    from django.utils import timezone
    from django.utils.dateparse import parse_datetime

    moment = parse_datetime(value or "")
    if moment is None:
        return value
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M")
