"""The accounts app's part of a person's data copy, and its retention rule.

Registered in ``AccountsConfig.ready`` with ``core.personal_data`` and ``core.retention``.
"""

from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.personal_data import iso, register_provider
from core.retention import register_rule


def identity_of(person, *, account=None) -> dict:
    """Who the person is to the system: identity (ID number masked), account, consents."""
    data = {}
    if person is not None:
        data["person"] = {
            "name": person.name,
            "id_number": person.id_masked,
            "phone": _masked_phone(person.phone),
            "address": person.address,
            "town": person.town.name if person.town_id else "",
            "recorded_at": iso(person.created_at),
        }
        data["privacy_consents"] = [
            {
                "notice_version": c.notice_version,
                "notice_sha256": c.notice_sha256,
                "channel": c.channel,
                "consented_at": iso(c.consented_at),
            }
            for c in person.privacy_consents.order_by("consented_at", "id")
        ]
    if account is not None:
        data["account"] = {
            "username": account.username,
            "real_name": account.real_name,
            "phone": _masked_phone(account.phone),
            "email": account.email,
            "unit": account.unit.name if account.unit_id else "",
            "joined_at": iso(account.date_joined),
            "last_login": iso(account.last_login),
        }
    return data


def agents_of(person, *, account=None) -> dict:
    """Authorisations the person gave (as principal) and holds (as agent)."""
    if person is None:
        return {}

    def row(a, other):
        return {
            "id": a.pk,
            "matter_code": a.matter_code,
            "other_party": f"{other.name} ({other.id_masked})",
            "valid_from": iso(a.valid_from),
            "valid_to": iso(a.valid_to),
            "recorded_at": iso(a.recorded_at),
            "revoked_at": iso(a.revoked_at),
            "scan_sha256": a.scan_sha256,
        }

    given = [row(a, a.agent) for a in person.authorisations_given.select_related("agent")]
    held = [row(a, a.principal) for a in person.authorisations_held.select_related("principal")]
    if not given and not held:
        return {}
    return {"given": given, "held": held}


def _masked_phone(phone: str) -> str:
    return (phone[:3] + "****" + phone[-4:]) if phone and len(phone) >= 7 else ""


def expire_agent_scans(cutoff) -> int:
    """Delete authorisation scans whose authorisation ended before ``cutoff``.

    The record stays, with the scan's SHA-256, so a pledge made under it can still be
    traced to the authorisation and the paper original (kept by the office) checked.
    """
    from django.db.models import Q

    from .models import AgentAuthorisation

    ended = Q(valid_to__lt=cutoff.date()) | Q(revoked_at__lt=cutoff)
    count = 0
    for authorisation in AgentAuthorisation.objects.filter(ended, scan_deleted_at__isnull=True):
        if authorisation.scan:
            authorisation.scan.delete(save=False)
        authorisation.scan = ""
        authorisation.scan_deleted_at = timezone.now()
        authorisation.save(update_fields=["scan", "scan_deleted_at"])
        count += 1
    return count


def register() -> None:
    register_provider("identity", identity_of, order=10, title=_("Identity and account"))
    register_provider("agents", agents_of, order=40, title=_("Agents"))
    register_rule("agent_authorisation_scans", expire_agent_scans, order=40)
