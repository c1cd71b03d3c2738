"""The broker goes away while residents sign and clerks print, and comes back.

The application publishes through a TCP proxy in front of Redis that the test cuts and
restores; the worker (a real one, in a thread of this process) consumes straight from Redis.
While the broker is away, signing answers 201 and every follow-up (a clerk's batch print, a
credit record's push and its SMS notice, a draw's notices) waits in the outbox with the change
that called for it. Once the broker is back the relay publishes them and the worker runs each
exactly once.
"""

import collections
import threading

import pytest
from celery.signals import task_postrun
from django.test import Client
from django.utils import timezone

from config.celery import app
from core import outbox
from core.models import BackgroundJob, Notification, OutboxMessage
from core.sms import MemorySMSBackend
from credit.models import Push
from pledges.models import Pledge
from tests.conftest import client_for
from tests.credit.factories import close_hearing, draft
from tests.factories import (
    MatterFactory,
    login_staff,
    make_resident,
    make_staff,
    pledge_body,
    sign_at_window,
)
from tests.worker import real_worker  # noqa: F401
from verification import services as verification_services
from verification.models import Draw

from . import processes, scenario
from .conftest import broker_address, through_port
from .proxy import TcpProxy

pytestmark = [
    pytest.mark.faults,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


@pytest.fixture
def broker_proxy(request, clean_broker):
    """The app publishes through a proxy to Redis; the worker thread reads from Redis."""
    proxy = TcpProxy(*broker_address())
    direct = app.conf.broker_url
    try:
        with scenario.through_the_broker(
            broker_read_url=direct, broker_write_url=through_port(direct, proxy.port)
        ):
            request.getfixturevalue("real_worker")
            yield proxy
    finally:
        proxy.close()


@pytest.fixture
def task_runs():
    """``(task name, task id)`` of every task the worker thread has finished."""
    runs: list[tuple[str, str]] = []
    lock = threading.Lock()

    def noted(sender=None, task_id=None, **kwargs):
        with lock:
            runs.append((sender.name, task_id))

    task_postrun.connect(noted, weak=False)
    yield runs
    task_postrun.disconnect(noted)


def test_broker_down_signing_answers_201_and_each_follow_up_runs_once_when_it_is_back(
    broker_proxy, task_runs, settings, tmp_path
):
    settings.CHENGNUO_CREDIT_EXPORT_DIR = str(tmp_path / "exports")
    with scenario.messages_kept_in_the_outbox():
        matter = MatterFactory()
        residents = [make_resident(f"signer-{i}") for i in range(3)]
        clerk = make_staff("window_clerk", "clerk-broker")
        at_window = [sign_at_window(clerk, matter=matter).number for _ in range(2)]
        credit_officer = make_staff("credit_officer", "credit-broker")
        accused = make_resident("accused")
        record = close_hearing(draft(accused.person))
        plan, drawn = scenario.drawable_pledges(residents=2, each=1)
    OutboxMessage.objects.all().delete()  # the set-up's own notices are not under test
    MemorySMSBackend.outbox.clear()
    clerk_pages = login_staff(Client(), clerk)

    broker_proxy.cut()
    started = timezone.now()

    # Residents sign: 201, the pledge stored.
    numbers = []
    for resident in residents:
        response = client_for(resident).post(
            "/api/v1/pledges/", pledge_body(resident, matter), format="json"
        )
        assert response.status_code == 201, response.content
        numbers.append(response.json()["number"])
    # A clerk prints a batch: queued.
    response = clerk_pages.post("/window/batch/", {"numbers": " ".join(at_window)})
    assert response.status_code == 302, response.content
    job = BackgroundJob.objects.get(kind="pledge_print_batch")
    # The credit office confirms a record: pushed and the person told by SMS, later.
    response = client_for(credit_officer).post(
        f"/api/v1/credit/records/{record.pk}/decisions/",
        {"decision": "confirm", "severity": "general", "basis": "《条例》第十条"},
        format="json",
    )
    assert response.status_code == 200, response.content
    # A draw runs: its notices follow.
    draw = verification_services.draw_execute(plan=plan, cutoff=timezone.now())

    waiting = OutboxMessage.objects.filter(created_at__gte=started)
    assert {m.task_name for m in waiting} == {
        "pledges.tasks.print_pledge_batch",
        "credit.push_records",
        "core.tasks.send_sms",
        "verification.tasks.follow_up_draw",
    }
    assert not waiting.filter(sent_at__isnull=False).exists()
    assert Pledge.objects.filter(number__in=numbers).count() == 3
    assert task_runs == []  # nothing reached the broker
    job.refresh_from_db()
    assert job.status == BackgroundJob.Status.QUEUED

    broker_proxy.restore()

    def relayed():
        return outbox.relay_outbox(grace_seconds=0).unsent == 0

    processes.wait_for(relayed, timeout=20, what="the relay publishing the outbox")

    def finished():
        # The relay keeps running (as ``manage.py outbox_relay`` does): the notices the draw's
        # follow-up writes may find this process's breaker still open and be left to it. It
        # leaves a message alone for a second, while its own commit may be publishing it.
        outbox.relay_outbox(grace_seconds=1)
        job.refresh_from_db()
        return (
            job.status == BackgroundJob.Status.DONE
            and Push.objects.filter(record=record, status=Push.Status.SENT).exists()
            and Draw.objects.filter(pk=draw.pk, followed_up_at__isnull=False).exists()
            and not OutboxMessage.objects.filter(sent_at__isnull=True).exists()
            and len(task_runs) >= OutboxMessage.objects.count()
        )

    processes.wait_for(finished, timeout=60, what="the worker running every follow-up")
    assert outbox.relay_outbox(grace_seconds=0).sent == 0

    # Each message of the outbox ran once, and nothing else ran.
    runs = collections.Counter(task_id for _name, task_id in task_runs)
    assert set(runs) == {str(m.task_id) for m in OutboxMessage.objects.all()}
    assert set(runs.values()) == {1}, runs
    names = collections.Counter(name for name, _id in task_runs)
    assert names["pledges.tasks.print_pledge_batch"] == 1
    assert names["verification.tasks.follow_up_draw"] == 1
    # Every SMS once: the confirmed record's person and each person drawn.
    sms_notices = Notification.objects.filter(sms_sent_at__isnull=False)
    assert names["core.tasks.send_sms"] == sms_notices.count() == 3
    assert sorted(phone for phone, _text in MemorySMSBackend.outbox) == sorted(
        [accused.phone] + [person.phone for person in drawn]
    )
    assert Push.objects.get(record=record).attempts == 1
    assert job.result["forms"] == 2
    # No pledge lost: the three signed during the outage, and the two at the window.
    assert Pledge.objects.filter(number__in=numbers + at_window).count() == 5
