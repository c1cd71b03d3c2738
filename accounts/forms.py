from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.utils.translation import gettext_lazy as _

from core.audit import audit_record
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
            audit_record(actor=None, action="auth.locked_out", data={"username": username[:150]})
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
    privacy_consent = forms.BooleanField(
        label=_(
            "I have read the privacy notice and agree to the processing of my sensitive "
            "personal information (ID number, signature, credit records) as it describes."
        ),
        error_messages={"required": _("Registration needs your consent to the privacy notice.")},
    )
    # The version shown on the page: consent is to the text the person saw.
    privacy_version = forms.CharField(widget=forms.HiddenInput, required=False)

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


class SecondFactorForm(forms.Form):
    code = forms.CharField(
        label=_("Code"),
        max_length=32,
        help_text=_("The 6-digit code from your authenticator app, or one of your recovery codes."),
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "text", "autofocus": True}
        ),
    )


class PasswordResetRequestForm(forms.Form):
    username = forms.CharField(label=_("Username"), max_length=150)
    phone = forms.RegexField(
        label=_("Mobile phone on the account"),
        regex=r"^1\d{10}$",
        error_messages={"invalid": _("Enter an 11-digit mobile number.")},
    )


class PasswordResetConfirmForm(forms.Form):
    username = forms.CharField(label=_("Username"), max_length=150)
    code = forms.CharField(label=_("Verification code"), max_length=6)
    password1 = forms.CharField(label=_("New password"), widget=forms.PasswordInput)
    password2 = forms.CharField(label=_("New password again"), widget=forms.PasswordInput)

    def clean(self):
        data = super().clean()
        if data.get("password1") and data.get("password1") != data.get("password2"):
            self.add_error("password2", _("The two passwords differ."))
        return data


class AgentAuthorisationForm(forms.Form):
    principal_id_number = forms.CharField(label=_("Principal's ID number"), max_length=18)
    principal_name = forms.CharField(label=_("Principal's name"), max_length=100)
    agent_id_number = forms.CharField(label=_("Agent's ID number"), max_length=18)
    agent_name = forms.CharField(label=_("Agent's name"), max_length=100)
    matter_code = forms.CharField(label=_("Matter code"), max_length=32)
    valid_from = forms.DateField(
        label=_("Valid from"), widget=forms.DateInput(attrs={"type": "date"})
    )
    valid_to = forms.DateField(label=_("Valid to"), widget=forms.DateInput(attrs={"type": "date"}))
    scan = forms.FileField(
        label=_("Scan of the signed authorisation form"),
        help_text=_("PDF, JPEG or PNG."),
    )
    note = forms.CharField(label=_("Note"), max_length=300, required=False)


class AgentRevokeForm(forms.Form):
    reason = forms.CharField(label=_("Why revoked"), max_length=300)


class AuditFilterForm(forms.Form):
    FORMATS = (("csv", "CSV"), ("json", "JSON"))

    person = forms.CharField(label=_("Person's ID number"), max_length=18, required=False)
    staff = forms.CharField(label=_("Staff username"), max_length=150, required=False)
    since = forms.DateField(
        label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    until = forms.DateField(
        label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    format = forms.ChoiceField(label=_("Format"), choices=FORMATS, required=False)

    def clean_person(self):
        value = self.cleaned_data["person"]
        if not value:
            return ""
        try:
            return id_numbers.validate(value)
        except id_numbers.InvalidIdNumber as exc:
            raise forms.ValidationError(str(exc)) from exc
