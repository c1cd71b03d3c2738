from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PledgesConfig(AppConfig):
    name = "pledges"
    verbose_name = _("Catalog and pledges")

    def ready(self):
        # A person's data copy and retention (issue 7): see core.personal_data, core.retention.
        from .personal_data import register

        register()
