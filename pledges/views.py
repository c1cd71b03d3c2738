"""Pages for residents (catalog, signing, my pledges) and the service window."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts import roles
from accounts.decorators import role_required
from core.errors import DomainError
from core.forms import add_domain_error
from credit.selectors import eligibility_for

from . import selectors, services
from .forms import CatalogSearchForm, DecisionForm, SignForm, WindowSearchForm, WithdrawForm
from .models import Channel, Matter


def home(request):
    """The catalog: search every certificate matter and see which ones take a pledge."""
    form = CatalogSearchForm(request.GET or None)
    search = disposition = ""
    if form.is_valid():
        search = form.cleaned_data["q"]
        disposition = form.cleaned_data["disposition"]
    matters = selectors.matter_list(search=search, disposition=disposition)
    page = Paginator(matters, 20).get_page(request.GET.get("page"))
    return render(request, "pledges/home.html", {"form": form, "page": page})


def matter_detail(request, code):
    """The whole notice, the statements, and signing (or choosing the certificate)."""
    matter = get_object_or_404(Matter.objects.select_related("department"), code=code)
    template = matter.current_template()
    pledgeable = selectors.matter_is_pledgeable(matter)
    user = request.user
    can_sign = pledgeable and roles.has_role(user, roles.RESIDENT) and user.person_id
    eligibility = eligibility_for(user.person) if can_sign else None
    form = None
    if can_sign and eligibility.eligible:
        form = SignForm(request.POST or None, statements=template.statements)
        if request.method == "POST" and form.is_valid():
            person = user.person
            try:
                pledge = services.pledge_sign(
                    matter=matter,
                    applicant={
                        "name": person.name,
                        "id_number": person.id_number,
                        "phone": person.phone,
                        "address": person.address,
                        "town": person.town,
                    },
                    actor=user,
                    statements_accepted=True,
                    typed_name=form.cleaned_data["typed_name"],
                    signature_image=form.cleaned_data["signature"] or None,
                    channel=Channel.ONLINE,
                    template=template,
                    template_version=form.cleaned_data["template_version"],
                )
            except services.NotEligible:
                eligibility = eligibility_for(user.person)
            except DomainError as error:
                if error.code == "template_changed":
                    # Show the new text with a fresh form: it has to be read and ticked again.
                    messages.error(request, error.message)
                    form = SignForm(statements=template.statements)
                else:
                    add_domain_error(form, error)
            else:
                messages.success(
                    request, _("Pledge %(number)s signed.") % {"number": pledge.number}
                )
                return redirect("pledges:pledge_detail", number=pledge.number)
    return render(
        request,
        "pledges/matter_detail.html",
        {
            "matter": matter,
            "template": template,
            "pledgeable": pledgeable,
            "form": form,
            "eligibility": eligibility,
        },
    )


@require_POST
@role_required(roles.RESIDENT)
def choose_certificate(request, code):
    matter = get_object_or_404(Matter, code=code)
    services.certificate_choose(matter=matter, actor=request.user)
    messages.info(
        request,
        _("Recorded: you will bring the certificate (%(certificate)s) instead of pledging.")
        % {"certificate": matter.certificate},
    )
    return redirect("pledges:matter_detail", code=code)


@role_required(roles.RESIDENT)
def my_pledges(request):
    pledges = selectors.pledges_visible_to(request.user)
    page = Paginator(pledges, 20).get_page(request.GET.get("page"))
    return render(request, "pledges/my_pledges.html", {"page": page})


@login_required
def pledge_detail(request, number):
    pledge = selectors.pledge_for(request.user, number)
    if pledge is None:
        raise Http404
    form = WithdrawForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.pledge_withdraw(
                pledge=pledge, actor=request.user, reason=form.cleaned_data["reason"]
            )
        except DomainError as error:
            messages.error(request, error.message)
        else:
            messages.success(
                request, _("Pledge withdrawn. Bring the certificate to continue the matter.")
            )
        return redirect("pledges:pledge_detail", number=number)
    return render(
        request,
        "pledges/pledge_detail.html",
        {
            "pledge": pledge,
            "form": form,
            "verify_path": selectors.verify_path(pledge),
            "pdf_path": selectors.pdf_path(pledge),
            "is_owner": request.user.person_id == pledge.person_id,
        },
    )


@role_required(roles.WINDOW_CLERK)
def window(request):
    """The service window: find pledges by number or ID number, record decisions.

    A number finds a pledge of the clerk's scope only. An ID number (the resident is at the
    window with the card) is a recorded lookup that opens the resident's online pledges to
    the clerk for the day (``selectors.window_scope``)."""
    form = WindowSearchForm(request.GET or None)
    results = None
    if form.is_valid():
        value = form.cleaned_data["q"]
        if value.startswith("CN-"):
            results = selectors.pledges_visible_to(request.user).filter(number=value)
        else:
            services.window_person_lookup(actor=request.user, id_number=value)
            results = selectors.pledges_by_id_number(request.user, value)
    return render(
        request,
        "pledges/window.html",
        {"form": form, "results": results, "decision_form": DecisionForm()},
    )


@require_POST
@role_required(roles.WINDOW_CLERK)
def window_decide(request, number):
    pledge = selectors.pledge_for(request.user, number)
    if pledge is None:
        raise Http404
    form = DecisionForm(request.POST)
    if form.is_valid():
        try:
            services.pledge_decide(
                pledge=pledge, actor=request.user, note=form.cleaned_data["note"]
            )
        except DomainError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, _("Decision recorded for %(number)s.") % {"number": number})
    return redirect(f"{request.build_absolute_uri('/window/')}?q={number}")
