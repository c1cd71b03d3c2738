"""Settings for the signing benchmark: production settings plus the bench-only baseline app.

Used only by bench/sign_bench.py (``DJANGO_SETTINGS_MODULE=bench.settings``).
"""

from config.settings.production import *  # noqa: F403
from config.settings.production import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "bench.bareapp.apps.BareAppConfig"]
ROOT_URLCONF = "bench.urls"
