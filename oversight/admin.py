"""The back office: catalog administrators write service guides here (in Chinese)."""

from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _
from simple_history.admin import SimpleHistoryAdmin

from core.errors import DomainError

from . import services
from .models import GuideMaterial, GuideQuestion, ServiceGuide


class GuideMaterialInline(admin.TabularInline):
    model = GuideMaterial
    extra = 1
    fields = (
        "position",
        "name",
        "form",
        "copies",
        "source",
        "pledge_replaceable",
        "note",
        "blank_form",
        "sample_form",
    )


class GuideQuestionInline(admin.StackedInline):
    model = GuideQuestion
    extra = 1
    fields = ("position", "question", "answer")


@admin.register(ServiceGuide)
class ServiceGuideAdmin(SimpleHistoryAdmin):
    list_display = ("matter", "guide_type", "office", "status", "published_at", "updated_at")
    list_filter = ("status", "guide_type", "matter__disposition", "matter__department")
    search_fields = ("matter__code", "matter__name", "office")
    autocomplete_fields = ()
    raw_id_fields = ("matter",)
    readonly_fields = ("status", "published_at", "updated_at")
    inlines = (GuideMaterialInline, GuideQuestionInline)
    actions = ("publish", "unpublish")
    fieldsets = (
        (None, {"fields": ("matter", "guide_type", "status", "published_at", "updated_at")}),
        (_("Who and where"), {"fields": ("office", "window", "place", "hours")}),
        (
            _("Conditions and process"),
            {"fields": ("legal_basis", "who_may_apply", "conditions", "steps")},
        ),
        (
            _("Time limits, fees and result"),
            {"fields": ("statutory_days", "promised_days", "fee", "result", "delivery", "visits")},
        ),
        (
            _("Contact"),
            {"fields": ("enquiry_phone", "complaint_phone", "online_url")},
        ),
    )

    @admin.action(description=_("Publish the selected guides"))
    def publish(self, request, queryset):
        done = 0
        for guide in queryset:
            try:
                services.guide_publish(guide=guide, actor=request.user)
                done += 1
            except DomainError as error:
                self.message_user(request, f"{guide}: {error.message}", messages.ERROR)
        self.message_user(request, _("%(n)s guides published.") % {"n": done})

    @admin.action(description=_("Withdraw the selected guides from publication"))
    def unpublish(self, request, queryset):
        for guide in queryset:
            services.guide_unpublish(guide=guide, actor=request.user)
        self.message_user(request, _("Guides withdrawn from publication."))
