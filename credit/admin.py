"""Read-only back office views: every change goes through the services and the ledger."""

from django.contrib import admin

from .models import AccessLog, CreditRecord, LedgerCheckpoint, LedgerEntry, Push


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(CreditRecord)
class CreditRecordAdmin(ReadOnlyAdmin):
    list_display = ["id", "kind", "state", "severity", "decided_on", "publication_ends_on"]
    list_filter = ["state", "severity", "kind"]
    exclude = ["facts"]


@admin.register(LedgerEntry)
class LedgerEntryAdmin(ReadOnlyAdmin):
    list_display = ["seq", "record_id", "hash"]


@admin.register(LedgerCheckpoint)
class LedgerCheckpointAdmin(ReadOnlyAdmin):
    list_display = ["day", "seq", "hash"]


@admin.register(Push)
class PushAdmin(ReadOnlyAdmin):
    list_display = ["id", "record", "version", "status", "attempts", "batch", "sent_at"]
    list_filter = ["status"]


@admin.register(AccessLog)
class AccessLogAdmin(ReadOnlyAdmin):
    list_display = ["viewed_at", "actor_name", "record", "reason"]
