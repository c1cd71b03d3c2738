"""Development: the embedded default (SQLite, filesystem broker, console SMS and email).

Keys come from the environment or, failing that, from ``.dev-keys.env`` in the checkout.
"""

import os

from config.devkeys import KEY_NAMES, load_dev_keys

from .base import *  # noqa: F403
from .base import BASE_DIR, apply_keys, env

DEBUG = env.bool("DJANGO_DEBUG", default=True)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])

_file_keys = load_dev_keys(BASE_DIR / ".dev-keys.env")
apply_keys(globals(), {name: os.environ.get(name) or _file_keys[name] for name in KEY_NAMES})
