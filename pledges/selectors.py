"""Reads of the catalog and pledges, for pages, the API and other apps."""

import functools
import operator

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from accounts import id_numbers, roles
from accounts import selectors as accounts_selectors
from core.prepared import PreparedQuery
from core.tokens import make_token

from .models import Channel, Disposition, Matter, Pledge, PledgeStatus, PledgeTemplate

VERIFY_PURPOSE = "pledge-verify"


def matter_list(
    *, search: str = "", department: str = "", disposition: str = "", pledgeable=None
) -> QuerySet[Matter]:
    """The public catalog. ``pledgeable`` narrows to matters open to pledges today."""
    qs = Matter.objects.select_related("department").annotate(
        has_template=Exists(
            PledgeTemplate.objects.filter(
                matter=OuterRef("pk"), status=PledgeTemplate.Status.PUBLISHED
            )
        )
    )
    if search:
        qs = qs.filter(
            Q(name__icontains=search)
            | Q(code__icontains=search)
            | Q(certificate__icontains=search)
            | Q(department__name__icontains=search)
        )
    if department:
        qs = qs.filter(Q(department__code=department) | Q(department__name=department))
    if disposition:
        qs = qs.filter(disposition=disposition)
    if pledgeable is not None:
        today = timezone.localdate()
        open_q = (
            Q(disposition=Disposition.PLEDGE, excluded_from_pledge=False, has_template=True)
            & Q(valid_from__lte=today)
            & (Q(valid_to__isnull=True) | Q(valid_to__gte=today))
        )
        qs = qs.filter(open_q) if pledgeable else qs.exclude(open_q)
    return qs.order_by("code")


def _current_template_of(code):
    return (
        PledgeTemplate.objects.select_related("matter__department")
        .filter(matter__code=code, status=PledgeTemplate.Status.PUBLISHED)
        .order_by("-version")[:1]
    )


_current_template_read = PreparedQuery(_current_template_of, "code")


def matter_for_signing(code: str) -> tuple[Matter | None, PledgeTemplate | None]:
    """The matter (with its department) and its current published template, in one query
    when there is a template: the signing path reads both. Prepared (``core.prepared``): it
    runs on every signature, and compiling it cost more than the database spends on it."""
    template = _current_template_read.first(code=code)
    if template is not None:
        return template.matter, template
    return Matter.objects.select_related("department").filter(code=code).first(), None


def matter_is_pledgeable(matter: Matter) -> bool:
    return matter.accepts_pledges and matter.current_template() is not None


def window_scope(user) -> Q:
    """The pledges a window clerk serves (docs/access.md):

    - those handled at their service hall (their unit and the units under it): recorded,
      decided or revoked there;
    - the online pledges of a resident they looked up by ID number at the window lately
      (``accounts.selectors.persons_served_by``; every lookup is in the audit log);
    - online pledges found false or breached that no hall handled yet, awaiting the
      revocation some window must record.
    """
    units = accounts_selectors.unit_scope_ids(user)
    return (
        Q(clerk__unit_id__in=units)
        | Q(decided_by__unit_id__in=units)
        | Q(revoked_by__unit_id__in=units)
        | Q(
            channel=Channel.ONLINE,
            person__id_hash__in=accounts_selectors.persons_served_by(user),
        )
        | Q(
            channel=Channel.ONLINE,
            status=PledgeStatus.REVOCATION_PENDING,
            decided_by__isnull=True,
        )
    )


def pledges_visible_to(user) -> QuerySet[Pledge]:
    """Every pledge ``user`` may read: a person's own (an agent who signed for a principal
    does not read it afterwards: it is the principal's), and for a window clerk
    ``window_scope``. No other role reads pledges through the pledge endpoints: officers read
    the frozen text through their check tasks. The one place pages, API, PDF and batches ask.
    """
    qs = Pledge.objects.select_related("matter", "matter__department", "person", "template")
    if not getattr(user, "is_authenticated", False):
        return qs.none()
    scopes = []
    if user.person_id:
        scopes.append(Q(person_id=user.person_id))
    if roles.has_role(user, roles.WINDOW_CLERK):
        scopes.append(window_scope(user))
    if not scopes:
        return qs.none()
    return qs.filter(functools.reduce(operator.or_, scopes))


def pledge_for(user, number: str) -> Pledge | None:
    return pledges_visible_to(user).filter(number=number).first()


def pledges_by_id_number(user, number: str) -> QuerySet[Pledge]:
    """``user``'s visible pledges of the person with ID ``number`` (found by keyed hash).

    For a window clerk, call ``services.window_person_lookup`` first: the recorded lookup is
    what opens that resident's online pledges to the clerk."""
    if not id_numbers.is_valid(number):
        return Pledge.objects.none()
    return pledges_visible_to(user).filter(person__id_hash=id_numbers.keyed_hash(number))


def verify_token(pledge: Pledge) -> str:
    return make_token(VERIFY_PURPOSE, f"{pledge.number}:{pledge.content_sha256}")


def verify_path(pledge: Pledge) -> str:
    return f"/verify/{pledge.number}/{verify_token(pledge)}/"


def pdf_path(pledge: Pledge) -> str:
    return f"/api/v1/pledges/{pledge.number}/pdf/"
