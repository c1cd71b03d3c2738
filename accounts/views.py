"""Sign in (with a second factor for staff), sign out, password reset by SMS code,
resident registration with a phone code, a real-name check and privacy consent, the privacy
notice and a person's copy of their data."""

import time

import django_otp
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import LoginView, LogoutView
from django.core.cache import cache
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _

from core.audit import audit_record
from core.errors import DomainError
from core.middleware import client_ip
from core.otp import otp_issue
from core.sms import last_console_sms

from . import export, privacy, two_factor
from .forms import (
    PasswordResetConfirmForm,
    PasswordResetRequestForm,
    RegistrationForm,
    SecondFactorForm,
    SendCodeForm,
    ThrottledAuthenticationForm,
)
from .models import User
from .services import (
    account_register,
    password_reset_confirm,
    password_reset_request,
)
from .throttle import login_blocked, login_failed

# The password step's result, kept in the (not yet authenticated) session for the code step.
PENDING_KEY = "chengnuo_2fa_pending"


def _safe_next(request, candidate: str | None) -> str:
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return ""


class SignInView(LoginView):
    """Step one: username and password. Residents are signed in; staff go on to the code."""

    template_name = "accounts/login.html"
    authentication_form = ThrottledAuthenticationForm
    redirect_authenticated_user = True

    def form_valid(self, form):
        user = form.get_user()
        if not two_factor.requires_two_factor(user):
            return super().form_valid(form)
        if not two_factor.has_authenticator(user):
            audit_record(actor=None, action="auth.no_second_factor", obj=user)
            form.add_error(
                None,
                _(
                    "Staff accounts sign in with an authenticator app, and yours has none set "
                    "up yet. Contact the administrator."
                ),
            )
            return self.form_invalid(form)
        self.request.session[PENDING_KEY] = {
            "user": user.pk,
            "backend": user.backend,
            "since": time.time(),
            "next": self.get_success_url(),
        }
        return redirect("accounts:login_verify")


def login_verify(request):
    """Step two for staff: a code from the authenticator app, or a recovery code.

    Also serves a session that is signed in but not verified (see the middleware).
    """
    pending = request.session.get(PENDING_KEY) or {}
    user, via_password_step = None, False
    if request.user.is_authenticated:
        if not two_factor.requires_two_factor(request.user) or request.user.is_verified():
            return redirect(
                _safe_next(request, request.GET.get("next")) or settings.LOGIN_REDIRECT_URL
            )
        user = request.user
    elif pending and time.time() - pending.get("since", 0) < (
        settings.CHENGNUO_TWO_FACTOR_PENDING_SECONDS
    ):
        user = User.objects.filter(pk=pending.get("user"), is_active=True).first()
        via_password_step = True
    if user is None:
        request.session.pop(PENDING_KEY, None)
        messages.info(request, _("Sign in again with your username and password."))
        return redirect("accounts:login")
    next_url = (
        _safe_next(request, request.POST.get("next") or request.GET.get("next"))
        or _safe_next(request, pending.get("next"))
        or settings.LOGIN_REDIRECT_URL
    )
    has_device = two_factor.has_authenticator(user)
    form = SecondFactorForm(request.POST or None)
    ip = client_ip(request)
    if request.method == "POST" and has_device and form.is_valid():
        if login_blocked(user.get_username(), ip):
            audit_record(
                actor=None, action="auth.locked_out", data={"username": user.get_username()}
            )
            form.add_error(None, _("Too many failed sign-ins. Try again in 15 minutes."))
        else:
            device = two_factor.second_factor_verify(user, form.cleaned_data["code"])
            if device is None:
                login_failed(user.get_username(), ip)
                audit_record(
                    actor=None,
                    action="auth.otp_failed",
                    obj=user,
                    data={"username": user.get_username()},
                )
                wait = two_factor.seconds_to_wait(user)
                form.add_error(
                    "code",
                    _("The code is wrong or was already used. Wait %(seconds)d s, then try again.")
                    % {"seconds": wait}
                    if wait
                    else _("The code is wrong or was already used."),
                )
            else:
                return _second_factor_passed(
                    request, user, device, pending, via_password_step, next_url
                )
    return render(
        request,
        "accounts/login_verify.html",
        {"form": form, "has_device": has_device, "next": next_url, "staff_user": user},
    )


def _second_factor_passed(request, user, device, pending, via_password_step, next_url):
    request.session.pop(PENDING_KEY, None)
    if via_password_step:
        user.otp_device = device  # django-otp's login handler records the device
        login(request, user, backend=pending["backend"])  # audited as auth.login
    else:
        request.session.cycle_key()
        django_otp.login(request, device)
        audit_record(
            actor=user,
            action="auth.second_factor_passed",
            obj=user,
            data={"second_factor": two_factor.factor_kind(device)},
        )
    request.session.set_expiry(settings.CHENGNUO_STAFF_SESSION_IDLE_SECONDS)
    if two_factor.factor_kind(device) == "recovery_code":
        messages.warning(
            request,
            _("You signed in with a recovery code; %(left)d left. Make new ones when few remain.")
            % {"left": two_factor.recovery_codes_left(user)},
        )
    return redirect(next_url)


@login_required
def two_factor_settings(request):
    """A staff member's second factor: the authenticator's state and new recovery codes."""
    user = request.user
    if not two_factor.requires_two_factor(user):
        raise Http404
    codes = None
    if request.method == "POST":
        codes = two_factor.recovery_codes_issue(user=user)
        audit_record(actor=user, action="auth.recovery_codes_issued", obj=user)
    return render(
        request,
        "accounts/two_factor.html",
        {
            "has_device": two_factor.has_authenticator(user),
            "codes_left": two_factor.recovery_codes_left(user),
            "codes": codes,
        },
    )


class SignOutView(LogoutView):
    pass


def _code_rate_ok(request, phone: str) -> bool:
    """At most one code a minute per phone and ten an hour per IP."""
    if not cache.add(f"otp-phone:{phone}", 1, 60):
        return False
    key = f"otp-ip:{client_ip(request)}"
    cache.add(key, 0, 3600)
    return cache.incr(key) <= 10


def register(request):
    form = RegistrationForm(request.POST or None)
    dev_code = None
    if request.method == "POST" and "send_code" in request.POST:
        phone_form = SendCodeForm(request.POST)
        form = RegistrationForm(request.POST)
        form.errors.clear()
        if not phone_form.is_valid():
            form.add_error("phone", phone_form.errors["phone"][0])
        elif not _code_rate_ok(request, phone_form.cleaned_data["phone"]):
            form.add_error("code", _("A code was sent recently. Wait a minute and try again."))
        else:
            otp_issue(phone=phone_form.cleaned_data["phone"], purpose="register")
            messages.info(request, _("A verification code was sent to your phone."))
            if settings.DEBUG:
                dev_code = last_console_sms(phone_form.cleaned_data["phone"])
    elif request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        if not data["code"]:
            form.add_error("code", _("Enter the code sent to your phone."))
        else:
            try:
                user = account_register(
                    username=data["username"],
                    password=data["password"],
                    real_name=data["real_name"],
                    id_number=data["id_number"],
                    phone=data["phone"],
                    code=data["code"],
                    address=data["address"],
                    town=data["town"],
                    privacy_notice_version=data["privacy_version"] or privacy.CURRENT_VERSION,
                )
            except DomainError as error:
                form.add_error(error.field if error.field in form.fields else None, error.message)
            else:
                login(request, user, backend="django.contrib.auth.backends.ModelBackend")
                messages.success(request, _("Welcome. Your account is ready."))
                return redirect("pledges:home")
    return render(
        request,
        "accounts/register.html",
        {"form": form, "dev_code": dev_code, "privacy_version": privacy.CURRENT_VERSION},
    )


# ---- password reset by SMS code ---------------------------------------------------------

RESET_USERNAME_KEY = "chengnuo_reset_username"


def password_reset(request):
    """Ask for a reset code: it goes by SMS to the phone on the account, if they match."""
    form = PasswordResetRequestForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        phone = form.cleaned_data["phone"]
        if not _code_rate_ok(request, phone):
            form.add_error("phone", _("A code was sent recently. Wait a minute and try again."))
        else:
            password_reset_request(username=form.cleaned_data["username"], phone=phone)
            request.session[RESET_USERNAME_KEY] = form.cleaned_data["username"]
            if settings.DEBUG:
                request.session["chengnuo_reset_dev_phone"] = phone
            messages.info(
                request,
                _(
                    "If the username and phone belong to an account, a code is on its way. "
                    "It is valid for 5 minutes."
                ),
            )
            return redirect("accounts:password_reset_confirm")
    return render(request, "accounts/password_reset.html", {"form": form})


def password_reset_confirm_view(request):
    form = PasswordResetConfirmForm(
        request.POST or None,
        initial={"username": request.session.get(RESET_USERNAME_KEY, "")},
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            password_reset_confirm(
                username=data["username"], code=data["code"], password=data["password1"]
            )
        except DomainError as error:
            form.add_error(error.field if error.field in form.fields else None, error.message)
        else:
            request.session.pop(RESET_USERNAME_KEY, None)
            messages.success(request, _("Your password was changed. Sign in with the new one."))
            return redirect("accounts:login")
    dev_code = None
    if settings.DEBUG and request.session.get("chengnuo_reset_dev_phone"):
        dev_code = last_console_sms(request.session["chengnuo_reset_dev_phone"])
    return render(
        request, "accounts/password_reset_confirm.html", {"form": form, "dev_code": dev_code}
    )


# ---- privacy -----------------------------------------------------------------------------


def privacy_notice(request, version=None):
    """The privacy notice: the current version, or any earlier one by its version."""
    version = version or privacy.CURRENT_VERSION
    if version not in privacy.NOTICE_VERSIONS:
        raise Http404
    return render(
        request,
        "accounts/privacy.html",
        {
            "version": version,
            "notice_template": privacy.NOTICE_VERSIONS[version],
            "sha256": privacy.notice_sha256(version),
            "is_current": version == privacy.CURRENT_VERSION,
            "current_version": privacy.CURRENT_VERSION,
            "versions": list(privacy.NOTICE_VERSIONS),
        },
    )


@login_required
def my_data(request):
    """What the system holds about the signed-in person, and the two downloads."""
    data = export.personal_data(request.user)
    return render(request, "accounts/my_data.html", {"data": data})


def _attachment(content: bytes, content_type: str, filename: str) -> HttpResponse:
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    return response


@login_required
def my_data_download(request, fmt):
    data = export.personal_data(request.user)
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    if fmt == "json":
        response = _attachment(
            export.as_json(data), "application/json", f"chengnuo-my-data-{stamp}.json"
        )
    elif fmt == "pdf":
        response = _attachment(
            export.as_pdf(data, user=request.user),
            "application/pdf",
            f"chengnuo-my-data-{stamp}.pdf",
        )
    else:
        raise Http404
    person = request.user.person
    audit_record(
        actor=request.user,
        action="privacy.exported",
        obj=request.user,
        person_hash=person.id_hash if person else "",
        data={"format": fmt, "sections": sorted(data["sections"])},
    )
    return response
