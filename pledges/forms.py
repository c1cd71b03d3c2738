from django import forms
from django.utils.translation import gettext_lazy as _

from accounts import id_numbers


class CatalogSearchForm(forms.Form):
    q = forms.CharField(label=_("Search"), required=False, max_length=100)
    disposition = forms.ChoiceField(label=_("Kind"), required=False)

    def __init__(self, *args, **kwargs):
        from .models import Disposition

        super().__init__(*args, **kwargs)
        self.fields["disposition"].choices = [("", _("All kinds"))] + list(Disposition.choices)


class SignForm(forms.Form):
    """Tick every statement, type the registered name, draw the signature."""

    typed_name = forms.CharField(
        label=_("Type your full name"),
        max_length=100,
        help_text=_("Exactly as registered; it confirms the drawn signature."),
    )
    signature = forms.CharField(widget=forms.HiddenInput, required=False, max_length=400_000)
    # The text version shown on the page: the pledge must freeze the text that was read.
    template_version = forms.IntegerField(widget=forms.HiddenInput, required=False, min_value=1)

    def __init__(self, *args, statements=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.statement_keys = []
        for statement in statements:
            name = f"statement_{statement['key']}"
            self.statement_keys.append(name)
            self.fields[name] = forms.BooleanField(
                label=statement["text"],
                required=True,
                error_messages={"required": _("Tick this statement to pledge.")},
            )

    def statement_fields(self):
        return [self[name] for name in self.statement_keys]


class WithdrawForm(forms.Form):
    reason = forms.CharField(label=_("Reason (optional)"), max_length=500, required=False)


class WindowSearchForm(forms.Form):
    q = forms.CharField(
        label=_("Pledge number or ID number"), max_length=30, help_text=_("e.g. CN-2026-000001")
    )

    def clean_q(self):
        value = self.cleaned_data["q"].strip().upper()
        if value.startswith("CN-"):
            return value
        try:
            return id_numbers.validate(value)
        except id_numbers.InvalidIdNumber as exc:
            raise forms.ValidationError(str(exc)) from exc


class DecisionForm(forms.Form):
    note = forms.CharField(label=_("Decision note"), max_length=500, required=False)
