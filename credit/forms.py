from django import forms
from django.utils.translation import gettext_lazy as _

from accounts import id_numbers

from .models import Objection, RecordState, Severity

TEXTAREA = forms.Textarea(attrs={"rows": 5})

#: A suggested credit pledge (信用承诺) the person may edit before applying for repair.
CREDIT_PLEDGE_TEXT = (
    "本人郑重承诺：已纠正失信行为、履行相关义务，所提交的信用修复申请材料真实、准确、完整；"
    "如有虚假，愿意承担相应的法律责任和信用后果。"
)


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files in one input; each is checked by the service (type sniffed, size)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault(
            "widget", MultipleFileInput(attrs={"accept": "application/pdf,image/png,image/jpeg"})
        )
        kwargs.setdefault("required", False)
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        clean_one = super().clean
        if isinstance(data, (list, tuple)):
            return [clean_one(item, initial) for item in data if item]
        return [clean_one(data, initial)] if data else []


FILES_HELP = _("PDF, PNG or JPEG; up to 5 files of 5 MB each.")


class PrefixedIdsForm(forms.Form):
    """Several of these forms share a page: element ids start with ``id_prefix``."""

    id_prefix = "id"

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("auto_id", f"{self.id_prefix}_%s")
        super().__init__(*args, **kwargs)


class StatementForm(PrefixedIdsForm):
    id_prefix = "statement"

    text = forms.CharField(label=_("Your statement"), widget=TEXTAREA, max_length=5000)
    files = MultipleFileField(label=_("Documents"), help_text=FILES_HELP)


class ObjectionForm(PrefixedIdsForm):
    id_prefix = "objection"

    reasons = forms.CharField(
        label=_("Reasons for the objection"), widget=TEXTAREA, max_length=5000
    )
    files = MultipleFileField(label=_("Documents"), help_text=FILES_HELP)


class RepairForm(PrefixedIdsForm):
    id_prefix = "repair"

    credit_pledge = forms.CharField(
        label=_("Your credit pledge"),
        widget=TEXTAREA,
        max_length=5000,
        initial=CREDIT_PLEDGE_TEXT,
        help_text=_("A new pledge that the materials are true."),
    )
    correction = forms.CharField(
        label=_("How the conduct was corrected and obligations performed"),
        widget=TEXTAREA,
        max_length=5000,
    )
    files = MultipleFileField(label=_("Proof of correction"), help_text=FILES_HELP)


class ReasonForm(forms.Form):
    reason = forms.CharField(
        label=_("Why do you open this record?"),
        max_length=500,
        help_text=_("Logged with your name; the person can see it."),
    )


class DecisionForm(PrefixedIdsForm):
    id_prefix = "decision"

    decision = forms.ChoiceField(
        label=_("Decision"),
        choices=[("confirm", _("Confirm the record")), ("annul", _("Annul the draft"))],
        widget=forms.RadioSelect,
    )
    severity = forms.ChoiceField(
        label=_("Severity"), choices=[("", "—")] + list(Severity.choices), required=False
    )
    basis = forms.CharField(label=_("Legal basis"), widget=TEXTAREA, required=False)
    reason = forms.CharField(label=_("Reason (for an annulment)"), widget=TEXTAREA, required=False)


class ObjectionDecisionForm(PrefixedIdsForm):
    id_prefix = "objection_decision"

    decision = forms.ChoiceField(
        label=_("Decision"),
        choices=[("upheld", _("Uphold")), ("rejected", _("Reject"))],
        widget=forms.RadioSelect,
    )
    outcome = forms.ChoiceField(
        label=_("If upheld"),
        choices=[("", "—")] + list(Objection.Outcome.choices),
        required=False,
    )
    severity = forms.ChoiceField(
        label=_("Corrected severity"), choices=[("", "—")] + list(Severity.choices), required=False
    )
    basis = forms.CharField(label=_("Corrected legal basis"), widget=TEXTAREA, required=False)
    reason = forms.CharField(label=_("Reasons"), widget=TEXTAREA)


class RepairDecisionForm(PrefixedIdsForm):
    id_prefix = "repair_decision"

    decision = forms.ChoiceField(
        label=_("Decision"),
        choices=[("approved", _("Approve the repair")), ("rejected", _("Reject"))],
        widget=forms.RadioSelect,
    )
    reason = forms.CharField(label=_("Reasons"), widget=TEXTAREA, required=False)


class OfficeSearchForm(forms.Form):
    id_number = forms.CharField(label=_("ID number"), max_length=30, required=False)
    status = forms.ChoiceField(
        label=_("State"),
        choices=[("", _("All states"))] + list(RecordState.choices),
        required=False,
    )
    severity = forms.ChoiceField(
        label=_("Severity"), choices=[("", _("All"))] + list(Severity.choices), required=False
    )

    def clean_id_number(self):
        value = self.cleaned_data["id_number"].strip()
        if not value:
            return ""
        try:
            return id_numbers.validate(value)
        except id_numbers.InvalidIdNumber as exc:
            raise forms.ValidationError(str(exc)) from exc
