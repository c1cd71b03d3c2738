"""Metrics for Prometheus (prometheus_client), scraped from ``/metrics``.

Why prometheus_client and not django-prometheus: we want a handful of metrics with labels of
bounded cardinality (the URL name, never the raw path), Celery task metrics through signals,
and counters other apps increment; django-prometheus would add database and cache wrappers
(replacing the database engine) and per-model counters we do not need, and its multi-process
support is prometheus_client's anyway.

What other apps use:

- ``DRAWS.inc()`` after a spot-check draw commits, ``DRAW_SELECTED.inc(n)`` with the number of
  pledges it selected (verification).
- ``LEDGER_OK.set(1 or 0)`` and ``LEDGER_VERIFIED_AT.set_to_current_time()`` after each ledger
  verification (credit).

Several processes (gunicorn workers, Celery's prefork children): set
``PROMETHEUS_MULTIPROC_DIR`` to one empty folder per machine, shared by the web and worker
services of that machine and wiped only when all of them are stopped (at boot: systemd's
``RuntimeDirectory`` or tmpfiles). Each process then writes its samples there and
``/metrics`` adds them up. A worker on a machine without a web process serves the same
numbers itself on ``WORKER_METRICS_PORT``. See docs/production.md.
"""

import ipaddress
import logging
import os
import time
from functools import lru_cache
from pathlib import Path

from django.conf import settings
from django.http import HttpResponse
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily

from .request_id import view_name

logger = logging.getLogger(__name__)

MULTIPROCESS = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))

HTTP_REQUESTS = Counter(
    "chengnuo_http_requests_total",
    "HTTP requests answered, by URL name, method and status.",
    ["view", "method", "status"],
)
HTTP_LATENCY = Histogram(
    "chengnuo_http_request_duration_seconds",
    "Time to answer an HTTP request, by URL name, method and status.",
    ["view", "method", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 1, 2.5, 5, 10),
)
TASK_LATENCY = Histogram(
    "chengnuo_task_duration_seconds",
    "Time a Celery task ran, by task name and final state.",
    ["task", "state"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300),
)
TASK_FAILURES = Counter(
    "chengnuo_task_failures_total", "Celery tasks that raised, by task name.", ["task"]
)
TASK_RETRIES = Counter(
    "chengnuo_task_retries_total", "Celery tasks that asked for a retry, by task name.", ["task"]
)
DRAWS = Counter("chengnuo_draws_total", "Spot-check draws executed (抽查抽取).")
DRAW_SELECTED = Counter(
    "chengnuo_draw_selected_total", "Pledges selected for checking by spot-check draws."
)
LEDGER_OK = Gauge(
    "chengnuo_ledger_verified",
    "1 when the last verification of the credit ledger passed, 0 when it failed.",
    multiprocess_mode="mostrecent",
)
LEDGER_VERIFIED_AT = Gauge(
    "chengnuo_ledger_verified_timestamp_seconds",
    "When the credit ledger was last verified (Unix time).",
    multiprocess_mode="mostrecent",
)
OUTBOX_UNSENT = Gauge(
    "chengnuo_outbox_unsent",
    "Outbox messages not yet handed to the broker, as the relay last counted them.",
    multiprocess_mode="mostrecent",
)


# ---- HTTP ------------------------------------------------------------------------------


class PrometheusMiddleware:
    """Counts and times every request by URL name (not path: the label set stays small)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        response = self.get_response(request)
        labels = (view_name(request), request.method, str(response.status_code))
        HTTP_REQUESTS.labels(*labels).inc()
        HTTP_LATENCY.labels(*labels).observe(time.perf_counter() - started)
        return response


# ---- Celery ----------------------------------------------------------------------------

_task_started: dict[str, float] = {}


def _on_task_prerun(task_id=None, **kwargs):
    _task_started[task_id] = time.perf_counter()


def _on_task_postrun(task_id=None, task=None, state=None, **kwargs):
    started = _task_started.pop(task_id, None)
    if started is not None and task is not None:
        TASK_LATENCY.labels(task.name, state or "UNKNOWN").observe(time.perf_counter() - started)


def _on_task_failure(sender=None, **kwargs):
    TASK_FAILURES.labels(getattr(sender, "name", "unknown")).inc()


def _on_task_retry(sender=None, **kwargs):
    TASK_RETRIES.labels(getattr(sender, "name", "unknown")).inc()


def _on_worker_process_shutdown(pid=None, **kwargs):
    if MULTIPROCESS:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid or os.getpid())


def _on_worker_ready(**kwargs):
    """Serve this machine's metrics from the worker when ``WORKER_METRICS_PORT`` is set."""
    port = os.environ.get("WORKER_METRICS_PORT")
    if not port:
        return
    from prometheus_client import start_http_server

    address = os.environ.get("WORKER_METRICS_ADDR", "127.0.0.1")
    start_http_server(int(port), addr=address, registry=scrape_registry())
    logger.info("worker metrics on http://%s:%s/metrics", address, port)


def connect_celery_signals() -> None:
    """Called once from ``CoreConfig.ready``."""
    from celery import signals

    uid = "chengnuo.metrics"
    signals.task_prerun.connect(_on_task_prerun, weak=False, dispatch_uid=uid)
    signals.task_postrun.connect(_on_task_postrun, weak=False, dispatch_uid=uid)
    signals.task_failure.connect(_on_task_failure, weak=False, dispatch_uid=uid)
    signals.task_retry.connect(_on_task_retry, weak=False, dispatch_uid=uid)
    signals.worker_process_shutdown.connect(
        _on_worker_process_shutdown, weak=False, dispatch_uid=uid
    )
    signals.worker_ready.connect(_on_worker_ready, weak=False, dispatch_uid=uid)


# ---- Queue length ----------------------------------------------------------------------

# kombu's Redis transport keeps priorities 3, 6 and 9 in lists named ``queue\x06\x16N``.
_REDIS_PRIORITY_SUFFIXES = ("", "\x06\x163", "\x06\x166", "\x06\x169")


def known_queues() -> list[str]:
    """The default queue and every queue named in the task routes."""
    queues = {getattr(settings, "CELERY_TASK_DEFAULT_QUEUE", "celery")}
    for route in (getattr(settings, "CELERY_TASK_ROUTES", None) or {}).values():
        if isinstance(route, dict) and route.get("queue"):
            queues.add(route["queue"])
    return sorted(queues)


@lru_cache(maxsize=4)
def _redis_client(url: str):
    import redis

    return redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)


def queue_lengths() -> dict[str, int] | None:
    """Messages waiting per queue, or ``None`` when the broker cannot tell us cheaply."""
    url = settings.CELERY_BROKER_URL
    queues = known_queues()
    if url.startswith(("redis://", "rediss://")):
        client = _redis_client(url)
        with client.pipeline(transaction=False) as pipe:
            for queue in queues:
                for suffix in _REDIS_PRIORITY_SUFFIXES:
                    pipe.llen(queue + suffix)
            counts = pipe.execute()
        per = len(_REDIS_PRIORITY_SUFFIXES)
        return {q: sum(counts[i * per : (i + 1) * per]) for i, q in enumerate(queues)}
    if url.startswith("filesystem://"):
        # kombu names each message file ``<time>_<uuid>.<queue>.msg``.
        folder = Path(settings.CELERY_BROKER_TRANSPORT_OPTIONS["data_folder_in"])
        lengths = dict.fromkeys(queues, 0)
        for entry in os.scandir(folder):
            parts = entry.name.rsplit(".", 2)
            if len(parts) == 3 and parts[2] == "msg":
                lengths[parts[1]] = lengths.get(parts[1], 0) + 1
        return lengths
    return None


class QueueLengthCollector:
    """Asks the broker at scrape time; a broker that does not answer yields no sample."""

    def collect(self):
        try:
            lengths = queue_lengths()
        except Exception as exc:  # noqa: BLE001 - a scrape must not fail with the broker
            logger.warning("queue length unavailable: %s", exc)
            lengths = None
        if lengths is None:
            return
        family = GaugeMetricFamily(
            "chengnuo_queue_length", "Messages waiting in a Celery queue.", labels=["queue"]
        )
        for queue, length in sorted(lengths.items()):
            family.add_metric([queue], length)
        yield family


# ---- The endpoint ----------------------------------------------------------------------


def scrape_registry() -> CollectorRegistry:
    """What one scrape shows: this process (or all processes of the machine) and the queues."""
    if MULTIPROCESS:
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    return registry


_queue_registry = CollectorRegistry(auto_describe=False)
_queue_registry.register(QueueLengthCollector())


@lru_cache(maxsize=1)
def _allowed_networks(spec: str) -> tuple:
    return tuple(
        ipaddress.ip_network(part.strip(), strict=False) for part in spec.split(",") if part.strip()
    )


def metrics_allowed(remote_addr: str | None) -> bool:
    """Whether ``remote_addr`` is in ``METRICS_ALLOWED_IPS`` (addresses or networks)."""
    if not remote_addr:
        return False
    try:
        address = ipaddress.ip_address(remote_addr)
    except ValueError:
        return False
    return any(address in network for network in _allowed_networks(settings.METRICS_ALLOWED_IPS))


def metrics_view(request):
    """Prometheus text format, for the addresses in ``METRICS_ALLOWED_IPS`` only.

    Behind nginx every request comes from nginx's address: the example nginx configuration
    never forwards ``/metrics``; Prometheus scrapes gunicorn's port directly.
    """
    if not metrics_allowed(request.META.get("REMOTE_ADDR")):
        return HttpResponse("Forbidden\n", status=403, content_type="text/plain")
    body = generate_latest(scrape_registry()) + generate_latest(_queue_registry)
    return HttpResponse(body, content_type=CONTENT_TYPE_LATEST)
