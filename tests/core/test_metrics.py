"""Prometheus metrics: requests, tasks, queues, draws and the ledger; /metrics restricted."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from celery import shared_task
from prometheus_client import REGISTRY

from core import metrics

ROOT = Path(__file__).resolve().parents[2]


@shared_task(name="tests.core.metrics_ok")
def metrics_ok():
    return None


@shared_task(name="tests.core.metrics_boom")
def metrics_boom():
    raise ValueError("boom")


def _sample(name, **labels):
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_metrics_from_loopback_are_served_in_prometheus_text_format(client):
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=")
    assert b"# TYPE chengnuo_http_requests_total counter" in response.content


@pytest.mark.parametrize("address", ["203.0.113.9", "10.0.0.8", "", "not-an-ip"])
def test_metrics_refuse_addresses_not_allowed(client, address):
    response = client.get("/metrics", REMOTE_ADDR=address)
    assert response.status_code == 403
    assert b"chengnuo_" not in response.content


def test_metrics_allow_the_configured_networks(client, settings):
    settings.METRICS_ALLOWED_IPS = "10.0.0.0/8, 192.0.2.7"
    assert client.get("/metrics", REMOTE_ADDR="10.20.30.40").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="192.0.2.7").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 403


def test_requests_are_counted_and_timed_by_url_name_not_path(client):
    labels = {"view": "core:healthz", "method": "GET", "status": "200"}
    before = _sample("chengnuo_http_requests_total", **labels)
    timed = _sample("chengnuo_http_request_duration_seconds_count", **labels)
    client.get("/healthz")
    client.get("/healthz")
    assert _sample("chengnuo_http_requests_total", **labels) == before + 2
    assert _sample("chengnuo_http_request_duration_seconds_count", **labels) == timed + 2
    unrouted = {"view": "<unresolved>", "method": "GET", "status": "404"}
    missing = _sample("chengnuo_http_requests_total", **unrouted)
    client.get("/no/such/page/12345")
    assert _sample("chengnuo_http_requests_total", **unrouted) == missing + 1


def test_task_latency_and_failures_are_recorded_by_task_name():
    ok = _sample(
        "chengnuo_task_duration_seconds_count", task="tests.core.metrics_ok", state="SUCCESS"
    )
    failed = _sample("chengnuo_task_failures_total", task="tests.core.metrics_boom")
    metrics_ok.apply()  # runs here, through Celery's tracer and its signals
    # As in a worker: the error is recorded, not raised to the caller.
    assert metrics_boom.apply(throw=False).failed()
    assert (
        _sample(
            "chengnuo_task_duration_seconds_count", task="tests.core.metrics_ok", state="SUCCESS"
        )
        == ok + 1
    )
    assert _sample("chengnuo_task_failures_total", task="tests.core.metrics_boom") == failed + 1


def test_draws_and_ledger_verification_are_exposed(client):
    metrics.DRAWS.inc()
    metrics.DRAW_SELECTED.inc(3)
    metrics.LEDGER_OK.set(0)
    metrics.LEDGER_VERIFIED_AT.set(1_700_000_000)
    body = client.get("/metrics").content.decode()
    assert "chengnuo_draws_total " in body
    assert "chengnuo_draw_selected_total " in body
    assert "chengnuo_ledger_verified 0.0" in body
    assert "chengnuo_ledger_verified_timestamp_seconds 1.7e+09" in body


def test_queue_length_of_the_filesystem_broker(client, settings, tmp_path):
    settings.CELERY_BROKER_URL = "filesystem://"
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {"data_folder_in": str(tmp_path)}
    settings.CELERY_TASK_ROUTES = {"pledges.tasks.*": {"queue": "print"}}
    for name in ("1_a.celery.msg", "2_b.celery.msg", "3_c.print.msg", "junk.txt"):
        (tmp_path / name).write_text("{}")
    body = client.get("/metrics").content.decode()
    assert 'chengnuo_queue_length{queue="celery"} 2.0' in body
    assert 'chengnuo_queue_length{queue="print"} 1.0' in body


class _FakeRedis:
    """Stands in for redis-py: LLEN answers from a dict (kombu's priority lists included)."""

    def __init__(self, lists):
        self.lists = lists
        self.asked = []

    def pipeline(self, transaction=False):
        return self

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def llen(self, key):
        self.asked.append(key)

    def execute(self):
        return [self.lists.get(key, 0) for key in self.asked]


def test_queue_length_of_redis_adds_up_the_priority_lists(settings, monkeypatch):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:6379/0"
    settings.CELERY_TASK_DEFAULT_QUEUE = "default"
    settings.CELERY_TASK_ROUTES = {"credit.*": {"queue": "credit"}}
    fake = _FakeRedis({"default": 4, "default\x06\x169": 1, "credit": 2})
    monkeypatch.setattr(metrics, "_redis_client", lambda url: fake)
    assert metrics.queue_lengths() == {"credit": 2, "default": 5}


def test_an_unreachable_broker_leaves_the_queue_gauge_out_but_the_scrape_answers(client, settings):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"
    metrics._redis_client.cache_clear()
    response = client.get("/metrics")
    assert response.status_code == 200
    assert b"chengnuo_queue_length{" not in response.content


def test_multiprocess_mode_adds_up_every_process(tmp_path):
    """gunicorn workers and Celery children each write samples; one scrape sums them."""
    env = {
        **os.environ,
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path),
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
    }
    setup = "import django; django.setup(); from core import metrics; "
    for _ in range(2):
        subprocess.run(
            [sys.executable, "-c", setup + "metrics.DRAWS.inc(); metrics.LEDGER_OK.set(1)"],
            cwd=ROOT,
            env=env,
            check=True,
            timeout=60,
        )
    scrape = subprocess.run(
        [
            sys.executable,
            "-c",
            setup + "from prometheus_client import generate_latest; "
            "print(generate_latest(metrics.scrape_registry()).decode())",
        ],
        cwd=ROOT,
        env=env,
        check=True,
        timeout=60,
        capture_output=True,
        text=True,
    ).stdout
    assert "chengnuo_draws_total 2.0" in scrape
    assert "chengnuo_ledger_verified 1.0" in scrape
