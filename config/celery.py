"""The Celery application.

Settings come from Django's settings (``CELERY_*``). The broker is chosen by
``CELERY_BROKER_URL``: the embedded default is kombu's filesystem transport, so a bare
machine needs no server; production sets a Redis or RabbitMQ URL.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.development")

app = Celery("chengnuo")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
