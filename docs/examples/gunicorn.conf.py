"""gunicorn for Chengnuo: ``gunicorn -c docs/examples/gunicorn.conf.py config.wsgi``.

Copy it to /etc/chengnuo/gunicorn.conf.py and adjust. Every value can also come from the
environment (``GUNICORN_BIND``, ``WEB_CONCURRENCY``, ``GUNICORN_THREADS``).
"""

import multiprocessing
import os

# nginx on the same machine talks to loopback; a separate nginx machine needs the internal
# address here (and that address in METRICS_ALLOWED_IPS only if Prometheus scrapes from it).
bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")

# Sync workers: one request per process, one persistent database connection each
# (CONN_MAX_AGE). 2 × cores + 1 is the usual start; measure with the load test.
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2 + 1))
threads = int(os.environ.get("GUNICORN_THREADS", "1"))
worker_class = "gthread" if threads > 1 else "sync"

# A request that takes longer is killed and logged; nginx's proxy_read_timeout is above it.
timeout = 30
graceful_timeout = 30
# nginx's upstream keepalive_timeout (4 s in docs/examples/nginx.conf) stays below this.
keepalive = 5
# Recycle workers now and then (memory held by fonts and PDFs), staggered.
max_requests = 2000
max_requests_jitter = 200

# Django writes one JSON access line per request with its request id: gunicorn's own access
# log would repeat it. Errors go to stderr, that is to the journal.
accesslog = None
errorlog = "-"
loglevel = "info"

# nginx on loopback may tell us the scheme (Django reads X-Forwarded-Proto itself).
forwarded_allow_ips = os.environ.get("GUNICORN_FORWARDED_ALLOW_IPS", "127.0.0.1,::1")

# Each worker loads the application itself, so `systemctl reload` (HUP) brings up workers
# on the new code without dropping a request. (preload_app would share memory, but a HUP
# would then keep serving the old code.)
preload_app = False


def child_exit(server, worker):
    """Let Prometheus's multi-process mode forget the live gauges of a dead worker."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
