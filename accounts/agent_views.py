"""The service window's agent authorisations (代办授权): record, find, revoke, open the scan.

Window clerks only, and each clerk only the authorisations of their hall or of a person they
looked up by ID number (``selectors.agent_authorisations_visible_to``); others answer 404.
Mounted from ``accounts/agent_urls.py`` at ``/window/agents/``.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from core.audit import audit_record
from core.errors import DomainError

from . import id_numbers, roles
from .forms import AgentAuthorisationForm, AgentRevokeForm
from .selectors import (
    agent_authorisations_of,
    agent_authorisations_recent,
    agent_authorisations_visible_to,
    person_by_id_number,
)
from .services import agent_authorisation_record, agent_authorisation_revoke


def _clerk_only(view):
    @login_required
    def wrapped(request, *args, **kwargs):
        if not roles.has_role(request.user, roles.WINDOW_CLERK):
            raise Http404
        return view(request, *args, **kwargs)

    wrapped.__name__ = view.__name__
    wrapped.__doc__ = view.__doc__
    return wrapped


@_clerk_only
def agent_list(request):
    """Recent authorisations, a search by ID number, and the form to record a new one."""
    form = AgentAuthorisationForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            authorisation = agent_authorisation_record(
                actor=request.user,
                principal_id_number=data["principal_id_number"],
                principal_name=data["principal_name"],
                agent_id_number=data["agent_id_number"],
                agent_name=data["agent_name"],
                matter_code=data["matter_code"],
                valid_from=data["valid_from"],
                valid_to=data["valid_to"],
                scan=data["scan"],
                note=data["note"],
            )
        except DomainError as error:
            form.add_error(error.field if error.field in form.fields else None, error.message)
        else:
            messages.success(
                request, _("Authorisation %(id)s recorded.") % {"id": authorisation.pk}
            )
            return redirect("agents:list")
    query = request.GET.get("q", "").strip()
    if query:
        person = person_by_id_number(query) if id_numbers.is_valid(query) else None
        authorisations = list(agent_authorisations_of(person)) if person else []
        if person:
            audit_record(
                actor=request.user,
                action="agent.searched",
                person_hash=person.id_hash,
                data={"found": len(authorisations)},
            )
    else:
        authorisations = list(agent_authorisations_recent(request.user))
    return render(
        request,
        "accounts/agents.html",
        {
            "form": form,
            "authorisations": authorisations,
            "query": query,
            "revoke_form": AgentRevokeForm(),
        },
    )


@require_POST
@_clerk_only
def agent_revoke(request, pk):
    authorisation = get_object_or_404(agent_authorisations_visible_to(request.user), pk=pk)
    form = AgentRevokeForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Say why the authorisation is revoked."))
        return redirect("agents:list")
    try:
        agent_authorisation_revoke(
            authorisation=authorisation, actor=request.user, reason=form.cleaned_data["reason"]
        )
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("Authorisation %(id)s revoked.") % {"id": pk})
    return redirect("agents:list")


@_clerk_only
def agent_scan(request, pk):
    """The scan of the signed form, as a download (never shown inline)."""
    authorisation = get_object_or_404(agent_authorisations_visible_to(request.user), pk=pk)
    if not authorisation.scan:
        raise Http404
    audit_record(
        actor=request.user,
        action="agent.scan_viewed",
        obj=authorisation,
        person_hash=authorisation.principal.id_hash,
    )
    extension = authorisation.scan.name.rsplit(".", 1)[-1]
    return FileResponse(
        authorisation.scan.open("rb"),
        as_attachment=True,
        filename=f"authorisation-{authorisation.pk}.{extension}",
        content_type=authorisation.scan_type,
    )
