"""Tasks dispatched after commit reach a worker (through the broker in CI's real-worker run)."""

import threading

import pytest
from django.db import transaction

from core.notifications import notify
from core.sms import MemorySMSBackend
from tests.factories import make_resident
from tests.worker import REAL_WORKER, real_worker, wait_until  # noqa: F401


class ThreadNotingSMSBackend(MemorySMSBackend):
    """The memory backend, noting which thread sent each message."""

    threads: list[str] = []

    def send(self, phone: str, text: str) -> None:
        ThreadNotingSMSBackend.threads.append(threading.current_thread().name)
        super().send(phone, text)


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_sms_queued_after_commit_is_sent_by_the_worker(real_worker, settings):  # noqa: F811
    settings.CHENGNUO_SMS_BACKEND = "tests.core.test_worker.ThreadNotingSMSBackend"
    MemorySMSBackend.outbox.clear()
    ThreadNotingSMSBackend.threads = []
    resident = make_resident("worker-alice", name="王五")

    with transaction.atomic():
        notify(recipient=resident, kind="test", title="您的承诺书已受理", sms=True)
        assert MemorySMSBackend.outbox == [], "sent before the commit"

    outbox = wait_until(lambda: MemorySMSBackend.outbox, timeout=15)
    assert outbox == [(resident.phone, "您的承诺书已受理")]
    # Through the broker, the worker's thread sends it; eagerly, the test's own thread.
    main = threading.main_thread().name
    assert (ThreadNotingSMSBackend.threads[0] != main) is REAL_WORKER


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_rolled_back_notification_sends_no_sms(real_worker, settings):  # noqa: F811
    settings.CHENGNUO_SMS_BACKEND = "core.sms.MemorySMSBackend"
    MemorySMSBackend.outbox.clear()
    resident = make_resident("worker-bob", name="赵六")

    with pytest.raises(RuntimeError), transaction.atomic():
        notify(recipient=resident, kind="test", title="不应发送", sms=True)
        raise RuntimeError("roll back")

    # Prove the pipeline is live, then that only the committed message went out.
    with transaction.atomic():
        notify(recipient=resident, kind="test", title="已发送", sms=True)
    wait_until(lambda: MemorySMSBackend.outbox, timeout=15)
    assert MemorySMSBackend.outbox == [(resident.phone, "已发送")]
