from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = _("Shared services")

    def ready(self):
        from . import checks, metrics, request_id  # noqa: F401

        # Web processes publish tasks, workers run them: both need the signal handlers.
        request_id.connect_celery_signals()
        metrics.connect_celery_signals()

        # Security and privacy (issue 7): clean log records, register core's personal-data
        # sections and retention rules, and keep core's beat entries after every migrate.
        from django.db.models.signals import post_migrate

        from . import beat, personal_data, redact, retention

        redact.install()
        personal_data.register_provider(
            "notifications", personal_data.notifications_of, order=80, title=_("Notices")
        )
        personal_data.register_provider(
            "audit_log", personal_data.audit_events_about, order=90, title=_("Processing record")
        )
        retention.register_core_rules()
        post_migrate.connect(beat.ensure_core_schedule, sender=self, dispatch_uid="core.beat")
