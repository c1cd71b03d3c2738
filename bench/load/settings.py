"""Settings for the load test (bench/load/run.py): the signing benchmark's settings
(production settings plus the bench-only app) with two changes that a test from one loopback
address needs. Nothing else differs from production.
"""

import os

from bench.settings import *  # noqa: F403
from bench.settings import REST_FRAMEWORK

# The public scanning QR codes come from many addresses, the load generator from one: the
# verify page's per-address limit (60/min) would answer 429 to nearly all of that traffic.
REST_FRAMEWORK = {
    **REST_FRAMEWORK,
    "DEFAULT_THROTTLE_RATES": {
        **REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
        "verify": "1000000/min",
    },
}

# Pages render ``{% static %}`` through the manifest, as in production: the driver collects
# the static files into its own temporary folder (never the checkout's var/staticfiles).
STATIC_ROOT = os.environ.get("LOAD_STATIC_ROOT", STATIC_ROOT)  # noqa: F405
