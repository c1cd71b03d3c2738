import datetime as dt

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import Unit

from . import conf


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput(attrs={"accept": "image/*,application/pdf"}))
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        if not data:
            return []
        items = data if isinstance(data, list | tuple) else [data]
        return [super(MultipleFileField, self).clean(item, initial) for item in items]


class GuideSearchForm(forms.Form):
    q = forms.CharField(label=_("Search"), required=False, max_length=100)
    disposition = forms.ChoiceField(label=_("Kind"), required=False)

    def __init__(self, *args, **kwargs):
        from pledges.models import Disposition

        super().__init__(*args, **kwargs)
        self.fields["disposition"].choices = [("", _("All kinds"))] + list(Disposition.choices)


class ComplaintForm(forms.Form):
    """The public complaint form. ``website`` is a honeypot: people never see it."""

    agency = forms.CharField(
        label=_("Agency, enterprise or service body"),
        max_length=200,
        help_text=_("Who demanded the certificate, e.g. the branch of a bank or a school."),
    )
    certificate = forms.CharField(label=_("Certificate demanded"), max_length=200)
    description = forms.CharField(
        label=_("What happened"), max_length=5000, widget=forms.Textarea(attrs={"rows": 6})
    )
    occurred_on = forms.DateField(
        label=_("Date"), widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )
    place = forms.CharField(label=_("Place"), max_length=200, required=False)
    contact = forms.CharField(
        label=_("How to reach you (optional)"),
        max_length=200,
        required=False,
        help_text=_("A phone number or an email address; never published."),
    )
    attachments = MultipleFileField(
        label=_("Photos or documents (optional)"),
        required=False,
        help_text=_("JPEG, PNG, WebP, HEIC or PDF."),
    )
    website = forms.CharField(label=_("Leave this field empty"), required=False, max_length=200)

    def clean_occurred_on(self):
        value = self.cleaned_data["occurred_on"]
        if value > timezone.localdate():
            raise forms.ValidationError(_("The date cannot be in the future."))
        if value < dt.date(2000, 1, 1):
            raise forms.ValidationError(_("Give a date after 2000."))
        return value

    def clean_attachments(self):
        files = self.cleaned_data.get("attachments") or []
        if len(files) > conf.complaint_max_attachments():
            raise forms.ValidationError(
                _("At most %(n)s attachments.") % {"n": conf.complaint_max_attachments()}
            )
        return files


class TrackForm(forms.Form):
    number = forms.CharField(label=_("Tracking number"), max_length=20)
    token = forms.CharField(label=_("Access code"), max_length=64)

    def clean_number(self):
        return self.cleaned_data["number"].strip().upper()


class TriageForm(forms.Form):
    decision = forms.ChoiceField(
        label=_("Decision"),
        choices=[("accept", _("Accept for handling")), ("dismiss", _("Dismiss"))],
    )
    note = forms.CharField(label=_("Note"), max_length=500, required=False)


class ForwardForm(forms.Form):
    superior = forms.ModelChoiceField(
        label=_("Superior unit"),
        queryset=Unit.objects.none(),
        required=False,
        empty_label=_("(not in the list)"),
    )
    superior_name = forms.CharField(
        label=_("Or the superior's name"), max_length=200, required=False
    )
    working_days = forms.IntegerField(
        label=_("Correction deadline (working days)"), min_value=1, max_value=60
    )
    note = forms.CharField(label=_("Internal note"), max_length=1000, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["superior"].queryset = Unit.objects.exclude(kind=Unit.Kind.SERVICE_HALL)
        self.fields["working_days"].initial = conf.correction_working_days()

    def clean(self):
        data = super().clean()
        if not data.get("superior") and not (data.get("superior_name") or "").strip():
            raise forms.ValidationError(_("Name the agency's superior."))
        return data


class AnswerForm(forms.Form):
    answer = forms.CharField(label=_("Answer received"), widget=forms.Textarea(attrs={"rows": 3}))
    correction = forms.CharField(
        label=_("Correction made (empty if none yet)"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class CloseForm(forms.Form):
    outcome = forms.CharField(label=_("Outcome"), max_length=500)


class PublishForm(forms.Form):
    summary = forms.CharField(
        label=_("Anonymised summary to publish"),
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("No names, phone numbers or addresses of the person who complained."),
    )


class ListUploadForm(forms.Form):
    file = forms.FileField(
        label=_("Filled-in list (XLSX)"),
        widget=forms.ClearableFileInput(
            attrs={
                "accept": ".xlsx,application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
            }
        ),
    )


class ListDecisionForm(forms.Form):
    note = forms.CharField(label=_("Note"), max_length=500, required=False)
