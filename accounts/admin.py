from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.utils.translation import gettext_lazy as _

from .models import Person, Unit, User


@admin.register(Unit)
class UnitAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "kind", "parent")
    list_filter = ("kind",)
    search_fields = ("code", "name")


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    list_display = ("username", "real_name", "unit", "is_active")
    fieldsets = BaseUserAdmin.fieldsets + (
        (_("Chengnuo"), {"fields": ("real_name", "phone", "unit")}),
    )
    readonly_fields = ("person",)


@admin.register(Person)
class PersonAdmin(admin.ModelAdmin):
    """Shows only the masked number; the clear number never appears in the back office."""

    list_display = ("name", "id_masked", "town")
    fields = ("name", "id_masked", "address", "town", "created_at")
    readonly_fields = fields
    search_fields = ("name",)

    def has_add_permission(self, request):
        return False
