"""The Celery app of a worker that a fault test kills: ``config.celery``'s, with pause points.

``celery -A tests.faults.worker_app worker`` with ``FAULTS_PAUSE=draw,render,push,ledger``
wraps one function in the middle of each of those tasks: the task does its work up to that
point (uncommitted), writes ``<FAULTS_PAUSE_DIR>/<point>.paused`` and waits there for ever,
until the test kills the worker. Without ``FAULTS_PAUSE`` it is the plain application, and
nothing here touches production code paths.

- ``draw``: inside the draw's transaction, the tasks inserted and the population file stored
  (``verification.drawing.result_digest``).
- ``render``: a batch print, the first form stored and committed, the second form's file
  written but its row not yet saved (``pledges.printing._store_form``, second call).
- ``push``: the batch delivered to the platform's folder, the pushes not yet marked sent
  (``credit.exporters.JsonLinesFolderExporter.export``).
- ``ledger``: a record's expiry appended to the ledger, not yet committed
  (``credit.ledger.append`` of ``record.expired``).
"""

import functools
import os
import time
from pathlib import Path

from celery.signals import worker_init

from config.celery import app

__all__ = ["app"]

POINTS = {p for p in os.environ.get("FAULTS_PAUSE", "").split(",") if p}


def _pause(point: str) -> None:
    marker = Path(os.environ["FAULTS_PAUSE_DIR"]) / f"{point}.paused"
    marker.write_text(str(os.getpid()))
    while True:
        time.sleep(60)


def _after(module, name: str, point: str, when=lambda calls, *a, **k: True) -> None:
    original = getattr(module, name)
    calls = []

    @functools.wraps(original)
    def wrapper(*args, **kwargs):
        result = original(*args, **kwargs)
        calls.append(1)
        if when(len(calls), *args, **kwargs):
            _pause(point)
        return result

    setattr(module, name, wrapper)


@worker_init.connect
def _install_pause_points(**kwargs):
    if not POINTS:
        return
    import django

    django.setup()
    from credit import exporters, ledger
    from pledges import printing
    from verification import drawing

    if "draw" in POINTS:
        _after(drawing, "result_digest", "draw")
    if "render" in POINTS:
        _after(printing, "_store_form", "render", when=lambda calls, *a, **k: calls == 2)
    if "push" in POINTS:
        _after(exporters.JsonLinesFolderExporter, "export", "push")
    if "ledger" in POINTS:
        _after(ledger, "append", "ledger", when=lambda n, event, *a, **k: event == "record.expired")
