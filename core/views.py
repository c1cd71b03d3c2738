from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views import defaults
from django.views.decorators.http import require_POST
from rest_framework.exceptions import NotFound

from .context_processors import ELDER_COOKIE


@login_required
def notifications(request):
    """The in-app notices of the signed-in account; opening the page marks them read."""
    notices = request.user.notifications.all()
    page = Paginator(notices, 30).get_page(request.GET.get("page"))
    request.user.notifications.filter(read_at__isnull=True).update(read_at=timezone.now())
    return render(request, "core/notifications.html", {"page": page})


@require_POST
def display_mode(request):
    """Switch the elderly-friendly display on or off and go back to the page it was asked on.

    A plain form post: it works without JavaScript, and the cookie lets the server render the
    next page large from its first byte.
    """
    elder = request.POST.get("elder") == "1"
    target = request.POST.get("next") or ""
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        target = reverse("pledges:home")
    response = redirect(target)
    if elder:
        response.set_cookie(
            ELDER_COOKIE,
            "1",
            max_age=365 * 24 * 3600,
            samesite="Lax",
            secure=request.is_secure(),
            httponly=True,  # only the server reads it
        )
    else:
        response.delete_cookie(ELDER_COOKIE, samesite="Lax")
    return response


def not_found(request, exception=None):
    """``handler404``: the API's error body under ``/api/``, Django's page elsewhere.

    A URL the API's routes do not match (a malformed id, say) answers like an unknown object
    does, so API clients always get JSON (as the OpenAPI schema promises).
    """
    if request.path.startswith("/api/"):
        body = {"code": "not_found", "detail": str(NotFound.default_detail)}
        return JsonResponse(body, status=404, json_dumps_params={"ensure_ascii": False})
    return defaults.page_not_found(request, exception)
