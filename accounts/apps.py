from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = _("Accounts and persons")

    def ready(self):
        from . import (
            auth_audit,  # noqa: F401  (sign-ins and failures to the audit log)
            signals,  # noqa: F401
        )
        from .personal_data import register

        register()
