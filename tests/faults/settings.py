"""Settings of the processes a fault test starts: Celery workers, beat, gunicorn.

Development settings (the environment chooses PostgreSQL and Redis) sharing the test's
files: the test passes its private storage, its export folder and its keys in the
environment (``processes.environment``), so a form a worker stores is the one the test reads.
Tasks go through the broker, never eagerly. SMS are appended to a file, one line each.
"""

import os

from config.settings.development import *  # noqa: F403
from config.settings.development import STORAGES

DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
MEDIA_ROOT = os.environ["FAULTS_MEDIA_ROOT"]
PRIVATE_ROOT = os.environ["FAULTS_PRIVATE_ROOT"]
STORAGES["private"]["OPTIONS"]["location"] = PRIVATE_ROOT
CHENGNUO_CREDIT_EXPORT_DIR = os.environ["FAULTS_EXPORT_DIR"]
CHENGNUO_SMS_BACKEND = "tests.faults.processes.FileSMSBackend"
CELERY_TASK_ALWAYS_EAGER = False
# A worker started to recover from a killed one takes back the messages that one held once
# they are this many seconds old (production: an hour, above the longest task), and looks
# every second.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": float(os.environ.get("FAULTS_VISIBILITY_TIMEOUT", "3600")),
    "unacked_restore_interval": 1,
    "unacked_restore_throttle": 1,
}
