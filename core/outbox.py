"""The transactional outbox (发件箱): tasks that survive a broker being away.

``transaction.on_commit(lambda: task.delay(...))`` loses the task when the broker is down at
that moment: the change has committed, the message was never sent. Here the task is a row
(``OutboxMessage``) written in the same transaction as the change, so the two commit or roll
back together. Right after the commit ``enqueue`` tries to publish it; a row that could not be
published stays unsent and the relay (``relay_outbox``, run in a loop by
``manage.py outbox_relay``) publishes it once the broker is back.

Delivery is at least once: a relay that dies between publishing and marking the row sent
publishes it again. Tasks are idempotent anyway (STYLE.md), and each row keeps one Celery task
id across publications, so a duplicate is recognisable in the logs.

Converting a dispatch::

    transaction.on_commit(lambda: render_pledge_pdf.delay(pledge.pk))       # before
    enqueue(render_pledge_pdf, pledge.pk, dedupe_key=f"render:{pledge.pk}")  # after

``enqueue`` must run inside the transaction of the change (a service's ``transaction.atomic``).
"""

import datetime as dt
import logging
import time
from dataclasses import dataclass
from functools import lru_cache

from celery import current_app
from django.db import IntegrityError, connections, router, transaction
from django.db.models import F
from django.utils import timezone
from kombu import pools

from .models import OutboxMessage
from .request_id import TASK_HEADER, get_request_id

logger = logging.getLogger(__name__)

#: After a failed publication, this process leaves new messages to the relay for this long,
#: so requests do not each wait for a broker that is known to be down.
BREAKER_SECONDS = 5.0
#: The relay leaves a row this young alone: its request may still be publishing it.
RELAY_GRACE_SECONDS = 10.0
#: Seconds a publication may spend connecting to the broker before it counts as failed.
#: (Celery's own producer retries for several seconds: too long for a resident's request.)
CONNECT_TIMEOUT = 1.0

_breaker_open_until = 0.0


def _task_name(task) -> str:
    return task if isinstance(task, str) else task.name


def enqueue(task, *args, dedupe_key: str | None = None, **kwargs) -> OutboxMessage:
    """Write ``task(*args, **kwargs)`` to the outbox now; publish it after the commit.

    ``task`` is a Celery task or its registered name; arguments must be JSON-serialisable
    (ids, not model instances). With ``dedupe_key``, a second call with the same key returns
    the first message and publishes nothing more.
    """
    fields = {
        "task_name": _task_name(task),
        "args": list(args),
        "kwargs": kwargs,
        "request_id": get_request_id() or "",
    }
    if dedupe_key:
        existing = OutboxMessage.objects.filter(dedupe_key=dedupe_key).first()
        if existing:
            return existing
        try:
            with transaction.atomic():
                message = OutboxMessage.objects.create(dedupe_key=dedupe_key, **fields)
        except IntegrityError:
            return OutboxMessage.objects.get(dedupe_key=dedupe_key)
    else:
        message = OutboxMessage.objects.create(**fields)
    transaction.on_commit(lambda: publish_after_commit(message))
    return message


@lru_cache(maxsize=4)
def _producer_pool(url: str, transport_options: str):
    """Producers whose connection gives up after ``CONNECT_TIMEOUT`` instead of retrying."""
    options = {
        **current_app.conf.broker_transport_options,
        "max_retries": 0,
        "connect_retries_timeout": CONNECT_TIMEOUT,
    }
    connection = current_app.connection_for_write(
        url, transport_options=options, connect_timeout=CONNECT_TIMEOUT
    )
    return pools.producers[connection]


def _publish(message: OutboxMessage) -> None:
    app = current_app
    options = {
        "task_id": str(message.task_id),
        "headers": {TASK_HEADER: message.request_id} if message.request_id else {},
        "retry": False,
    }
    if app.conf.task_always_eager:
        app.tasks[message.task_name].apply_async(message.args, message.kwargs, **options)
        return
    pool = _producer_pool(
        app.conf.broker_write_url or app.conf.broker_url,
        repr(sorted(app.conf.broker_transport_options.items())),
    )
    with pool.acquire(block=True, timeout=CONNECT_TIMEOUT) as producer:
        # send_task publishes by name: the task need not be importable here.
        app.send_task(message.task_name, message.args, message.kwargs, producer=producer, **options)


def _mark_sent(message_id: int) -> None:
    OutboxMessage.objects.filter(pk=message_id, sent_at__isnull=True).update(
        sent_at=timezone.now(), attempts=F("attempts") + 1
    )


def _mark_failed(message_id: int, error: Exception) -> None:
    OutboxMessage.objects.filter(pk=message_id).update(
        attempts=F("attempts") + 1, last_error=f"{type(error).__name__}: {error}"[:500]
    )


def publish_after_commit(message: OutboxMessage) -> bool:
    """Try once to publish a just-committed message; leave it to the relay on failure."""
    global _breaker_open_until
    message_id = message.pk
    eager = current_app.conf.task_always_eager
    if not eager and time.monotonic() < _breaker_open_until:
        return False
    if eager:
        # Tests and one-off scripts: the task runs here, and its errors are the caller's.
        _publish(message)
        _mark_sent(message_id)
        return True
    try:
        _publish(message)
    except Exception as exc:  # noqa: BLE001 - whatever the broker did, the relay will retry
        _breaker_open_until = time.monotonic() + BREAKER_SECONDS
        logger.warning("outbox: %s #%s left to the relay: %s", message.task_name, message_id, exc)
        _mark_failed(message_id, exc)
        return False
    _mark_sent(message_id)
    return True


@dataclass
class RelayResult:
    sent: int = 0
    failed: int = 0
    unsent: int = 0


def relay_outbox(*, batch: int = 100, grace_seconds: float = RELAY_GRACE_SECONDS) -> RelayResult:
    """Publish unsent messages, oldest first, and mark them sent.

    Stops at the first failure (the broker is most likely down; the next round tries again).
    On PostgreSQL each row is locked while it is published (``SKIP LOCKED``), so several
    relays never publish the same row at once; on SQLite run one relay.
    """
    result = RelayResult()
    cutoff = timezone.now() - dt.timedelta(seconds=grace_seconds)
    unsent = OutboxMessage.objects.filter(sent_at__isnull=True)
    ids = list(unsent.filter(created_at__lte=cutoff).values_list("pk", flat=True)[:batch])
    connection = connections[router.db_for_write(OutboxMessage)]
    lock_rows = connection.features.has_select_for_update_skip_locked
    for message_id in ids:
        try:
            if lock_rows:
                with transaction.atomic():
                    message = (
                        unsent.select_for_update(skip_locked=True).filter(pk=message_id).first()
                    )
                    if message is not None:
                        _publish(message)
                        _mark_sent(message_id)
            else:
                message = unsent.filter(pk=message_id).first()
                if message is not None:
                    _publish(message)
                    _mark_sent(message_id)
        except Exception as exc:  # noqa: BLE001 - the broker is away: try again next round
            logger.warning("outbox relay: broker unavailable: %s", exc)
            _mark_failed(message_id, exc)
            result.failed += 1
            break
        if message is not None:
            result.sent += 1
    result.unsent = unsent.count()
    return result


def purge_sent(*, older_than_days: int = 7) -> int:
    """Delete messages sent more than ``older_than_days`` ago; returns how many."""
    cutoff = timezone.now() - dt.timedelta(days=older_than_days)
    deleted, _ = OutboxMessage.objects.filter(sent_at__lt=cutoff).delete()
    return deleted


def reset_breaker() -> None:
    """Forget a recent failure (tests, and the relay once the broker answers again)."""
    global _breaker_open_until
    _breaker_open_until = 0.0
