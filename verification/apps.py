from django.apps import AppConfig
from django.db.backends.signals import connection_created
from django.utils.translation import gettext_lazy as _


def _register_draw_functions(sender, connection, **kwargs):
    """SQLite computes the draw through functions registered on each connection."""
    if connection.vendor == "sqlite":
        from .sampling import register_sqlite_functions

        register_sqlite_functions(connection.connection)


class VerificationConfig(AppConfig):
    name = "verification"
    verbose_name = _("Verification")

    def ready(self):
        connection_created.connect(_register_draw_functions, dispatch_uid="verification-sqlite")
