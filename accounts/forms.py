from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.utils.translation import gettext_lazy as _

from core.middleware import client_ip

from . import id_numbers
from .models import Unit
from .selectors import areas
from .throttle import login_blocked, login_failed


class ThrottledAuthenticationForm(AuthenticationForm):
    """Django's sign-in form, refusing after too many failures for one username and IP."""

    def clean(self):
        username = self.data.get("username", "")
        ip = client_ip(self.request) if self.request else None
        if login_blocked(username, ip):
            raise forms.ValidationError(
                _("Too many failed sign-ins. Try again in 15 minutes."), code="throttled"
            )
        try:
            return super().clean()
        except forms.ValidationError:
            login_failed(username, ip)
            raise


class RegistrationForm(forms.Form):
    username = forms.RegexField(
        label=_("Username"),
        regex=r"^[A-Za-z0-9_.\-]{3,30}$",
        help_text=_("3 to 30 letters, digits, dots, dashes or underscores."),
    )
    real_name = forms.CharField(label=_("Real name"), max_length=100)
    id_number = forms.CharField(label=_("ID number"), max_length=18, min_length=18)
    phone = forms.RegexField(
        label=_("Mobile phone"),
        regex=r"^1\d{10}$",
        error_messages={"invalid": _("Enter an 11-digit mobile number.")},
    )
    code = forms.CharField(label=_("Verification code"), max_length=6, required=False)
    town = forms.ModelChoiceField(label=_("Town or street"), queryset=Unit.objects.none())
    address = forms.CharField(label=_("Address"), max_length=200)
    password = forms.CharField(label=_("Password"), widget=forms.PasswordInput)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["town"].queryset = areas()

    def clean_id_number(self):
        try:
            return id_numbers.validate(self.cleaned_data["id_number"])
        except id_numbers.InvalidIdNumber as exc:
            raise forms.ValidationError(str(exc)) from exc


class SendCodeForm(forms.Form):
    phone = forms.RegexField(
        regex=r"^1\d{10}$", error_messages={"invalid": _("Enter an 11-digit mobile number.")}
    )
