"""Pages: the officers' workbench, a task, draws, the resident's "my checks", the window's
revocations, evidence downloads and the public page of results (一公开)."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts import roles
from accounts.decorators import role_required
from core.errors import DomainError
from pledges import lifecycle
from pledges import selectors as pledge_selectors
from pledges.models import Pledge, VerificationMethod

from . import selectors, services
from .api import evidence_response, population_response
from .forms import (
    AssistAnswerForm,
    AssistRequestForm,
    CountersignForm,
    EvidenceForm,
    FindingForm,
    PromiseFulfilForm,
    ReassignForm,
    RevocationForm,
)
from .models import CheckTask, Draw, Evidence, PromiseTerm

_CHECK_STAFF = (roles.VERIFICATION_OFFICER, roles.VERIFICATION_SUPERVISOR)


def _error(request, error: DomainError):
    messages.error(request, error.message)


# ---- the workbench ------------------------------------------------------------------------


@role_required(*_CHECK_STAFF)
def workbench(request):
    """An officer's tasks by due date and the findings awaiting their countersignature; a
    supervisor's view of every task."""
    user = request.user
    tasks = selectors.tasks_for(user)
    status = request.GET.get("status", "open")
    if status in ("open", "awaiting_countersign", "done"):
        tasks = tasks.filter(status=status)
    if request.GET.get("overdue"):
        tasks = tasks.filter(overdue_flagged_at__isnull=False)
    page = Paginator(tasks, 30).get_page(request.GET.get("page"))
    countersign = selectors.tasks_for(user, as_second=True).filter(status="awaiting_countersign")
    return render(
        request,
        "verification/workbench.html",
        {
            "page": page,
            "countersign": countersign,
            "status": status,
            "today": timezone.localdate(),
            "is_supervisor": selectors.is_supervisor(user),
        },
    )


def _task_or_404(request, task_id) -> CheckTask:
    task = selectors.task_visible_to(request.user, task_id)
    if task is None:
        raise Http404
    return task


@role_required(*_CHECK_STAFF)
def task_detail(request, task_id):
    task = _task_or_404(request, task_id)
    methods = list(task.matter.verification_methods or []) or [task.method]
    if task.method not in methods:
        methods.append(task.method)
    evidence = list(task.evidence.all())
    finding = getattr(task, "finding", None)
    is_lead = request.user.pk == task.lead_id
    context = {
        "task": task,
        "pledge": task.pledge,
        "methods": [(m, VerificationMethod(m).label) for m in methods],
        "evidence": evidence,
        "assist_requests": task.assist_requests.select_related("department", "evidence"),
        "finding": finding,
        "is_lead": is_lead,
        "is_second": request.user.pk == task.second_id,
        "is_supervisor": selectors.is_supervisor(request.user),
        "today": timezone.localdate(),
        "finding_form": FindingForm(
            methods=methods, evidence=evidence, initial={"method": task.method}
        ),
        "evidence_form": EvidenceForm(),
        "assist_form": AssistRequestForm(),
        "answer_form": AssistAnswerForm(),
        "countersign_form": CountersignForm(),
        "reassign_form": ReassignForm(
            officers=selectors.officers(),
            initial={"lead": task.lead_id, "second": task.second_id},
        ),
    }
    if request.method == "POST" and is_lead and finding is None:
        form = FindingForm(request.POST, request.FILES, methods=methods, evidence=evidence)
        context["finding_form"] = form
        if form.is_valid():
            data = form.cleaned_data
            try:
                services.finding_record(
                    task=task,
                    actor=request.user,
                    result=data["result"],
                    method=data["method"],
                    reason=data["reason"],
                    notes=data["notes"],
                    evidence_ids=data["evidence"],
                    uploads=data["files"],
                )
            except DomainError as error:
                field = error.field if error.field in form.fields else None
                if error.field == "evidence":
                    field = "files"
                form.add_error(field, error.message)
            else:
                messages.success(request, _("Finding recorded."))
                return redirect("verification:task", task_id=task.pk)
    return render(request, "verification/task.html", context)


@require_POST
@role_required(*_CHECK_STAFF)
def task_evidence(request, task_id):
    task = _task_or_404(request, task_id)
    form = EvidenceForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            services.evidence_add(
                task=task,
                actor=request.user,
                upload=form.cleaned_data["file"],
                note=form.cleaned_data["note"],
            )
        except DomainError as error:
            _error(request, error)
        else:
            messages.success(request, _("File added."))
    else:
        messages.error(request, _("Choose a file."))
    return redirect("verification:task", task_id=task.pk)


@require_POST
@role_required(*_CHECK_STAFF)
def task_data_check(request, task_id):
    task = _task_or_404(request, task_id)
    try:
        evidence = services.data_check_run(task=task, actor=request.user)
    except DomainError as error:
        _error(request, error)
    else:
        messages.success(
            request, _("Data source answered: %(summary)s") % {"summary": evidence.note}
        )
    return redirect("verification:task", task_id=task.pk)


@require_POST
@role_required(*_CHECK_STAFF)
def task_assist(request, task_id):
    task = _task_or_404(request, task_id)
    form = AssistRequestForm(request.POST)
    if form.is_valid():
        try:
            services.assist_request_create(
                task=task,
                actor=request.user,
                department=form.cleaned_data["department"],
                question=form.cleaned_data["question"],
            )
        except DomainError as error:
            _error(request, error)
        else:
            messages.success(request, _("Assist request sent."))
    else:
        messages.error(request, _("Choose a department and say what to check."))
    return redirect("verification:task", task_id=task.pk)


@require_POST
@role_required(*_CHECK_STAFF)
def task_assist_answer(request, task_id, request_id):
    item = selectors.assist_request_for(request.user, task_id, request_id)
    if item is None:
        raise Http404
    task = item.task
    form = AssistAnswerForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            services.assist_request_answer(
                request=item,
                actor=request.user,
                answer=form.cleaned_data["answer"],
                upload=form.cleaned_data["file"],
            )
        except DomainError as error:
            _error(request, error)
        else:
            messages.success(request, _("Answer recorded."))
    else:
        messages.error(request, _("Write the answer."))
    if selectors.task_visible_to(request.user, task.pk) is None:
        # The assisting department answers without opening the task itself.
        return redirect("verification:workbench")
    return redirect("verification:task", task_id=task.pk)


@require_POST
@role_required(*_CHECK_STAFF)
def task_countersign(request, task_id):
    task = _task_or_404(request, task_id)
    form = CountersignForm(request.POST)
    form.is_valid()
    try:
        services.finding_countersign(
            task=task, actor=request.user, note=form.cleaned_data.get("note", "")
        )
    except DomainError as error:
        _error(request, error)
    else:
        messages.success(request, _("Countersigned: the finding is in effect."))
    return redirect("verification:task", task_id=task.pk)


@require_POST
@role_required(roles.VERIFICATION_SUPERVISOR)
def task_reassign(request, task_id):
    task = _task_or_404(request, task_id)
    form = ReassignForm(request.POST, officers=selectors.officers())
    if form.is_valid():
        lead = form.cleaned_data["lead"]
        second = form.cleaned_data["second"]
        try:
            services.task_reassign(
                task=task,
                actor=request.user,
                lead=lead if lead and lead.pk != task.lead_id else None,
                second=second if second and second.pk != task.second_id else None,
            )
        except DomainError as error:
            _error(request, error)
        else:
            messages.success(request, _("Task reassigned."))
    return redirect("verification:task", task_id=task.pk)


@login_required
def evidence_file(request, evidence_id):
    evidence = get_object_or_404(
        Evidence.objects.select_related("task", "task__pledge"), pk=evidence_id
    )
    if not selectors.evidence_readable_by(request.user, evidence):
        raise Http404
    return evidence_response(evidence)


# ---- plans and draws ----------------------------------------------------------------------


@role_required(*selectors.PLAN_READERS)
def draws(request):
    plans = selectors.plans_visible_to(request.user)
    page = Paginator(selectors.draws_visible_to(request.user), 20).get_page(request.GET.get("page"))
    return render(
        request,
        "verification/draws.html",
        {"plans": plans, "page": page, "can_run": selectors.can_run_draws(request.user)},
    )


@require_POST
@role_required(*selectors.DRAW_RUNNERS)
def draw_run(request, plan_id):
    plan = get_object_or_404(selectors.plans_runnable_by(request.user), pk=plan_id, active=True)
    try:
        draw = services.draw_execute(
            plan=plan, cutoff=timezone.now(), trigger=Draw.Trigger.MANUAL, actor=request.user
        )
    except DomainError as error:
        _error(request, error)
        return redirect("verification:draws")
    if draw is None:
        messages.info(
            request, _("No new pledges since the last draw of %(plan)s.") % {"plan": plan}
        )
        return redirect("verification:draws")
    messages.success(
        request,
        _("Drew %(drawn)d of %(population)d pledges.")
        % {"drawn": draw.drawn_count, "population": draw.population_count},
    )
    return redirect("verification:draw", draw_id=draw.pk)


@role_required(*selectors.PLAN_READERS)
def draw_detail(request, draw_id):
    draw = get_object_or_404(selectors.draws_visible_to(request.user), pk=draw_id)
    return render(
        request,
        "verification/draw.html",
        {"draw": draw, "results": selectors.results_by_matter(draw), "public": False},
    )


@role_required(*selectors.PLAN_READERS)
def draw_population(request, draw_id):
    draw = get_object_or_404(selectors.draws_visible_to(request.user), pk=draw_id)
    return population_response(draw)


# ---- the resident -------------------------------------------------------------------------


@role_required(roles.RESIDENT)
def my_checks(request):
    person = request.user.person
    return render(
        request,
        "verification/my_checks.html",
        {
            "tasks": selectors.checks_of(person),
            "promises": selectors.promises_of(person),
            "evidence_form": EvidenceForm(),
            "promise_form": PromiseFulfilForm(),
            "today": timezone.localdate(),
        },
    )


@require_POST
@role_required(roles.RESIDENT)
def my_check_material(request, task_id):
    task = selectors.checks_of(request.user.person).filter(pk=task_id).first()
    if task is None:
        raise Http404
    form = EvidenceForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            services.evidence_add(
                task=task,
                actor=request.user,
                upload=form.cleaned_data["file"],
                note=form.cleaned_data["note"],
            )
        except DomainError as error:
            _error(request, error)
        else:
            messages.success(request, _("Thank you: the officer will see your material."))
    else:
        messages.error(request, _("Choose a file."))
    return redirect("verification:my_checks")


@require_POST
@login_required
def promise_fulfil(request, number, term_id):
    """The resident (from "my checks") or a window clerk marks a promise fulfilled."""
    user = request.user
    if roles.has_role(user, roles.WINDOW_CLERK):
        pledge = pledge_selectors.pledge_for(user, number)
        if pledge is None:
            raise Http404
        back = "verification:revocations"
    elif roles.has_role(user, roles.RESIDENT) and user.person_id:
        pledge = get_object_or_404(Pledge, number=number, person_id=user.person_id)
        back = "verification:my_checks"
    else:
        raise Http404
    term = get_object_or_404(PromiseTerm, pk=term_id)
    form = PromiseFulfilForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            services.promise_fulfil(
                pledge=pledge, term=term, actor=user, upload=form.cleaned_data["file"]
            )
        except DomainError as error:
            _error(request, error)
        else:
            messages.success(request, _("Promise marked fulfilled."))
    else:
        messages.error(request, _("Attach the document."))
    return redirect(back)


# ---- the window: revocations ----------------------------------------------------------------


@role_required(roles.WINDOW_CLERK)
def revocations(request):
    """Pledges awaiting revocation among those the clerk serves (``window_scope``)."""
    scope = pledge_selectors.pledges_visible_to(request.user).values("pk")
    pending = lifecycle.pledges_awaiting_revocation().filter(pk__in=scope)
    findings = {
        t.pledge_id: t
        for t in CheckTask.objects.filter(pledge__in=pending, finding__isnull=False)
        .select_related("finding")
        .order_by("id")
    }
    rows = [(pledge, findings.get(pledge.pk)) for pledge in pending]
    return render(
        request, "verification/revocations.html", {"rows": rows, "form": RevocationForm()}
    )


@require_POST
@role_required(roles.WINDOW_CLERK)
def revoke(request, number):
    pledge = pledge_selectors.pledge_for(request.user, number)
    if pledge is None:
        raise Http404
    form = RevocationForm(request.POST)
    if form.is_valid():
        try:
            lifecycle.pledge_revoke(
                pledge=pledge, actor=request.user, note=form.cleaned_data["note"]
            )
        except DomainError as error:
            _error(request, error)
        else:
            messages.success(request, _("Revocation of %(number)s recorded.") % {"number": number})
    else:
        messages.error(request, _("Say what was revoked and on what basis."))
    return redirect("verification:revocations")


# ---- one public (一公开) --------------------------------------------------------------------


def public_results(request):
    """Finished draws and their results per matter: counts, seed, digests, population file."""
    page = Paginator(selectors.public_draws(), 10).get_page(request.GET.get("page"))
    rows = [(draw, selectors.results_by_matter(draw)) for draw in page]
    return render(request, "verification/public.html", {"page": page, "rows": rows})


def public_population(request, draw_id):
    draw = get_object_or_404(Draw, pk=draw_id)
    if not selectors.is_public(draw):
        raise Http404
    return population_response(draw)
