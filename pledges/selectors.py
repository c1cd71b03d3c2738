"""Reads of the catalog and pledges, for pages, the API and other apps."""

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from accounts import id_numbers, roles
from core.tokens import make_token

from .models import Disposition, Matter, Pledge, PledgeTemplate

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


def matter_for_signing(code: str) -> tuple[Matter | None, PledgeTemplate | None]:
    """The matter (with its department) and its current published template, in one query
    when there is a template: the signing path reads both."""
    template = (
        PledgeTemplate.objects.select_related("matter__department")
        .filter(matter__code=code, status=PledgeTemplate.Status.PUBLISHED)
        .order_by("-version")
        .first()
    )
    if template is not None:
        return template.matter, template
    return Matter.objects.select_related("department").filter(code=code).first(), None


def matter_is_pledgeable(matter: Matter) -> bool:
    return matter.accepts_pledges and matter.current_template() is not None


def pledges_visible_to(user) -> QuerySet[Pledge]:
    """A resident sees their own pledges; staff see every pledge (scopes come with security)."""
    qs = Pledge.objects.select_related("matter", "matter__department", "person", "template")
    if roles.is_staff_role(user):
        return qs
    if user.is_authenticated and user.person_id:
        return qs.filter(person_id=user.person_id)
    return qs.none()


def pledge_for(user, number: str) -> Pledge | None:
    return pledges_visible_to(user).filter(number=number).first()


def pledges_by_id_number(number: str) -> QuerySet[Pledge]:
    if not id_numbers.is_valid(number):
        return Pledge.objects.none()
    return Pledge.objects.filter(person__id_hash=id_numbers.keyed_hash(number))


def verify_token(pledge: Pledge) -> str:
    return make_token(VERIFY_PURPOSE, f"{pledge.number}:{pledge.content_sha256}")


def verify_path(pledge: Pledge) -> str:
    return f"/verify/{pledge.number}/{verify_token(pledge)}/"


def pdf_path(pledge: Pledge) -> str:
    return f"/api/v1/pledges/{pledge.number}/pdf/"
