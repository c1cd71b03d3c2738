"""Request ids: set per request, answered, on every log line, and carried into Celery tasks."""

import json
import logging
import re
import threading
import time

import pytest
from celery import shared_task
from celery.contrib.testing.worker import start_worker

from config.celery import app
from core.logging import TEXT_FORMAT, json_formatter, logging_config
from core.request_id import (
    HEADER,
    TASK_HEADER,
    RequestIdFilter,
    get_request_id,
    reset_request_id,
    set_request_id,
)

SEEN: list[str | None] = []
SEEN_EVENT = threading.Event()


@shared_task(name="tests.core.remember_request_id")
def remember_request_id():
    SEEN.append(get_request_id())
    SEEN_EVENT.set()


def test_a_request_without_an_id_gets_a_new_one_in_the_answer(client):
    response = client.get("/healthz")
    assert re.fullmatch(r"[0-9a-f]{32}", response[HEADER])


def test_a_safe_incoming_id_is_kept(client):
    response = client.get("/healthz", headers={HEADER: "nginx-7f3a.42"})
    assert response[HEADER] == "nginx-7f3a.42"


@pytest.mark.parametrize("unsafe", ["two words", "x" * 129, "a\nfake log line", "<script>"])
def test_an_unsafe_incoming_id_is_replaced(client, unsafe):
    response = client.get("/healthz", headers={HEADER: unsafe})
    assert response[HEADER] != unsafe
    assert re.fullmatch(r"[0-9a-f]{32}", response[HEADER])


def test_the_access_log_line_carries_the_request_id_and_the_url_name(client, caplog):
    caplog.set_level(logging.INFO, logger="chengnuo.access")
    response = client.get("/healthz", headers={HEADER: "abc-123"})
    [record] = [r for r in caplog.records if r.name == "chengnuo.access"]
    assert record.request_id == "abc-123" == response[HEADER]
    assert (record.status, record.view, record.method) == (200, "core:healthz", "GET")


def _record(message="签名完成", **extra):
    record = logging.LogRecord("chengnuo.test", logging.INFO, __file__, 1, message, None, None)
    record.__dict__.update(extra)
    RequestIdFilter().filter(record)
    return record


def test_json_log_lines_are_one_object_with_the_request_id():
    token = set_request_id("req-42")
    try:
        record = _record(status=201, request=object())
    finally:
        reset_request_id(token)
    line = json_formatter().format(record)
    payload = json.loads(line)
    assert payload["message"] == "签名完成"  # Chinese kept readable, not \\u escapes
    assert payload["request_id"] == "req-42"
    assert payload["level"] == "INFO" and payload["logger"] == "chengnuo.test"
    assert payload["status"] == 201
    assert "request" not in payload  # Django's request object is not dumped into logs
    assert "\n" not in line


def test_outside_a_request_the_id_is_a_dash():
    assert _record().request_id == "-"
    assert "[-]" in logging.Formatter(TEXT_FORMAT).format(_record())


def test_log_format_chooses_the_formatter_and_refuses_unknown_values():
    assert logging_config(fmt="json")["handlers"]["console"]["formatter"] == "json"
    assert logging_config(fmt="text")["handlers"]["console"]["formatter"] == "text"
    with pytest.raises(ValueError):
        logging_config(fmt="xml")


@pytest.fixture
def filesystem_broker(tmp_path):
    """The Celery app on a filesystem broker of its own, tasks really published."""
    keys = (
        "broker_url",
        "broker_read_url",
        "broker_write_url",
        "broker_transport_options",
        "task_always_eager",
    )
    saved = {key: app.conf.get(key) for key in keys}
    # The read and write URLs win over a CELERY_BROKER_URL in the environment (CI's Redis run).
    app.conf.update(
        broker_url="filesystem://",
        broker_read_url="filesystem://",
        broker_write_url="filesystem://",
        broker_transport_options={
            "data_folder_in": str(tmp_path),
            "data_folder_out": str(tmp_path),
            "polling_interval": 0.1,
        },
        task_always_eager=False,
    )
    app._pool = None
    app.amqp._producer_pool = None
    yield tmp_path
    app.conf.update(saved)
    app._pool = None
    app.amqp._producer_pool = None


def _published_headers(folder) -> list[dict]:
    return [json.loads(path.read_text())["headers"] for path in sorted(folder.glob("*.msg"))]


def test_a_task_published_during_a_request_carries_its_id(filesystem_broker):
    token = set_request_id("req-from-web")
    try:
        remember_request_id.delay()
    finally:
        reset_request_id(token)
    [headers] = _published_headers(filesystem_broker)
    assert headers[TASK_HEADER] == "req-from-web"


def test_the_worker_runs_the_task_under_the_request_id_of_the_request(filesystem_broker):
    SEEN.clear()
    SEEN_EVENT.clear()
    saved_hijack = app.conf.worker_hijack_root_logger
    app.conf.worker_hijack_root_logger = False
    try:
        # Both are published before the worker starts: kombu's filesystem transport can read
        # a message file that is being written (created, not yet locked) and stop the worker.
        token = set_request_id("req-into-worker")
        try:
            remember_request_id.delay()
        finally:
            reset_request_id(token)
        remember_request_id.delay()  # published outside any request (as beat does)
        with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
            deadline = time.monotonic() + 30
            while len(SEEN) < 2 and time.monotonic() < deadline:
                SEEN_EVENT.wait(0.5)
                SEEN_EVENT.clear()
            assert len(SEEN) == 2, "the worker did not run both tasks"
    finally:
        app.conf.worker_hijack_root_logger = saved_hijack
    assert SEEN[0] == "req-into-worker"
    assert SEEN[1].startswith("task-")
    assert get_request_id() is None  # nothing leaks into the test's own context
