"""Sign in, sign out, and resident registration with a phone code and a real-name check."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.views import LoginView, LogoutView
from django.core.cache import cache
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from core.errors import DomainError
from core.middleware import client_ip
from core.otp import otp_issue
from core.sms import last_console_sms

from .forms import RegistrationForm, SendCodeForm, ThrottledAuthenticationForm
from .services import account_register


class SignInView(LoginView):
    template_name = "accounts/login.html"
    authentication_form = ThrottledAuthenticationForm
    redirect_authenticated_user = True


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
                )
            except DomainError as error:
                form.add_error(error.field if error.field in form.fields else None, error.message)
            else:
                login(request, user, backend="django.contrib.auth.backends.ModelBackend")
                messages.success(request, _("Welcome. Your account is ready."))
                return redirect("pledges:home")
    return render(request, "accounts/register.html", {"form": form, "dev_code": dev_code})
