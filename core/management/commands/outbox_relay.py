"""``manage.py outbox_relay``: publish the outbox's unsent tasks, in a loop.

Run it as one long-lived process beside the workers (systemd ``chengnuo-outbox.service``,
or the ``outbox`` line of the Procfile). It survives the broker and the database being away:
each round that fails is logged and tried again after ``--interval`` seconds. On PostgreSQL
several relays may run (rows are locked while published); on SQLite run one.
"""

import signal
import time

from django.core.management.base import BaseCommand
from django.db import close_old_connections, connections

from core import metrics
from core.outbox import purge_sent, relay_outbox


class Command(BaseCommand):
    help = "Publish tasks left in the outbox while the broker was away (loop; --once for one)."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="one round, then exit")
        parser.add_argument("--interval", type=float, default=1.0, help="seconds between rounds")
        parser.add_argument("--batch", type=int, default=100, help="messages per round")
        parser.add_argument(
            "--grace", type=float, default=10.0, help="leave messages younger than this alone"
        )
        parser.add_argument(
            "--purge-days",
            type=int,
            default=7,
            help="delete messages sent more than this many days ago (checked hourly)",
        )

    def handle(self, *args, once=False, interval=1.0, batch=100, grace=10.0, purge_days=7, **kw):
        self._stopping = False
        if not once:
            signal.signal(signal.SIGTERM, self._stop)
            signal.signal(signal.SIGINT, self._stop)
        next_purge = 0.0
        while True:
            close_old_connections()
            try:
                result = relay_outbox(batch=batch, grace_seconds=grace)
                metrics.OUTBOX_UNSENT.set(result.unsent)
                if result.sent or result.failed or once:
                    self.stdout.write(
                        f"outbox: {result.sent} sent, {result.failed} failed, "
                        f"{result.unsent} unsent"
                    )
                if time.monotonic() >= next_purge:
                    purge_sent(older_than_days=purge_days)
                    next_purge = time.monotonic() + 3600
            except Exception as exc:  # noqa: BLE001 - the database may be restarting
                self.stderr.write(f"outbox: round failed: {type(exc).__name__}: {exc}")
                connections.close_all()
                result = None
            if once or self._stopping:
                return
            # A full batch means more are waiting: go again at once.
            if result is None or result.sent < batch or result.failed:
                self._sleep(interval)

    def _stop(self, signum, frame):
        self._stopping = True

    def _sleep(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while not self._stopping and time.monotonic() < deadline:
            time.sleep(min(0.2, seconds))
