"""The pledges app's part of a person's data copy, and its retention rule.

Registered in ``PledgesConfig.ready`` with ``core.personal_data`` and ``core.retention``.
"""

from django.utils.translation import gettext_lazy as _

from core.personal_data import iso, register_provider
from core.retention import register_rule


def _without_hashes(content: dict) -> dict:
    """The frozen content as shown to the person: the keyed hash is an internal key."""
    applicant = {k: v for k, v in (content.get("applicant") or {}).items() if k != "id_hash"}
    return {**content, "applicant": applicant}


def pledges_of(person, *, account=None) -> dict:
    """Every pledge signed by or for the person, with its frozen text, and their choices to
    bring the certificate instead."""
    from .models import CertificateChoice, Pledge

    if person is None:
        return {}
    pledges = [
        {
            "number": p.number,
            "matter": f"{p.matter.code} {p.matter.name}",
            "status": p.status,
            "channel": p.channel,
            "signed_at": iso(p.signed_at),
            "typed_name": p.typed_name,
            "phone": (p.applicant_phone[:3] + "****" + p.applicant_phone[-4:])
            if len(p.applicant_phone or "") >= 7
            else "",
            "address": p.applicant_address,
            "decided_at": iso(p.decided_at),
            "withdrawn_at": iso(p.withdrawn_at),
            "withdraw_reason": p.withdraw_reason,
            "revoked_at": iso(p.revoked_at),
            "content_sha256": p.content_sha256,
            "content": _without_hashes(p.content),
            "has_drawn_signature": bool(p.signature),
            "has_paper_scan": bool(p.paper_scan),
        }
        for p in Pledge.objects.filter(person=person)
        .select_related("matter")
        .order_by("signed_at", "id")
    ]
    choices = [
        {"matter": f"{c.matter.code} {c.matter.name}", "chosen_at": iso(c.chosen_at)}
        for c in CertificateChoice.objects.filter(person=person).select_related("matter")
    ]
    if not pledges and not choices:
        return {}
    return {"pledges": pledges, "certificate_choices": choices}


def anonymise_withdrawn_contacts(cutoff) -> int:
    """Withdrawn pledges (no legal effect) lose their contact details and connection data
    once withdrawn longer than the retention period. The frozen content, its SHA-256 and the
    keyed hash stay: the record of what was signed and withdrawn remains checkable."""
    from .models import Pledge, PledgeStatus

    # A blank encrypted value is stored blank, so "already anonymised" is a plain filter.
    return (
        Pledge.objects.filter(status=PledgeStatus.WITHDRAWN, withdrawn_at__lt=cutoff)
        .exclude(applicant_phone="", applicant_address="", ip=None, user_agent="")
        .update(applicant_phone="", applicant_address="", ip=None, user_agent="")
    )


def register() -> None:
    register_provider("pledges", pledges_of, order=30, title=_("Pledges"))
    register_rule("withdrawn_pledge_contacts", anonymise_withdrawn_contacts, order=50)
