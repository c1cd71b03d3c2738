"""The transactional outbox: a task written with the change survives the broker being down."""

import datetime as dt
import json
import time

import pytest
from celery import shared_task
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone

from config.celery import app
from core import outbox
from core.models import OutboxMessage
from core.request_id import TASK_HEADER, reset_request_id, set_request_id

DOWN = "redis://127.0.0.1:1/0"  # nothing listens on port 1: connection refused at once
RAN: list[tuple] = []


@shared_task(name="tests.core.outbox_probe")
def outbox_probe(pledge_id, *, note=""):
    RAN.append((pledge_id, note))


def _use_broker(url: str, folder=None) -> None:
    """Point the Celery app at ``url`` and drop its pooled connections to the old one."""
    # Celery prefers a CELERY_BROKER_URL from the environment (CI's Redis run) to broker_url;
    # the read and write URLs win over both.
    app.conf.update(broker_url=url, broker_read_url=url, broker_write_url=url)
    if folder is not None:
        app.conf.broker_transport_options = {
            "data_folder_in": str(folder),
            "data_folder_out": str(folder),
        }
    # Drop the references only: the pools themselves live on in kombu's registry, keyed by
    # connection, and the app will find its old one again when the URL is restored.
    app._pool = None
    app.amqp._producer_pool = None


@pytest.fixture
def broker(tmp_path):
    """A broker that is down until ``broker.up()``; then a filesystem one in ``tmp_path``."""
    keys = (
        "broker_url",
        "broker_read_url",
        "broker_write_url",
        "broker_transport_options",
        "task_always_eager",
    )
    saved = {key: app.conf.get(key) for key in keys}
    app.conf.task_always_eager = False
    app.conf.broker_transport_options = {}
    _use_broker(DOWN)
    outbox.reset_breaker()

    class Broker:
        folder = tmp_path

        @staticmethod
        def up():
            _use_broker("filesystem://", tmp_path)
            outbox.reset_breaker()

        @staticmethod
        def messages() -> list[dict]:
            """The messages waiting in the filesystem broker, oldest first."""
            found = []
            for path in sorted(tmp_path.glob("*.msg")):
                payload = json.loads(path.read_text())
                found.append({"headers": payload["headers"], "body": payload["body"]})
            return found

    yield Broker
    app.conf.update(saved)
    app._pool = None
    app.amqp._producer_pool = None
    outbox.reset_breaker()


def _age_all(seconds=60):
    OutboxMessage.objects.update(created_at=timezone.now() - dt.timedelta(seconds=seconds))


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_broker_down_keeps_the_task_and_the_relay_sends_it_once_the_broker_is_back(broker):
    with transaction.atomic():
        message = outbox.enqueue(outbox_probe, 41, note="signed")
    # The commit went through; the publication failed and left the row unsent.
    message.refresh_from_db()
    assert message.sent_at is None
    assert message.attempts == 1
    assert "Error" in message.last_error

    _age_all()
    still_down = outbox.relay_outbox()
    assert (still_down.sent, still_down.failed, still_down.unsent) == (0, 1, 1)
    assert broker.messages() == []

    broker.up()
    result = outbox.relay_outbox()
    assert (result.sent, result.failed, result.unsent) == (1, 0, 0)
    message.refresh_from_db()
    assert message.sent_at is not None
    [sent] = broker.messages()
    assert sent["headers"]["task"] == "tests.core.outbox_probe"
    assert sent["headers"]["id"] == str(message.task_id)

    # A second round finds nothing to send: the task is published once.
    assert outbox.relay_outbox().sent == 0
    assert len(broker.messages()) == 1


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_rolled_back_change_leaves_no_task(broker):
    broker.up()
    with pytest.raises(RuntimeError), transaction.atomic():
        outbox.enqueue(outbox_probe, 1)
        raise RuntimeError("the service refused the change")
    assert not OutboxMessage.objects.exists()
    assert broker.messages() == []


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_broker_up_publishes_right_after_commit_with_the_request_id(broker):
    broker.up()
    token = set_request_id("req-abc123")
    try:
        with transaction.atomic():
            message = outbox.enqueue(outbox_probe, 7)
            assert broker.messages() == []  # nothing leaves before the commit
    finally:
        reset_request_id(token)
    message.refresh_from_db()
    assert message.sent_at is not None
    [sent] = broker.messages()
    assert sent["headers"][TASK_HEADER] == "req-abc123"
    _age_all()
    assert outbox.relay_outbox().sent == 0


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_same_dedupe_key_is_one_message_and_one_publication(broker):
    broker.up()
    with transaction.atomic():
        first = outbox.enqueue(outbox_probe, 5, dedupe_key="render:5")
    with transaction.atomic():
        second = outbox.enqueue(outbox_probe, 5, dedupe_key="render:5")
    assert first.pk == second.pk
    assert OutboxMessage.objects.count() == 1
    assert len(broker.messages()) == 1


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_after_one_failure_requests_do_not_wait_for_the_broker_again(broker):
    with transaction.atomic():
        outbox.enqueue(outbox_probe, 1)
    started = time.monotonic()
    with transaction.atomic():
        second = outbox.enqueue(outbox_probe, 2)
    assert time.monotonic() - started < 0.5
    second.refresh_from_db()
    assert second.attempts == 0 and second.sent_at is None  # left to the relay untried


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_relay_leaves_young_messages_to_their_request(broker):
    with transaction.atomic():
        outbox.enqueue(outbox_probe, 1)
    broker.up()
    assert outbox.relay_outbox(grace_seconds=60).sent == 0
    assert outbox.relay_outbox(grace_seconds=0).sent == 1


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_outbox_relay_command_sends_once_and_reports(broker, capsys):
    with transaction.atomic():
        outbox.enqueue(outbox_probe, 3)
    broker.up()
    call_command("outbox_relay", "--once", "--grace", "0")
    assert "1 sent, 0 failed, 0 unsent" in capsys.readouterr().out
    assert len(broker.messages()) == 1


@pytest.fixture
def eager():
    saved = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = saved


@pytest.mark.django_db
def test_eager_mode_runs_the_task_after_commit(eager, django_capture_on_commit_callbacks):
    RAN.clear()
    with django_capture_on_commit_callbacks(execute=True):
        message = outbox.enqueue(outbox_probe, 9, note="eager")
        assert RAN == []
    assert RAN == [(9, "eager")]
    message.refresh_from_db()
    assert message.sent_at is not None


@pytest.mark.django_db
def test_purge_deletes_only_old_sent_messages():
    old = OutboxMessage.objects.create(task_name="x", sent_at=timezone.now() - dt.timedelta(days=9))
    recent = OutboxMessage.objects.create(task_name="x", sent_at=timezone.now())
    unsent = OutboxMessage.objects.create(task_name="x")
    assert outbox.purge_sent(older_than_days=7) == 1
    remaining = set(OutboxMessage.objects.values_list("pk", flat=True))
    assert remaining == {recent.pk, unsent.pk}
    assert old.pk not in remaining
