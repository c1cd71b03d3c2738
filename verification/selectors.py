"""Reads of the verification app, for its pages, its API and the apps above it."""

import datetime as dt

from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from accounts import roles
from accounts.selectors import active_officers, unit_scope_ids
from pledges.models import Pledge, PledgeStatus

from .models import (
    AssistRequest,
    CheckTask,
    Draw,
    Evidence,
    Finding,
    FindingResult,
    PromiseFulfilment,
    PromiseTerm,
    SpotCheckPlan,
    TaskStatus,
)

#: Roles that may read plans and draws (the catalog administrator keeps the plans).
PLAN_READERS = (
    roles.VERIFICATION_OFFICER,
    roles.VERIFICATION_SUPERVISOR,
    roles.CATALOG_ADMIN,
    roles.OVERSIGHT_OFFICER,
)
#: Roles that may run a draw by hand.
DRAW_RUNNERS = (roles.VERIFICATION_SUPERVISOR, roles.CATALOG_ADMIN)


def is_supervisor(user) -> bool:
    return roles.has_role(user, roles.VERIFICATION_SUPERVISOR)


def is_officer(user) -> bool:
    return roles.has_role(user, roles.VERIFICATION_OFFICER)


def can_run_draws(user) -> bool:
    return roles.has_role(user, *DRAW_RUNNERS)


def can_read_plans(user) -> bool:
    return roles.has_role(user, *PLAN_READERS)


def can_keep_plans(user) -> bool:
    return roles.has_role(user, roles.CATALOG_ADMIN)


# ---- plans and draws ----------------------------------------------------------------------


def plan_list() -> QuerySet[SpotCheckPlan]:
    return SpotCheckPlan.objects.select_related("matter", "periodic_task").order_by("name", "id")


def draw_list(*, plan=None) -> QuerySet[Draw]:
    draws = Draw.objects.select_related("plan", "plan__matter")
    if plan is not None:
        draws = draws.filter(plan=plan)
    return draws.order_by("-drawn_at", "-id")


#: Roles that read plans and draws city-wide: the catalog administrator keeps every plan,
#: the civil affairs bureau oversees every department.
CITY_WIDE_PLAN_READERS = (roles.CATALOG_ADMIN, roles.OVERSIGHT_OFFICER)


def _department_plans(user) -> Q:
    """Plans of the matters of the user's department (and the units under it), and the plans
    by risk level, which draw from every department's matters."""
    return Q(matter__department_id__in=unit_scope_ids(user)) | Q(matter__isnull=True)


def plans_visible_to(user) -> QuerySet[SpotCheckPlan]:
    """Plans ``user`` may read: every plan for the catalog administrator and the bureau; for
    verification officers and supervisors their department's plans and the risk-level ones."""
    plans = plan_list()
    if roles.has_role(user, *CITY_WIDE_PLAN_READERS):
        return plans
    if is_officer(user) or is_supervisor(user):
        return plans.filter(_department_plans(user))
    return plans.none()


def plans_runnable_by(user) -> QuerySet[SpotCheckPlan]:
    """Plans ``user`` may draw by hand: any for the catalog administrator; for a supervisor
    the plans of their department's matters (a risk-level plan spans departments)."""
    plans = plan_list()
    if roles.has_role(user, roles.CATALOG_ADMIN):
        return plans
    if is_supervisor(user):
        return plans.filter(matter__department_id__in=unit_scope_ids(user))
    return plans.none()


def draws_visible_to(user, *, plan=None) -> QuerySet[Draw]:
    """Draws of the plans ``user`` may read, and for officers also the draws they hold a
    task of (an officer may be drawn for another department's matter)."""
    draws = draw_list(plan=plan)
    if roles.has_role(user, *CITY_WIDE_PLAN_READERS):
        return draws
    if not (is_officer(user) or is_supervisor(user)):
        return draws.none()
    own_task = CheckTask.objects.filter(draw=OuterRef("pk")).filter(Q(lead=user) | Q(second=user))
    return draws.filter(
        Q(plan__in=SpotCheckPlan.objects.filter(_department_plans(user)).values("pk"))
        | Exists(own_task)
    )


def public_draws(today=None) -> QuerySet[Draw]:
    """Draws on the public page (一公开): finished ones, and any past its publication date
    (with its checks still open shown as pending)."""
    today = today or timezone.localdate()
    return (
        Draw.objects.filter(Q(closed_at__isnull=False) | Q(publish_due__lte=today))
        .select_related("plan", "plan__matter")
        .order_by("-drawn_at", "-id")
    )


def is_public(draw: Draw, today=None) -> bool:
    today = today or timezone.localdate()
    return draw.closed_at is not None or (
        draw.publish_due is not None and draw.publish_due <= today
    )


def results_by_matter(draw: Draw) -> list[dict]:
    """Counts per result per matter for a draw; no personal data."""
    rows = (
        CheckTask.objects.filter(draw=draw)
        .values("matter__code", "matter__name")
        .annotate(
            drawn=Count("id"),
            truthful=Count(
                "id",
                filter=Q(
                    finding__result=FindingResult.TRUTHFUL, finding__effective_at__isnull=False
                ),
            ),
            false=Count(
                "id",
                filter=Q(finding__result=FindingResult.FALSE, finding__effective_at__isnull=False),
            ),
            breach=Count(
                "id",
                filter=Q(finding__result=FindingResult.BREACH, finding__effective_at__isnull=False),
            ),
            unverifiable=Count(
                "id",
                filter=Q(
                    finding__result=FindingResult.UNVERIFIABLE, finding__effective_at__isnull=False
                ),
            ),
        )
        .order_by("matter__code")
    )
    result = []
    for row in rows:
        concluded = row["truthful"] + row["false"] + row["breach"] + row["unverifiable"]
        result.append(
            {
                "matter": row["matter__code"],
                "matter_name": row["matter__name"],
                "drawn": row["drawn"],
                "size": (draw.strata.get(row["matter__code"]) or {}).get("size"),
                "truthful": row["truthful"],
                "false": row["false"],
                "breach": row["breach"],
                "unverifiable": row["unverifiable"],
                "pending": row["drawn"] - concluded,
            }
        )
    return result


# ---- tasks --------------------------------------------------------------------------------


def _tasks() -> QuerySet[CheckTask]:
    return CheckTask.objects.select_related(
        "pledge", "pledge__person", "matter", "lead", "second", "draw", "finding"
    )


def tasks_visible_to(user) -> QuerySet[CheckTask]:
    """The tasks ``user`` may open: an officer's own (as lead or second officer); for a
    supervisor also every task of their department's matters (the matter's department is
    the supervisor's unit or a unit under it). Nobody else opens a task."""
    tasks = _tasks()
    if not (is_officer(user) or is_supervisor(user)):
        return tasks.none()
    scope = Q(lead=user) | Q(second=user)
    if is_supervisor(user):
        scope |= Q(matter__department_id__in=unit_scope_ids(user))
    return tasks.filter(scope)


def tasks_for(user, *, as_second: bool = False) -> QuerySet[CheckTask]:
    """The workbench: an officer's tasks as lead (by due date), or as second officer (those
    awaiting their countersignature); a supervisor sees every task of their department."""
    tasks = _tasks()
    if as_second:
        return tasks.filter(second=user).order_by("status", "due_date", "id")
    if is_supervisor(user):
        return tasks_visible_to(user).order_by("due_date", "id")
    if is_officer(user):
        return tasks.filter(lead=user).order_by("due_date", "id")
    return tasks.none()


def task_visible_to(user, task_id) -> CheckTask | None:
    """A task of ``tasks_visible_to(user)``, or ``None`` (the caller answers 404)."""
    if not str(task_id).isdigit():
        return None
    return tasks_visible_to(user).filter(pk=int(task_id)).first()


def assist_request_for(user, task_id, request_id) -> AssistRequest | None:
    """An assist request as those who answer it may open it: whoever may open its task, and
    the officers and supervisors of the department it was sent to (they answer it)."""
    if not (str(task_id).isdigit() and str(request_id).isdigit()):
        return None
    if not (is_officer(user) or is_supervisor(user)):
        return None
    scope = Q(task__in=tasks_visible_to(user).values("pk"))
    if user.unit_id:
        scope |= Q(department_id=user.unit_id)
    return (
        AssistRequest.objects.select_related("task", "department")
        .filter(scope, task_id=int(task_id), pk=int(request_id))
        .first()
    )


def overdue_tasks(today=None) -> QuerySet[CheckTask]:
    today = today or timezone.localdate()
    return CheckTask.objects.filter(
        status__in=[TaskStatus.OPEN, TaskStatus.AWAITING_COUNTERSIGN], due_date__lt=today
    )


def officers():
    """The officer directory (active ``verification_officer`` accounts), by id."""
    return active_officers().select_related("unit").order_by("id")


def conflict_reason(pledge, officer) -> str:
    """Why ``officer`` must step aside for ``pledge`` (empty when there is no conflict)."""
    if officer is None:
        return ""
    if pledge.clerk_id and officer.pk == pledge.clerk_id:
        return "clerk"
    if pledge.applicant_town_id and officer.unit_id == pledge.applicant_town_id:
        return "town"
    if officer.person_id and officer.person_id == pledge.person_id:
        return "applicant"
    return ""


# ---- the resident -------------------------------------------------------------------------


def checks_of(person) -> QuerySet[CheckTask]:
    """The checks of a person's pledges ("my checks"), newest first."""
    if person is None:
        return CheckTask.objects.none()
    return (
        CheckTask.objects.filter(pledge__person=person)
        .select_related("pledge", "matter", "finding")
        .order_by("-created_at", "-id")
    )


def promises_of(person, today=None) -> list[dict]:
    """The promises with deadlines on a person's pledges, fulfilled or not."""
    if person is None:
        return []
    pledges = (
        Pledge.objects.filter(person=person, template__promise_terms__isnull=False)
        .exclude(status__in=[PledgeStatus.WITHDRAWN, PledgeStatus.REVOKED])
        .select_related("matter", "template")
        .distinct()
    )
    result = []
    for pledge in pledges:
        done = {f.term_id: f for f in PromiseFulfilment.objects.filter(pledge=pledge)}
        for term in PromiseTerm.objects.filter(template_id=pledge.template_id):
            result.append(
                {
                    "pledge": pledge,
                    "term": term,
                    "due": due_date_of(pledge, term),
                    "fulfilment": done.get(term.pk),
                }
            )
    return result


def due_date_of(pledge, term):
    return timezone.localdate(pledge.signed_at) + dt.timedelta(days=term.deadline_days)


def overdue_promises(today=None):
    """(pledge, term) pairs past their deadline, unfulfilled, with no check task yet."""
    today = today or timezone.localdate()
    for term in PromiseTerm.objects.select_related("template").order_by("id"):
        # Due on the signing day plus the deadline: signed before this day, it is past due.
        limit = timezone.make_aware(
            dt.datetime.combine(today - dt.timedelta(days=term.deadline_days), dt.time.min)
        )
        pledges = (
            Pledge.objects.filter(template_id=term.template_id, signed_at__lt=limit)
            .exclude(status__in=[PledgeStatus.WITHDRAWN, PledgeStatus.REVOKED])
            .exclude(Exists(PromiseFulfilment.objects.filter(pledge=OuterRef("pk"), term=term)))
            .exclude(Exists(CheckTask.objects.filter(pledge=OuterRef("pk"), promise_term=term)))
            .order_by("id")
        )
        for pledge in pledges.iterator(chunk_size=500):
            yield pledge, term


# ---- evidence -----------------------------------------------------------------------------


def evidence_readable_by(user, evidence: Evidence) -> bool:
    """Officers of the task and supervisors of its department read every file of it; the
    person reads the material they uploaded; the credit office (city-wide) reads the evidence
    behind a credit draft."""
    if not user.is_authenticated:
        return False
    task = evidence.task
    if user.pk in (task.lead_id, task.second_id) and (is_officer(user) or is_supervisor(user)):
        return True
    if is_supervisor(user) and tasks_visible_to(user).filter(pk=task.pk).exists():
        return True
    if roles.has_role(user, roles.CREDIT_OFFICER):
        return Finding.objects.filter(task=task, credit_record_id__isnull=False).exists()
    return (
        evidence.kind == Evidence.Kind.RESIDENT
        and user.person_id is not None
        and user.person_id == task.pledge.person_id
    )
