"""Pledge state changes after signing, used by verification (事后核查) and the service window.

Each public function is one transaction (a savepoint inside the caller's): it locks the
pledge, checks the change against ``Pledge.TRANSITIONS``, writes, and appends the audit event.
``source`` names what caused the change (``"verification.finding:12"``), so the audit log
leads back to it without this app importing the apps above it.
"""

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts import roles
from core.audit import audit_record
from core.errors import Conflict, DomainError, NotAllowed

from .models import Pledge, PledgeStatus

#: States a pledge may be drawn from for a check.
CHECKABLE = (PledgeStatus.SIGNED, PledgeStatus.DECIDED)
#: States a pledge may be put under check from by a single check (a promise past its deadline).
RECHECKABLE = (PledgeStatus.SIGNED, PledgeStatus.DECIDED, PledgeStatus.VERIFIED)


class Outcome:
    """What a check found, as far as the pledge is concerned."""

    VERIFIED = "verified"
    FOUND_FALSE = "found_false"
    BREACH = "breach"
    INCONCLUSIVE = "inconclusive"

    ALL = (VERIFIED, FOUND_FALSE, BREACH, INCONCLUSIVE)


def _locked(pledge) -> Pledge:
    return Pledge.objects.select_for_update().select_related("person").get(pk=pledge.pk)


def _move(pledge: Pledge, status: str, *, actor, source: str, data=None) -> None:
    if not pledge.can_move_to(status):
        raise Conflict(
            _("This pledge is %(status)s; it cannot become %(target)s.")
            % {"status": pledge.get_status_display(), "target": PledgeStatus(status).label},
            code="invalid_state",
        )
    previous = pledge.status
    pledge.status = status
    pledge.save(update_fields=["status"])
    audit_record(
        actor=actor,
        action=f"pledge.{status}",
        obj=pledge,
        person_hash=pledge.person.id_hash,
        data={"from": previous, "source": source, **(data or {})},
    )


def pledges_mark_under_check(*, pledges, source: str, actor=None) -> int:
    """Put many drawn pledges under check in one statement (a draw may hold thousands).

    ``pledges`` holds pledge ids (a list, or a queryset used as a subquery); only those still
    in a checkable state change. One audit event records the batch and its source.
    """
    with transaction.atomic():
        changed = Pledge.objects.filter(pk__in=pledges, status__in=CHECKABLE).update(
            status=PledgeStatus.UNDER_CHECK
        )
        audit_record(
            actor=actor,
            action="pledge.under_check.batch",
            object_type="pledges.pledge",
            data={"source": source, "count": changed},
        )
    return changed


def pledge_mark_under_check(*, pledge, source: str, actor=None) -> Pledge:
    """Put one pledge under check (a written check of a promise past its deadline)."""
    with transaction.atomic():
        pledge = _locked(pledge)
        if pledge.status == PledgeStatus.UNDER_CHECK:
            return pledge
        if pledge.status not in RECHECKABLE:
            raise Conflict(
                _("This pledge is %(status)s; it cannot be checked.")
                % {"status": pledge.get_status_display()},
                code="invalid_state",
            )
        _move(pledge, PledgeStatus.UNDER_CHECK, actor=actor, source=source)
    return pledge


def pledge_record_check(
    *, pledge, outcome: str, source: str, actor=None, restore_to: str = ""
) -> Pledge:
    """Apply a check's outcome to the pledge.

    - ``verified``: the pledge was truthful.
    - ``found_false`` / ``breach``: the pledge moves there and on to ``revocation_pending``,
      for a window clerk to record the revocation.
    - ``inconclusive``: could not verify; the pledge returns to ``restore_to`` (the state it
      had before the check).
    A pledge not under check (a check made without a draw) passes through ``under_check``.
    """
    if outcome not in Outcome.ALL:
        raise DomainError(_("Unknown outcome of a check."), field="outcome")
    with transaction.atomic():
        pledge = _locked(pledge)
        if pledge.status in RECHECKABLE and outcome != Outcome.INCONCLUSIVE:
            _move(pledge, PledgeStatus.UNDER_CHECK, actor=actor, source=source)
        if outcome == Outcome.INCONCLUSIVE:
            if pledge.status != PledgeStatus.UNDER_CHECK:
                return pledge
            target = restore_to if restore_to in CHECKABLE else PledgeStatus.DECIDED
            if pledge.decided_at is None and target == PledgeStatus.DECIDED:
                target = PledgeStatus.SIGNED
            _move(pledge, target, actor=actor, source=source, data={"outcome": outcome})
        elif outcome == Outcome.VERIFIED:
            _move(pledge, PledgeStatus.VERIFIED, actor=actor, source=source)
        else:
            _move(pledge, outcome, actor=actor, source=source)
            _move(pledge, PledgeStatus.REVOCATION_PENDING, actor=actor, source=source)
    return pledge


def pledge_revoke(*, pledge, actor, note: str = "") -> Pledge:
    """A window clerk records the revocation of a pledge found false or breached."""
    if not roles.has_role(actor, roles.WINDOW_CLERK):
        raise NotAllowed(_("Only a window clerk records a revocation."))
    note = (note or "").strip()
    if not note:
        raise DomainError(
            _("Say what was revoked (the decision, the licence) and on what basis."),
            field="note",
        )
    with transaction.atomic():
        pledge = _locked(pledge)
        if pledge.status != PledgeStatus.REVOCATION_PENDING:
            raise Conflict(
                _("This pledge is %(status)s; only a pledge awaiting revocation can be revoked.")
                % {"status": pledge.get_status_display()},
                code="invalid_state",
            )
        pledge.revoked_at = timezone.now()
        pledge.revoked_by = actor
        pledge.revocation_note = note[:500]
        pledge.save(update_fields=["revoked_at", "revoked_by", "revocation_note"])
        _move(
            pledge,
            PledgeStatus.REVOKED,
            actor=actor,
            source="pledges.revocation",
            data={"note": pledge.revocation_note},
        )
    return pledge


def pledges_awaiting_revocation() -> QuerySet:
    """For the window: pledges found false or breached whose revocation is not recorded yet."""
    return (
        Pledge.objects.filter(status=PledgeStatus.REVOCATION_PENDING)
        .select_related("matter", "person")
        .order_by("signed_at", "id")
    )
