"""Data and broker settings shared by the fault tests."""

import contextlib
import datetime as dt
from unittest import mock

from django.utils import timezone

from accounts import roles
from config.celery import app
from core import outbox
from tests.factories import MatterFactory, UnitFactory, make_resident, make_staff
from tests.verification.conftest import make_plan, make_pledges


@contextlib.contextmanager
def messages_kept_in_the_outbox():
    """Whatever the code enqueues stays unsent in the outbox (as with the broker away), so a
    test's set-up dispatches nothing; the test then deletes or relays those messages."""
    with mock.patch.object(outbox, "publish_after_commit", lambda message: False):
        yield


@contextlib.contextmanager
def through_the_broker(**urls):
    """Tasks go through the broker (not eagerly) for the block; ``urls`` may set
    ``broker_read_url`` / ``broker_write_url``. The app's pooled connections are dropped on
    the way in and out, and the outbox forgets any earlier failure."""
    keys = ("task_always_eager", "broker_read_url", "broker_write_url")
    saved = {key: app.conf.get(key) for key in keys}
    app.conf.task_always_eager = False
    app.conf.update(urls)
    _drop_pools()
    try:
        yield
    finally:
        app.conf.update(saved)
        _drop_pools()


def _drop_pools():
    app._pool = None
    app.amqp._producer_pool = None
    outbox._producer_pool.cache_clear()
    outbox.reset_breaker()


def drawable_pledges(*, residents: int, each: int):
    """A matter with a daily plan drawing all (ratio 1) of ``residents`` × ``each`` pledges
    signed ten days ago, and two officers to assign. Returns ``(plan, residents)``."""
    unit = UnitFactory(code="SF-faults", name="市司法局")
    for name in ("officer-f1", "officer-f2"):
        make_staff(roles.VERIFICATION_OFFICER, name, unit=unit)
    matter = MatterFactory(verification_methods=["written"])
    people = [make_resident(f"drawn-{i}") for i in range(residents)]
    signed_at = timezone.now() - dt.timedelta(days=10)
    for person in people:
        make_pledges(matter, each, person=person.person, signed_at=signed_at)
    plan = make_plan(matter=matter, ratio="1", cadence="daily")
    return plan, people
