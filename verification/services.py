"""Writes of the verification app. Each public function is one transaction.

Draws (``draw_execute``) run in the database (``drawing``/``sampling``); findings take
effect on the pledge (``pledges.lifecycle``) and draft the credit record
(``credit.services.record_draft``) in the same transaction; tasks dispatched after commit.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import secrets
import tempfile
from dataclasses import dataclass

from django.conf import settings
from django.core.files import File
from django.core.files.base import ContentFile
from django.db import IntegrityError, OperationalError, connection, transaction
from django.db.models import Count, Max
from django.utils import timezone
from django.utils.translation import gettext as _
from django_celery_beat.models import CrontabSchedule, PeriodicTask

from accounts import roles
from accounts.models import Unit, User
from core import calendar
from core.audit import audit_record
from core.errors import Conflict, DomainError, NotAllowed
from core.notifications import notify
from core.outbox import enqueue
from core.storage import save_replacing
from credit.services import record_draft
from pledges import lifecycle
from pledges.models import Pledge, PledgeStatus, VerificationMethod

from . import conf, drawing, sampling, selectors
from .adapters import adapter_for
from .files import CheckedFile, check_upload, check_uploads
from .models import (
    AssistRequest,
    Cadence,
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

DRAW_TASK = "verification.tasks.draw_spot_checks"

#: The crontab of each cadence: a few minutes after the period closes (local time).
CADENCE_CRONTABS = {
    Cadence.DAILY: {"minute": "5", "hour": "0", "day_of_week": "*", "day_of_month": "*"},
    Cadence.WEEKLY: {"minute": "10", "hour": "0", "day_of_week": "1", "day_of_month": "*"},
    Cadence.MONTHLY: {"minute": "15", "hour": "0", "day_of_week": "*", "day_of_month": "1"},
}

OUTCOMES = {
    FindingResult.TRUTHFUL: lifecycle.Outcome.VERIFIED,
    FindingResult.FALSE: lifecycle.Outcome.FOUND_FALSE,
    FindingResult.BREACH: lifecycle.Outcome.BREACH,
    FindingResult.UNVERIFIABLE: lifecycle.Outcome.INCONCLUSIVE,
}
CREDIT_KINDS = {FindingResult.FALSE: "false_pledge", FindingResult.BREACH: "breach"}


# ---- plans and their schedule -----------------------------------------------------------


def plan_schedule_sync(*, plan: SpotCheckPlan):
    """Create or update the plan's django-celery-beat entry (a crontab per cadence).

    A ``custom`` cadence keeps whatever crontab an administrator set in the admin.
    """
    with transaction.atomic():
        task = plan.periodic_task
        crontab = task.crontab if task else None
        if plan.cadence != Cadence.CUSTOM or crontab is None:
            fields = CADENCE_CRONTABS.get(plan.cadence, CADENCE_CRONTABS[Cadence.WEEKLY])
            crontab = CrontabSchedule.objects.filter(
                timezone=settings.TIME_ZONE, month_of_year="*", **fields
            ).first() or CrontabSchedule.objects.create(
                timezone=settings.TIME_ZONE, month_of_year="*", **fields
            )
        name = f"verification: spot-check plan {plan.pk}"
        kwargs = json.dumps({"plan_id": plan.pk})
        if task is None:
            task = PeriodicTask.objects.filter(name=name).first() or PeriodicTask(name=name)
        task.task = DRAW_TASK
        task.crontab = crontab
        task.interval = None
        task.kwargs = kwargs
        task.enabled = plan.active
        task.description = str(plan)[:200]
        task.save()
        if plan.periodic_task_id != task.pk:
            plan.periodic_task = task
            SpotCheckPlan.objects.filter(pk=plan.pk).update(periodic_task=task)
    return task


def plan_save(*, plan: SpotCheckPlan, actor=None) -> SpotCheckPlan:
    """Validate and save a plan, then keep its beat schedule in step."""
    plan.full_clean(exclude=["periodic_task"])
    with transaction.atomic():
        created = plan.pk is None
        plan.save()
        plan_schedule_sync(plan=plan)
        audit_record(
            actor=actor,
            action="verification.plan_created" if created else "verification.plan_changed",
            obj=plan,
            data={
                "ratio": str(plan.ratio),
                "minimum": plan.minimum,
                "cadence": plan.cadence,
                "active": plan.active,
            },
        )
    return plan


def period_cutoff(plan: SpotCheckPlan, now: dt.datetime | None = None) -> dt.datetime:
    """Beat's cutoff: the end of the period just closed (local midnight of the day, Monday,
    or first of the month), or for a custom crontab its last firing time."""
    now = timezone.localtime(now or timezone.now())
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    if plan.cadence == Cadence.DAILY:
        return midnight
    if plan.cadence == Cadence.WEEKLY:
        return midnight - dt.timedelta(days=midnight.weekday())
    if plan.cadence == Cadence.MONTHLY:
        return midnight.replace(day=1)
    crontab = plan.periodic_task.crontab if plan.periodic_task_id else None
    if crontab is None:
        return now.replace(second=0, microsecond=0)
    return last_firing(crontab.schedule, now)


def last_firing(schedule, now: dt.datetime) -> dt.datetime:
    """The latest time at or before ``now`` that a celery ``crontab`` fires (minute precision)."""
    now = now.replace(second=0, microsecond=0)
    times = sorted(((h, m) for h in schedule.hour for m in schedule.minute), reverse=True)
    for back in range(0, 800):
        day = (now - dt.timedelta(days=back)).date()
        weekday = (day.isoweekday()) % 7  # celery: 0 is Sunday
        if (
            day.month in schedule.month_of_year
            and day.day in schedule.day_of_month
            and weekday in schedule.day_of_week
        ):
            for hour, minute in times:
                candidate = now.replace(
                    year=day.year, month=day.month, day=day.day, hour=hour, minute=minute
                )
                if candidate <= now:
                    return candidate
    return now


# ---- draws ------------------------------------------------------------------------------


@dataclass(frozen=True)
class DrawPreview:
    plan: SpotCheckPlan
    cutoff: dt.datetime
    window_start: dt.datetime | None
    population: int
    strata: dict
    drawn: int


def _window_start(plan: SpotCheckPlan):
    return plan.last_cutoff or plan.starts_at


def draw_preview(*, plan: SpotCheckPlan, cutoff: dt.datetime | None = None) -> DrawPreview:
    """What a draw would cover now (a dry run): population and sample size per matter."""
    cutoff = cutoff or timezone.now()
    start = _window_start(plan)
    if start is not None and cutoff <= start:
        sizes = {}
    else:
        pop = drawing.population(plan, start=start, cutoff=cutoff, credit_weight=1)
        sizes = drawing.stratum_sizes(pop)
    ppm = sampling.ratio_to_ppm(plan.ratio)
    strata = {
        code: {"size": n, "drawn": sampling.sample_size(n, ratio_ppm=ppm, minimum=plan.minimum)}
        for code, n in sorted(sizes.items())
    }
    return DrawPreview(
        plan=plan,
        cutoff=cutoff,
        window_start=start,
        population=sum(sizes.values()),
        strata=strata,
        drawn=sum(s["drawn"] for s in strata.values()),
    )


def _is_serialization_failure(exc: Exception) -> bool:
    cause = exc.__cause__
    return getattr(cause, "sqlstate", None) in ("40001", "40P01")


def draw_execute(
    *,
    plan: SpotCheckPlan,
    cutoff: dt.datetime | None = None,
    trigger: str = Draw.Trigger.MANUAL,
    actor=None,
) -> Draw | None:
    """Draw the plan's pledges signed after its previous cutoff up to ``cutoff``.

    Returns the draw, the existing draw for the same (plan, cutoff) when it ran already (a
    redelivered or restarted beat task), or ``None`` when there was nothing to draw.
    On PostgreSQL the draw reads one snapshot (REPEATABLE READ), so the population file and
    the sample describe the same rows; a concurrent draw of the same plan makes it retry.
    """
    cutoff = cutoff or timezone.now()
    attempts = 3
    for attempt in range(attempts):
        try:
            return _draw_once(plan_id=plan.pk, cutoff=cutoff, trigger=trigger, actor=actor)
        except OperationalError as exc:
            if attempt == attempts - 1 or not _is_serialization_failure(exc):
                raise
    return None  # pragma: no cover


def _draw_once(*, plan_id, cutoff, trigger, actor) -> Draw | None:
    outermost = not connection.in_atomic_block
    postgres = connection.vendor == "postgresql"
    with transaction.atomic():
        if postgres:
            with connection.cursor() as cursor:
                if outermost:
                    cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                # Rank and sort a large population in memory rather than on disk.
                cursor.execute("SELECT set_config('work_mem', %s, true)", [conf.draw_work_mem()])
        plan = SpotCheckPlan.objects.select_for_update().get(pk=plan_id)
        existing = Draw.objects.filter(plan=plan, cutoff=cutoff).first()
        if existing is not None:
            return existing
        start = _window_start(plan)
        if start is not None and cutoff <= start:
            return None
        pop = drawing.population(plan, start=start, cutoff=cutoff, credit_weight=plan.credit_weight)
        if not drawing.population_exists(pop):
            return None
        seed = secrets.token_hex(32)
        today = timezone.localdate()
        officers = [
            list(row) for row in selectors.officers().values_list("id", "unit_id", "person_id")
        ]
        draw = Draw(
            plan=plan,
            cutoff=cutoff,
            window_start=start,
            trigger=trigger,
            actor=actor if getattr(actor, "is_authenticated", False) else None,
            seed=seed,
            algorithm_version=sampling.ALGORITHM_VERSION,
            ratio=plan.ratio,
            minimum=plan.minimum,
            credit_weight=plan.credit_weight,
            officers_onsite=plan.officers_onsite,
            officers=officers,
            population_sha256="",
            population_count=0,
            drawn_count=0,
            result_sha256="",
            publish_due=calendar.add_working_days(today, _publish_days()),
        )
        try:
            with transaction.atomic():
                draw.save()
        except IntegrityError:
            # The same (plan, cutoff) was drawn by a concurrent run: keep that one.
            return Draw.objects.get(plan=plan, cutoff=cutoff)
        methods, due_dates = _matter_terms(plan, today)
        with tempfile.TemporaryFile() as handle:
            # On PostgreSQL, in a transaction of its own, a second connection streams the
            # population file from this transaction's exported snapshot (the very same rows)
            # while this one draws the sample; elsewhere one after the other.
            writer = drawing.PopulationWriter(pop, handle, concurrent=postgres and outermost)
            writer.start()
            drawing.insert_tasks(
                draw=draw,
                pop=pop,
                officers=officers,
                methods=methods,
                due_dates=due_dates,
                default_due=calendar.add_working_days(today, 20),
                created_at=timezone.now(),
            )
            population_sha, count = writer.finish()
            handle.seek(0)
            # Named by (plan, cutoff), which is unique, and written over if there: a worker
            # killed after storing it, before the commit, leaves no second file on the rerun.
            stamp = timezone.localtime(cutoff).strftime("%Y%m%dT%H%M%S%f")
            name = draw.population_file.field.generate_filename(draw, f"plan{plan.pk}-{stamp}.tsv")
            draw.population_file.name = save_replacing(
                draw.population_file.storage, name, File(handle)
            )
        tasks = CheckTask.objects.filter(draw=draw)
        strata = {
            row["matter__code"]: {"size": row["size"], "drawn": row["drawn"]}
            for row in tasks.values("matter__code")
            .annotate(drawn=Count("id"), size=Max("stratum_size"))
            .order_by("matter__code")
        }
        draw.population_sha256 = population_sha
        draw.population_count = count
        draw.strata = strata
        draw.drawn_count = sum(s["drawn"] for s in strata.values())
        draw.result_sha256 = drawing.result_digest(draw)
        draw.save(
            update_fields=[
                "population_file",
                "population_sha256",
                "population_count",
                "strata",
                "drawn_count",
                "result_sha256",
            ]
        )
        plan.last_cutoff = cutoff
        plan.save(update_fields=["last_cutoff"])
        audit_record(
            actor=actor,
            action="verification.draw_executed",
            obj=draw,
            data={
                "plan": plan.pk,
                "cutoff": cutoff.isoformat(),
                "trigger": trigger,
                "population": count,
                "drawn": draw.drawn_count,
                "population_sha256": population_sha,
                "result_sha256": draw.result_sha256,
            },
        )
        _dispatch_follow_up(draw.pk)
    return draw


def _dispatch_follow_up(draw_id: int) -> None:
    """Queue the draw's follow-up in the draw's transaction (the outbox): it is published
    after the commit, and a broker away at that moment delays the notices, never loses them."""
    from .tasks import follow_up_draw

    enqueue(follow_up_draw, draw_id, dedupe_key=f"verification.follow_up:{draw_id}")


def _publish_days() -> int:
    return conf.publish_working_days()


def _matter_terms(plan: SpotCheckPlan, today: dt.date):
    """Each covered matter's check method and due date (its time limit in working days)."""
    methods, due_dates, due_by_days = {}, {}, {}
    for matter in drawing.plan_matters(plan).only(
        "id", "verification_methods", "verification_days"
    ):
        allowed = [m for m in (matter.verification_methods or []) if m in VerificationMethod.values]
        methods[matter.pk] = plan.method or (allowed[0] if allowed else VerificationMethod.WRITTEN)
        days = matter.verification_days or 20
        if days not in due_by_days:
            due_by_days[days] = calendar.add_working_days(today, days)
        due_dates[matter.pk] = due_by_days[days]
    return methods, due_dates


def draw_follow_up(*, draw_id: int) -> int:
    """After a draw: put the drawn pledges under check, tell each person their pledge was
    drawn and each officer their tasks.

    Kept out of the draw's own transaction, where updating thousands of pledges (every index
    of the table) would double its time; it runs right after the commit, in chunks, each in
    its own transaction, so a rerun resumes where a killed worker stopped. Notices carry
    dedupe keys, so nothing is sent twice; a task already concluded is left alone.
    """
    draw = Draw.objects.filter(pk=draw_id).first()
    if draw is None or draw.followed_up_at is not None:
        return 0
    sent = 0
    while True:
        with transaction.atomic():
            chunk = list(
                CheckTask.objects.select_for_update()
                .filter(draw=draw, followed_up_at__isnull=True)
                .select_related("pledge", "matter")
                .order_by("id")[: conf.follow_up_chunk()]
            )
            if not chunk:
                break
            accounts = {
                u.person_id: u
                for u in User.objects.filter(
                    person_id__in={t.pledge.person_id for t in chunk}, is_active=True
                )
            }
            lifecycle.pledges_mark_under_check(
                pledges=[t.pledge_id for t in chunk if t.status != TaskStatus.DONE],
                source=f"verification.draw:{draw.pk}",
            )
            for task in chunk:
                _notify_person_drawn(task, accounts.get(task.pledge.person_id))
                sent += 1
            CheckTask.objects.filter(pk__in=[t.pk for t in chunk]).update(
                followed_up_at=timezone.now()
            )
    with transaction.atomic():
        counts = {}
        for lead_id, second_id in CheckTask.objects.filter(draw=draw).values_list(
            "lead_id", "second_id"
        ):
            for officer_id in (lead_id, second_id):
                if officer_id:
                    counts[officer_id] = counts.get(officer_id, 0) + 1
        for officer in User.objects.filter(pk__in=counts):
            notify(
                recipient=officer,
                kind="verification.assigned",
                title=_("%(n)d new check tasks") % {"n": counts[officer.pk]},
                body=_("Drawn on %(date)s for plan %(plan)s.")
                % {"date": timezone.localtime(draw.drawn_at).date().isoformat(), "plan": draw.plan},
                link="/checks/",
                dedupe_key=f"verification.assigned:{draw.pk}",
            )
        Draw.objects.filter(pk=draw.pk).update(followed_up_at=timezone.now())
    return sent


def _notify_person_drawn(task: CheckTask, account) -> None:
    if account is None:
        return
    notify(
        recipient=account,
        kind="verification.drawn",
        title=_("Your pledge %(number)s was drawn for a check") % {"number": task.pledge.number},
        body=_(
            "The authority checks a share of pledges at random. You may upload material for "
            "the check under “My checks” before %(date)s."
        )
        % {"date": task.due_date.isoformat()},
        link="/checks/my/",
        sms=True,
        dedupe_key=f"verification.drawn:{task.pk}",
    )


# ---- officers ---------------------------------------------------------------------------


def _eligible_officers(pledge, exclude=()) -> list:
    return [
        officer
        for officer in selectors.officers()
        if officer.pk not in exclude and not selectors.conflict_reason(pledge, officer)
    ]


def _pick_officers(pledge, seed: str, *, second: bool, exclude=()):
    """Lead (and second) officer for a task made outside a draw, by the draw's rule."""
    eligible = _eligible_officers(pledge, exclude)
    lead_pos, second_pos = sampling.officer_positions(
        sampling.digest(seed, pledge.number), len(eligible), second=second
    )
    lead = eligible[lead_pos] if lead_pos is not None else None
    other = eligible[second_pos] if second_pos is not None else None
    return lead, other


def _check_officer(task: CheckTask, officer, *, role_name: str) -> None:
    if officer is None:
        return
    if not officer.is_active or not roles.has_role(officer, roles.VERIFICATION_OFFICER):
        raise DomainError(
            _("%(name)s is not an active verification officer.") % {"name": officer.display_name},
            field=role_name,
        )
    reason = selectors.conflict_reason(task.pledge, officer)
    if reason:
        raise DomainError(
            _("%(name)s has a conflict of interest with this pledge and must step aside.")
            % {"name": officer.display_name},
            field=role_name,
            code="conflict_of_interest",
        )


def task_reassign(*, task: CheckTask, actor, lead=None, second=None, drop_second=False):
    """A supervisor gives a task (or its countersignature) to another officer."""
    if not selectors.is_supervisor(actor):
        raise NotAllowed(_("Only a verification supervisor reassigns tasks."))
    with transaction.atomic():
        task = CheckTask.objects.select_for_update().select_related("pledge").get(pk=task.pk)
        if task.status == TaskStatus.DONE:
            raise Conflict(_("This check is finished."), code="task_done")
        has_finding = Finding.objects.filter(task=task).exists()
        if lead is not None and has_finding:
            raise Conflict(
                _("The lead officer has recorded the finding; only the second officer can change."),
                code="finding_exists",
            )
        new_lead = lead if lead is not None else task.lead
        new_second = None if drop_second else (second if second is not None else task.second)
        if has_finding and new_second is None:
            raise DomainError(
                _("A recorded on-site finding needs a second officer."), field="second"
            )
        if new_lead is not None and new_second is not None and new_lead.pk == new_second.pk:
            raise DomainError(_("The two officers must be different people."), field="second")
        _check_officer(task, lead, role_name="lead")
        _check_officer(task, second, role_name="second")
        before = {"lead": task.lead_id, "second": task.second_id}
        task.lead = new_lead
        task.second = new_second
        task.save(update_fields=["lead", "second"])
        audit_record(
            actor=actor,
            action="verification.task_reassigned",
            obj=task,
            data={"before": before, "after": {"lead": task.lead_id, "second": task.second_id}},
        )
        for officer in {o for o in (lead, second) if o is not None}:
            notify(
                recipient=officer,
                kind="verification.assigned",
                title=_("A check task was assigned to you"),
                body=_("Pledge %(number)s, due %(date)s.")
                % {"number": task.pledge.number, "date": task.due_date.isoformat()},
                link=f"/checks/tasks/{task.pk}/",
                dedupe_key=f"verification.reassigned:{task.pk}:{timezone.now().isoformat()}",
            )
    return task


# ---- evidence, data checks, assisted checks ---------------------------------------------


def _save_evidence(*, task, checked: CheckedFile, kind, actor, note="", finding=None) -> Evidence:
    evidence = Evidence(
        task=task,
        finding=finding,
        kind=kind,
        original_name=checked.name,
        content_type=checked.content_type,
        size=checked.size,
        sha256=checked.sha256,
        note=(note or "")[:500],
        uploaded_by=actor if getattr(actor, "is_authenticated", False) else None,
    )
    evidence.file.save(checked.as_content_file().name, ContentFile(checked.content), save=False)
    evidence.save()
    audit_record(
        actor=actor,
        action="verification.evidence_added",
        obj=evidence,
        data={"task": task.pk, "kind": kind, "sha256": checked.sha256, "size": checked.size},
    )
    return evidence


def evidence_add(*, task: CheckTask, actor, upload, note: str = "") -> Evidence:
    """An officer of the task adds a file; the person adds material for their own check."""
    checked = check_upload(upload)
    with transaction.atomic():
        task = CheckTask.objects.select_for_update().select_related("pledge").get(pk=task.pk)
        if actor.pk in (task.lead_id, task.second_id):
            kind = Evidence.Kind.OFFICER
        elif actor.person_id is not None and actor.person_id == task.pledge.person_id:
            kind = Evidence.Kind.RESIDENT
            if task.status == TaskStatus.DONE:
                raise Conflict(_("This check is finished."), code="task_done")
        else:
            raise NotAllowed(_("Only the officers of this check, or the person, add material."))
        evidence = _save_evidence(task=task, checked=checked, kind=kind, actor=actor, note=note)
        if kind == Evidence.Kind.RESIDENT and task.lead_id:
            notify(
                recipient=task.lead,
                kind="verification.material",
                title=_("New material for pledge %(number)s") % {"number": task.pledge.number},
                link=f"/checks/tasks/{task.pk}/",
                dedupe_key=f"verification.material:{evidence.pk}",
            )
    return evidence


def _json_evidence(*, task, data: dict, name: str, kind, actor, note="") -> Evidence:
    content = json.dumps(data, ensure_ascii=False, sort_keys=True, indent=1).encode()
    evidence = Evidence(
        task=task,
        kind=kind,
        original_name=name,
        content_type="application/json",
        size=len(content),
        sha256=hashlib.sha256(content).hexdigest(),
        note=note[:500],
        uploaded_by=actor if getattr(actor, "is_authenticated", False) else None,
    )
    evidence.file.save(f"{secrets.token_hex(16)}.json", ContentFile(content), save=False)
    evidence.save()
    audit_record(
        actor=actor,
        action="verification.evidence_added",
        obj=evidence,
        data={"task": task.pk, "kind": kind, "sha256": evidence.sha256},
    )
    return evidence


def data_check_run(*, task: CheckTask, actor) -> Evidence:
    """Ask the matter's data source about the applicant; keep the answer as evidence."""
    if actor.pk not in (task.lead_id, task.second_id):
        raise NotAllowed(_("Only the officers of this check run its data check."))
    adapter = adapter_for(task.matter)
    try:
        answer = adapter.query(pledge=task.pledge)
    except Exception as exc:  # a remote source may fail in any way; the officer retries
        raise DomainError(
            _("The data source did not answer: %(error)s") % {"error": exc},
            code="data_source_unavailable",
        ) from exc
    with transaction.atomic():
        task = CheckTask.objects.select_for_update().get(pk=task.pk)
        if task.status == TaskStatus.DONE:
            raise Conflict(_("This check is finished."), code="task_done")
        return _json_evidence(
            task=task,
            data={"pledge": task.pledge.number, "matter": task.matter.code, **answer.as_dict()},
            name=f"data-check-{task.pledge.number}.json",
            kind=Evidence.Kind.DATA_CHECK,
            actor=actor,
            note=answer.summary[:500],
        )


def assist_request_create(*, task: CheckTask, actor, department: Unit, question: str):
    """The lead asks another department to help check (部门协查)."""
    question = (question or "").strip()
    if not question:
        raise DomainError(_("Say what the department should check."), field="question")
    if department.kind != Unit.Kind.DEPARTMENT:
        raise DomainError(_("Choose a department."), field="department")
    with transaction.atomic():
        task = CheckTask.objects.select_for_update().get(pk=task.pk)
        if actor.pk != task.lead_id:
            raise NotAllowed(_("Only the lead officer asks for an assisted check."))
        if task.status == TaskStatus.DONE:
            raise Conflict(_("This check is finished."), code="task_done")
        request = AssistRequest.objects.create(
            task=task, department=department, question=question[:4000], requested_by=actor
        )
        audit_record(
            actor=actor,
            action="verification.assist_requested",
            obj=request,
            data={"task": task.pk, "department": department.code},
        )
    return request


def assist_request_answer(*, request: AssistRequest, actor, answer: str, upload=None):
    """Record the department's answer: by the lead, or by staff of that department."""
    answer = (answer or "").strip()
    if not answer:
        raise DomainError(_("Write the department's answer."), field="answer")
    checked = check_upload(upload, field="file") if upload else None
    with transaction.atomic():
        request = (
            AssistRequest.objects.select_for_update().select_related("task").get(pk=request.pk)
        )
        task = request.task
        if actor.pk != task.lead_id and not (
            roles.is_staff_role(actor) and actor.unit_id == request.department_id
        ):
            raise NotAllowed(_("Only the lead officer or the department answers."))
        if request.answered_at is not None:
            raise Conflict(_("This request is answered already."), code="already_answered")
        if checked is not None:
            request.evidence = _save_evidence(
                task=task, checked=checked, kind=Evidence.Kind.ASSIST_ANSWER, actor=actor
            )
        request.answer = answer[:4000]
        request.answered_by = actor
        request.answered_at = timezone.now()
        request.save(update_fields=["answer", "answered_by", "answered_at", "evidence"])
        audit_record(
            actor=actor, action="verification.assist_answered", obj=request, data={"task": task.pk}
        )
        if task.lead_id and task.lead_id != actor.pk:
            notify(
                recipient=task.lead,
                kind="verification.assist_answered",
                title=_("The department answered your assist request"),
                link=f"/checks/tasks/{task.pk}/",
                dedupe_key=f"verification.assist_answered:{request.pk}",
            )
    return request


# ---- findings ---------------------------------------------------------------------------


def finding_record(
    *,
    task: CheckTask,
    actor,
    result: str,
    method: str,
    reason: str,
    notes: str = "",
    evidence_ids=(),
    uploads=(),
    checked_files: list[CheckedFile] | None = None,
) -> Finding:
    """The lead records the finding. Final: a second one gets 409 (row lock, and the unique
    task of ``Finding`` when two arrive at once). Late findings are allowed and marked."""
    if result not in FindingResult.values:
        raise DomainError(_("Choose truthful, false, breach or unverifiable."), field="result")
    if method not in VerificationMethod.values:
        raise DomainError(_("Unknown verification method."), field="method")
    reason = (reason or "").strip()
    notes = (notes or "").strip()
    if not reason:
        raise DomainError(_("Give the reason for the finding."), field="reason")
    checked = list(checked_files or []) + check_uploads(uploads)
    with transaction.atomic():
        task = (
            CheckTask.objects.select_for_update(of=("self",))
            .select_related("pledge", "pledge__person", "matter", "draw")
            .get(pk=task.pk)
        )
        if actor.pk != task.lead_id:
            raise NotAllowed(_("Only the lead officer of this check records its finding."))
        if Finding.objects.filter(task=task).exists():
            raise Conflict(
                _("The finding of this check is recorded already."), code="finding_exists"
            )
        allowed = set(task.matter.verification_methods or []) | {task.method}
        if method not in allowed:
            raise DomainError(
                _("This matter is checked by: %(methods)s.")
                % {"methods": ", ".join(sorted(allowed))},
                field="method",
            )
        if method == VerificationMethod.ONSITE and not notes:
            raise DomainError(_("An on-site check needs its notes."), field="notes")
        ids = [int(i) for i in evidence_ids or []]
        chosen = list(Evidence.objects.filter(task=task, pk__in=ids))
        if len(chosen) != len(set(ids)):
            raise DomainError(_("Unknown evidence for this check."), field="evidence")
        _require_method_evidence(
            task,
            method,
            has_files=bool(checked)
            or any(e.kind in (Evidence.Kind.OFFICER, Evidence.Kind.RESIDENT) for e in chosen),
        )
        second = task.second
        onsite_officers = task.draw.officers_onsite if task.draw_id else 2
        if method == VerificationMethod.ONSITE and onsite_officers >= 2 and second is None:
            second, _none = _pick_officers(
                task.pledge,
                task.seed or (task.draw.seed if task.draw_id else secrets.token_hex(32)),
                second=False,
                exclude={task.lead_id},
            )
            if second is None:
                raise DomainError(
                    _(
                        "An on-site check needs a second officer and none is free; ask the "
                        "supervisor."
                    ),
                    field="method",
                    code="no_second_officer",
                )
            task.second = second
        now = timezone.now()
        try:
            with transaction.atomic():
                finding = Finding.objects.create(
                    task=task,
                    result=result,
                    method=method,
                    reason=reason[:4000],
                    notes=notes[:8000],
                    recorded_by=actor,
                    recorded_at=now,
                    late=task.is_late_on(timezone.localdate(now)),
                )
        except IntegrityError as exc:
            raise Conflict(
                _("The finding of this check is recorded already."), code="finding_exists"
            ) from exc
        for item in checked:
            _save_evidence(
                task=task, checked=item, kind=Evidence.Kind.OFFICER, actor=actor, finding=finding
            )
        Evidence.objects.filter(pk__in=[e.pk for e in chosen], finding__isnull=True).update(
            finding=finding
        )
        audit_record(
            actor=actor,
            action="verification.finding_recorded",
            obj=finding,
            person_hash=task.pledge.person.id_hash,
            data={"task": task.pk, "result": result, "method": method, "late": finding.late},
        )
        if task.second_id:
            task.status = TaskStatus.AWAITING_COUNTERSIGN
            task.save(update_fields=["status", "second"])
            notify(
                recipient=task.second,
                kind="verification.countersign",
                title=_("A finding awaits your countersignature"),
                body=_("Pledge %(number)s.") % {"number": task.pledge.number},
                link=f"/checks/tasks/{task.pk}/",
                dedupe_key=f"verification.countersign:{finding.pk}",
            )
        else:
            _take_effect(finding, task=task, actor=actor)
    return finding


def _require_method_evidence(task, method, *, has_files: bool) -> None:
    if method == VerificationMethod.DATA_CHECK:
        if not Evidence.objects.filter(task=task, kind=Evidence.Kind.DATA_CHECK).exists():
            raise DomainError(
                _("Run the data check first: its answer is kept as evidence."), field="method"
            )
    elif method == VerificationMethod.ASSISTED:
        if not AssistRequest.objects.filter(task=task, answered_at__isnull=False).exists():
            raise DomainError(_("An assisted check needs the department's answer."), field="method")
    elif (
        method == VerificationMethod.WRITTEN
        and not has_files
        and not Evidence.objects.filter(
            task=task, kind__in=[Evidence.Kind.OFFICER, Evidence.Kind.RESIDENT]
        ).exists()
    ):
        raise DomainError(
            _("A written check needs the documents reviewed as evidence."), field="evidence"
        )


def finding_countersign(*, task: CheckTask, actor, note: str = "") -> Finding:
    """The second officer of a two-officer on-site check countersigns; the finding takes
    effect now."""
    with transaction.atomic():
        task = (
            CheckTask.objects.select_for_update(of=("self",))
            .select_related("pledge", "pledge__person", "matter", "draw")
            .get(pk=task.pk)
        )
        if actor.pk != task.second_id:
            raise NotAllowed(_("Only the second officer of this check countersigns."))
        finding = Finding.objects.select_for_update().filter(task=task).first()
        if finding is None:
            raise Conflict(_("No finding to countersign yet."), code="no_finding")
        if finding.countersigned_at is not None:
            raise Conflict(_("This finding is countersigned already."), code="countersigned")
        finding.countersigned_by = actor
        finding.countersigned_at = timezone.now()
        finding.countersign_note = (note or "").strip()[:500]
        finding.save(update_fields=["countersigned_by", "countersigned_at", "countersign_note"])
        audit_record(
            actor=actor,
            action="verification.finding_countersigned",
            obj=finding,
            person_hash=task.pledge.person.id_hash,
            data={"task": task.pk},
        )
        _take_effect(finding, task=task, actor=actor)
    return finding


def _facts(finding: Finding, task: CheckTask) -> dict:
    """What the credit record keeps of the finding: a copy, with evidence hashes."""
    pledge = task.pledge
    return {
        "matter_code": task.matter.code,
        "matter_name": task.matter.name,
        "pledge_number": pledge.number,
        "pledge_content_sha256": pledge.content_sha256,
        "pledge_signed_at": pledge.signed_at.isoformat(),
        "finding": {
            "id": finding.pk,
            "result": finding.result,
            "method": finding.method,
            "reason": finding.reason,
            "recorded_at": finding.recorded_at.isoformat(),
            "recorded_by": finding.recorded_by.get_username(),
            "countersigned_by": (
                finding.countersigned_by.get_username() if finding.countersigned_by_id else None
            ),
            "late": finding.late,
        },
        "check": {
            "task": task.pk,
            "origin": task.origin,
            "draw": task.draw_id,
            "promise": task.promise_term.text if task.promise_term_id else None,
        },
        "evidence": [
            {
                "id": e.pk,
                "kind": e.kind,
                "name": e.original_name,
                "type": e.content_type,
                "size": e.size,
                "sha256": e.sha256,
            }
            for e in Evidence.objects.filter(task=task).order_by("id")
        ],
    }


def _take_effect(finding: Finding, *, task: CheckTask, actor) -> None:
    """The finding's consequences, in the caller's transaction: the pledge's state, and for a
    false pledge or a breach the credit record draft (unique per finding)."""
    source = f"verification.finding:{finding.pk}"
    lifecycle.pledge_record_check(
        pledge=task.pledge,
        outcome=OUTCOMES[finding.result],
        source=source,
        actor=actor,
        restore_to=task.status_before,
    )
    fields = ["effective_at"]
    if finding.result in CREDIT_KINDS:
        record = record_draft(
            person=task.pledge.person,
            kind=CREDIT_KINDS[finding.result],
            facts=_facts(finding, task),
            source=source,
        )
        finding.credit_record_id = record.pk
        fields.append("credit_record_id")
    finding.effective_at = timezone.now()
    finding.save(update_fields=fields)
    task.status = TaskStatus.DONE
    task.save(update_fields=["status"])
    audit_record(
        actor=actor,
        action="verification.finding_effective",
        obj=finding,
        person_hash=task.pledge.person.id_hash,
        data={"task": task.pk, "result": finding.result, "credit_record": finding.credit_record_id},
    )
    if (
        task.draw_id
        and not CheckTask.objects.filter(draw_id=task.draw_id)
        .exclude(status=TaskStatus.DONE)
        .exists()
    ):
        Draw.objects.filter(pk=task.draw_id, closed_at__isnull=True).update(
            closed_at=timezone.now()
        )
    account = User.objects.filter(person_id=task.pledge.person_id, is_active=True).first()
    if account is not None:
        notify(
            recipient=account,
            kind="verification.concluded",
            title=_("The check of your pledge %(number)s is concluded")
            % {"number": task.pledge.number},
            body=_("Result: %(result)s.") % {"result": finding.get_result_display()},
            link="/checks/my/",
            sms=finding.result in CREDIT_KINDS,
            dedupe_key=f"verification.concluded:{finding.pk}",
        )


# ---- promises with deadlines ------------------------------------------------------------


def promise_fulfil(*, pledge: Pledge, term: PromiseTerm, actor, upload) -> PromiseFulfilment:
    """The resident, or a window clerk, marks a promise fulfilled with the document."""
    is_owner = actor.person_id is not None and actor.person_id == pledge.person_id
    if not (is_owner or roles.has_role(actor, roles.WINDOW_CLERK)):
        raise NotAllowed(_("Only the applicant or a window clerk marks a promise fulfilled."))
    if term.template_id != pledge.template_id:
        raise DomainError(_("This promise is not part of that pledge."), field="term")
    if pledge.status in (PledgeStatus.WITHDRAWN, PledgeStatus.REVOKED):
        raise Conflict(_("This pledge is no longer in force."), code="invalid_state")
    checked = check_upload(upload, field="file")
    with transaction.atomic():
        Pledge.objects.select_for_update().get(pk=pledge.pk)
        if PromiseFulfilment.objects.filter(pledge=pledge, term=term).exists():
            raise Conflict(_("This promise is marked fulfilled already."), code="fulfilled")
        fulfilment = PromiseFulfilment(
            pledge=pledge,
            term=term,
            original_name=checked.name,
            content_type=checked.content_type,
            size=checked.size,
            sha256=checked.sha256,
            fulfilled_by=actor,
        )
        fulfilment.file.save(
            checked.as_content_file().name, ContentFile(checked.content), save=False
        )
        try:
            with transaction.atomic():
                fulfilment.save()
        except IntegrityError as exc:
            raise Conflict(
                _("This promise is marked fulfilled already."), code="fulfilled"
            ) from exc
        audit_record(
            actor=actor,
            action="verification.promise_fulfilled",
            obj=fulfilment,
            person_hash=pledge.person.id_hash,
            data={"pledge": pledge.number, "term": term.key, "sha256": checked.sha256},
        )
    return fulfilment


def promise_task_create(*, pledge: Pledge, term: PromiseTerm) -> CheckTask | None:
    """A written check of a promise past its deadline (to confirm a breach). Unique per
    (pledge, promise): a rerun makes none twice."""
    seed = secrets.token_hex(32)
    lead, _second = _pick_officers(pledge, seed, second=False)
    today = timezone.localdate()
    try:
        with transaction.atomic():
            locked = Pledge.objects.select_for_update().get(pk=pledge.pk)
            before = locked.status
            if CheckTask.objects.filter(pledge=pledge, promise_term=term).exists():
                return None
            lifecycle.pledge_mark_under_check(
                pledge=locked, source=f"verification.promise:{term.pk}"
            )
            if before == PledgeStatus.UNDER_CHECK:
                previous = (
                    CheckTask.objects.filter(pledge=pledge)
                    .exclude(status_before="")
                    .order_by("id")
                    .values_list("status_before", flat=True)
                    .first()
                )
                before = previous or PledgeStatus.DECIDED
            task = CheckTask.objects.create(
                origin=CheckTask.Origin.PROMISE,
                promise_term=term,
                pledge=pledge,
                matter_id=pledge.matter_id,
                method=VerificationMethod.WRITTEN,
                lead=lead,
                drawn_lead=lead,
                status_before=before if before in lifecycle.CHECKABLE else PledgeStatus.DECIDED,
                due_date=calendar.add_working_days(today, pledge.matter.verification_days or 20),
                seed=seed,
            )
            audit_record(
                actor=None,
                action="verification.promise_task_created",
                obj=task,
                person_hash=pledge.person.id_hash,
                data={"pledge": pledge.number, "term": term.key},
            )
            if lead is not None:
                notify(
                    recipient=lead,
                    kind="verification.assigned",
                    title=_("A promise is past its deadline: check it"),
                    body=_("Pledge %(number)s: %(text)s")
                    % {"number": pledge.number, "text": term.text},
                    link=f"/checks/tasks/{task.pk}/",
                    dedupe_key=f"verification.promise_task:{task.pk}",
                )
    except IntegrityError:
        return None
    except Conflict:
        return None  # the pledge is no longer checkable (withdrawn, revoked, found false)
    return task


def promises_check_deadlines(*, today: dt.date | None = None) -> int:
    """Daily: each promise past its deadline and unfulfilled becomes a written check task."""
    created = 0
    for pledge, term in selectors.overdue_promises(today):
        if promise_task_create(pledge=pledge, term=term) is not None:
            created += 1
    return created


# ---- deadlines --------------------------------------------------------------------------


def tasks_flag_overdue(*, today: dt.date | None = None) -> int:
    """Daily: flag tasks past their time limit; tell their officers and the supervisors."""
    today = today or timezone.localdate()
    flagged = 0
    ids = list(
        selectors.overdue_tasks(today)
        .filter(overdue_flagged_at__isnull=True)
        .values_list("pk", flat=True)
    )
    for task_id in ids:
        with transaction.atomic():
            task = CheckTask.objects.select_for_update().select_related("pledge").get(pk=task_id)
            if task.overdue_flagged_at is not None or task.status == TaskStatus.DONE:
                continue
            task.overdue_flagged_at = timezone.now()
            task.save(update_fields=["overdue_flagged_at"])
            audit_record(actor=None, action="verification.task_overdue", obj=task)
            waiting_on = (
                task.second if task.status == TaskStatus.AWAITING_COUNTERSIGN else task.lead
            )
            for officer in {o for o in (task.lead, waiting_on) if o is not None}:
                notify(
                    recipient=officer,
                    kind="verification.overdue",
                    title=_("Check task past its time limit"),
                    body=_("Pledge %(number)s was due %(date)s.")
                    % {"number": task.pledge.number, "date": task.due_date.isoformat()},
                    link=f"/checks/tasks/{task.pk}/",
                    dedupe_key=f"verification.overdue:{task.pk}",
                )
            flagged += 1
    if flagged:
        for supervisor in User.objects.filter(
            is_active=True, groups__name=roles.VERIFICATION_SUPERVISOR
        ).distinct():
            notify(
                recipient=supervisor,
                kind="verification.overdue",
                title=_("%(n)d check tasks passed their time limit") % {"n": flagged},
                body=_("Reassign or follow them up on the workbench."),
                link="/checks/?overdue=1",
                dedupe_key=f"verification.overdue-summary:{today.isoformat()}",
            )
    return flagged
