from django import forms
from django.utils.translation import gettext_lazy as _

from accounts.models import Unit
from pledges.models import VerificationMethod

from .models import FindingResult


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput(attrs={"accept": "image/*,application/pdf"}))
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        single = super().clean
        if isinstance(data, list | tuple):
            return [single(item, initial) for item in data if item]
        return [single(data, initial)] if data else []


class FindingForm(forms.Form):
    result = forms.ChoiceField(label=_("Result"), choices=FindingResult.choices)
    method = forms.ChoiceField(label=_("Method used"))
    reason = forms.CharField(
        label=_("Reason"), widget=forms.Textarea(attrs={"rows": 4}), max_length=4000
    )
    notes = forms.CharField(
        label=_("On-site notes"),
        widget=forms.Textarea(attrs={"rows": 4}),
        required=False,
        max_length=8000,
        help_text=_("Required for an on-site investigation."),
    )
    evidence = forms.MultipleChoiceField(
        label=_("Evidence already on the task"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    files = MultipleFileField(label=_("Evidence files (images or PDF)"), required=False)

    def __init__(self, *args, methods=(), evidence=(), **kwargs):
        super().__init__(*args, **kwargs)
        labels = dict(VerificationMethod.choices)
        self.fields["method"].choices = [(m, labels.get(m, m)) for m in methods]
        self.fields["evidence"].choices = [
            (str(e.pk), f"{e.original_name} ({e.get_kind_display()})") for e in evidence
        ]


class EvidenceForm(forms.Form):
    file = forms.FileField(
        label=_("File (image or PDF)"),
        widget=forms.ClearableFileInput(attrs={"accept": "image/*,application/pdf"}),
    )
    note = forms.CharField(label=_("Note"), required=False, max_length=500)


class AssistRequestForm(forms.Form):
    department = forms.ModelChoiceField(
        label=_("Department"), queryset=Unit.objects.filter(kind=Unit.Kind.DEPARTMENT)
    )
    question = forms.CharField(
        label=_("What should the department check?"),
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=4000,
    )


class AssistAnswerForm(forms.Form):
    answer = forms.CharField(
        label=_("The department's answer"),
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=4000,
    )
    file = forms.FileField(label=_("Its letter (image or PDF)"), required=False)


class CountersignForm(forms.Form):
    note = forms.CharField(label=_("Note"), required=False, max_length=500)


class ReassignForm(forms.Form):
    lead = forms.ModelChoiceField(label=_("Lead officer"), queryset=None, required=False)
    second = forms.ModelChoiceField(label=_("Second officer"), queryset=None, required=False)

    def __init__(self, *args, officers=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["lead"].queryset = officers
        self.fields["second"].queryset = officers
        self.fields["lead"].label_from_instance = lambda u: f"{u.display_name} ({u.unit or '-'})"
        self.fields["second"].label_from_instance = lambda u: f"{u.display_name} ({u.unit or '-'})"


class RevocationForm(forms.Form):
    note = forms.CharField(label=_("What was revoked and on what basis"), max_length=500)


class PromiseFulfilForm(forms.Form):
    file = forms.FileField(
        label=_("The document (image or PDF)"),
        widget=forms.ClearableFileInput(attrs={"accept": "image/*,application/pdf"}),
    )
