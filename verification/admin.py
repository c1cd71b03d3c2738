"""The back office: the catalog administrator keeps spot-check plans (their crontab lives in
django-celery-beat's admin, linked from each plan), promises with deadlines, data sources
and the local registry; draws and tasks are shown read-only."""

from django.contrib import admin, messages
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from core.errors import DomainError

from . import services
from .models import (
    CheckTask,
    DataSource,
    Draw,
    PromiseTerm,
    RegistryRecord,
    SpotCheckPlan,
)


@admin.register(SpotCheckPlan)
class SpotCheckPlanAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "matter",
        "risk_level",
        "ratio",
        "minimum",
        "cadence",
        "schedule",
        "last_cutoff",
        "active",
    )
    list_filter = ("active", "risk_level", "cadence")
    search_fields = ("name", "matter__code", "matter__name")
    autocomplete_fields = ()
    readonly_fields = ("schedule", "last_cutoff", "created_at")
    fields = (
        "name",
        ("matter", "risk_level"),
        ("ratio", "minimum"),
        "method",
        "officers_onsite",
        "credit_weight",
        ("cadence", "schedule"),
        "starts_at",
        "active",
        "last_cutoff",
        "created_at",
    )
    actions = ["draw_now"]

    @admin.display(description=_("crontab"))
    def schedule(self, plan):
        task = plan.periodic_task
        if task is None or task.crontab is None:
            return "—"
        url = reverse("admin:django_celery_beat_periodictask_change", args=[task.pk])
        return format_html('<a href="{}">{}</a>', url, task.crontab)

    def save_model(self, request, obj, form, change):
        services.plan_save(plan=obj, actor=request.user)

    @admin.action(description=_("Draw now (cutoff: now)"))
    def draw_now(self, request, queryset):
        now = timezone.now()
        for plan in queryset.filter(active=True):
            try:
                draw = services.draw_execute(
                    plan=plan, cutoff=now, trigger=Draw.Trigger.MANUAL, actor=request.user
                )
            except DomainError as error:
                self.message_user(request, f"{plan}: {error.message}", messages.ERROR)
                continue
            if draw is None:
                self.message_user(request, _("%(plan)s: nothing to draw") % {"plan": plan})
            else:
                self.message_user(
                    request,
                    _("%(plan)s: drew %(drawn)d of %(population)d")
                    % {
                        "plan": plan,
                        "drawn": draw.drawn_count,
                        "population": draw.population_count,
                    },
                )


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Draw)
class DrawAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "plan",
        "cutoff",
        "trigger",
        "population_count",
        "drawn_count",
        "closed_at",
    )
    list_filter = ("trigger", "plan")
    readonly_fields = [f.name for f in Draw._meta.fields]


@admin.register(CheckTask)
class CheckTaskAdmin(ReadOnlyAdmin):
    list_display = ("id", "pledge", "matter", "method", "lead", "second", "status", "due_date")
    list_filter = ("status", "method", "origin")
    search_fields = ("pledge__number",)
    readonly_fields = [f.name for f in CheckTask._meta.fields]


@admin.register(PromiseTerm)
class PromiseTermAdmin(admin.ModelAdmin):
    list_display = ("template", "key", "text", "deadline_days")
    search_fields = ("template__matter__code", "template__matter__name", "text")


@admin.register(DataSource)
class DataSourceAdmin(admin.ModelAdmin):
    list_display = ("matter", "adapter", "dataset")
    search_fields = ("matter__code", "matter__name")


@admin.register(RegistryRecord)
class RegistryRecordAdmin(admin.ModelAdmin):
    list_display = ("dataset", "name", "fact", "detail", "recorded_on")
    list_filter = ("dataset", "fact")
    search_fields = ("name", "detail")
    readonly_fields = ("id_hash",)
