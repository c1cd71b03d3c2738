"""Tests: development settings with fast hashing and an isolated cache and storage."""

import os
import tempfile

from .development import *  # noqa: F403
from .development import CACHES, STORAGES

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
DEBUG = False
_tmp = tempfile.mkdtemp(prefix="chengnuo-test-")
MEDIA_ROOT = os.path.join(_tmp, "media")
PRIVATE_ROOT = os.path.join(_tmp, "private")
STORAGES["private"]["OPTIONS"]["location"] = PRIVATE_ROOT
if "LocMem" not in CACHES["default"]["BACKEND"] and not os.environ.get("CACHE_URL"):
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
# Tests dispatch tasks eagerly; a test that needs the broker requests the ``real_worker``
# fixture (tests/worker.py), which switches its own test to a real worker in CI's PG run.
CELERY_TASK_ALWAYS_EAGER = True
CELERY_TASK_EAGER_PROPAGATES = True
