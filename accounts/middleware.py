"""Staff sessions reach nothing until the second factor is passed.

The two-step sign-in never logs a staff member in before the code is checked; this is the
backstop for any other way a session gets a staff user (an old session from before two-factor
sign-in, the admin's own login form, ``force_login`` in tests): such a session may open only
the second-factor step, sign-out and static files. Pages redirect to the step; the API answers
403 ``otp_required`` (a request with an ``Authorization`` header is judged by its token).
The admin's login page sends anonymous visitors to the two-step sign-in.
"""

from urllib.parse import urlencode

from django.conf import settings
from django.http import JsonResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _

from .two_factor import requires_two_factor

OPEN_URL_NAMES = ("accounts:login", "accounts:login_verify", "accounts:logout", "set_language")


class StaffTwoFactorMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response
        self._open_paths = None

    def open_paths(self) -> set[str]:
        if self._open_paths is None:
            self._open_paths = {reverse(name) for name in OPEN_URL_NAMES}
        return self._open_paths

    def __call__(self, request):
        path = request.path_info
        user = request.user
        if user.is_authenticated and requires_two_factor(user) and not user.is_verified():
            if path in self.open_paths() or path.startswith("/" + settings.STATIC_URL.lstrip("/")):
                return self.get_response(request)
            if path.startswith("/api/"):
                if "HTTP_AUTHORIZATION" in request.META:
                    return self.get_response(request)
                return JsonResponse(
                    {
                        "code": "otp_required",
                        "detail": _("Sign in with your second factor first."),
                    },
                    status=403,
                )
            query = urlencode({"next": request.get_full_path()})
            return redirect(f"{reverse('accounts:login_verify')}?{query}")
        if not user.is_authenticated and path == reverse("admin:login"):
            query = urlencode({"next": request.GET.get("next") or reverse("admin:index")})
            return redirect(f"{reverse('accounts:login')}?{query}")
        return self.get_response(request)
