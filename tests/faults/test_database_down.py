"""The database goes away under load and comes back: 503 with a retry hint, then recovery.

gunicorn serves the application (a real process, 1 worker × 4 threads) with its database
connection through a TCP proxy in front of PostgreSQL; clients sign pledges and read the
catalog in a loop. The test cuts the proxy (open connections reset, new ones refused, as a
restarting server does) and restores it. While it is down every answer is a clean 503 with
``Retry-After`` (JSON for the API, a page for the site) and ``/healthz`` still answers; once it
is back requests succeed again from the same web process, and a signing retried with its
``Idempotency-Key`` after a 503 stores exactly one pledge.
"""

import json
import threading
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field

import pytest
from django.conf import settings
from rest_framework.authtoken.models import Token

from pledges.models import Pledge
from tests.factories import MatterFactory, make_resident, pledge_body

from . import processes
from .proxy import TcpProxy

pytestmark = [
    pytest.mark.faults,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


@dataclass
class Answer:
    at: float
    path: str
    status: int  # 0: no HTTP answer at all
    retry_after: str | None = None
    content_type: str = ""
    body: bytes = b""


def call(base: str, path: str, *, token: str = "", body: dict | None = None, key: str = ""):
    headers = {"Accept": "application/json"} if path.startswith("/api/") else {}
    if token:
        headers["Authorization"] = f"Token {token}"
    if key:
        headers["Idempotency-Key"] = key
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    request = urllib.request.Request(base + path, data=data, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=15) as response:
            status, reply, content = response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        status, reply, content = error.code, error.headers, error.read()
    except OSError as error:  # refused, reset, timed out: the web process failed to answer
        return Answer(time.monotonic(), path, 0, body=repr(error).encode())
    return Answer(
        time.monotonic(),
        path,
        status,
        reply.get("Retry-After"),
        reply.get("Content-Type", ""),
        content,
    )


@dataclass
class Client:
    """Signs pledges one after another, each retried with its key until it gets a 201."""

    base: str
    token: str
    body: dict
    answers: list[Answer] = field(default_factory=list)
    signed: list[str] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self):
        while not self.stop.is_set():
            key = uuid.uuid4().hex
            while not self.stop.is_set():
                answer = call(
                    self.base, "/api/v1/pledges/", token=self.token, body=self.body, key=key
                )
                self.answers.append(answer)
                self.answers.append(call(self.base, "/api/v1/matters/", token=self.token))
                if answer.status == 201:
                    self.signed.append(json.loads(answer.body)["number"])
                    break
                time.sleep(0.1)  # a client honouring Retry-After would wait longer


def test_database_down_under_load_answers_503_with_retry_after_and_recovers(spawn):
    db = settings.DATABASES["default"]
    proxy = TcpProxy(db.get("HOST") or "127.0.0.1", int(db.get("PORT") or 5432))
    try:
        _run(spawn, proxy)
    finally:
        proxy.close()


def _run(spawn, proxy):
    matter = MatterFactory()
    residents = [make_resident(f"loaded-{i}") for i in range(3)]
    tokens = [Token.objects.create(user=resident).key for resident in residents]
    port = processes.free_port()
    base = f"http://127.0.0.1:{port}"
    web = spawn(
        processes.gunicorn, "web", port=port, DATABASE_URL=processes.database_url(port=proxy.port)
    )
    processes.wait_for(
        lambda: call(base, "/healthz").status == 200, timeout=30, what="gunicorn", processes=[web]
    )
    clients = [
        Client(base, token, pledge_body(resident, matter))
        for resident, token in zip(residents, tokens, strict=True)
    ]
    threads = [threading.Thread(target=client.run, daemon=True) for client in clients]
    for thread in threads:
        thread.start()
    try:
        processes.wait_for(
            lambda: all(client.signed for client in clients),
            timeout=30,
            what="every client signing while the database is up",
            processes=[web],
        )

        proxy.cut()
        cut_at = time.monotonic()
        processes.wait_for(
            lambda: all(
                any(a.status == 503 and a.at > cut_at for a in client.answers) for client in clients
            ),
            timeout=20,
            what="503 answers while the database is down",
            processes=[web],
        )
        # The process itself is fine: liveness says so, readiness and pages say wait.
        assert call(base, "/healthz").status == 200
        ready = call(base, "/readyz")
        assert (ready.status, ready.retry_after) == (503, "5")
        assert json.loads(ready.body)["checks"]["database"]["ok"] is False
        page = call(base, "/")
        assert (page.status, page.retry_after) == (503, "5")
        assert page.content_type.startswith("text/html")
        signed_before_restore = sum(len(client.signed) for client in clients)

        proxy.restore()
        restored_at = time.monotonic()
        processes.wait_for(
            lambda: all(
                any(a.status == 201 and a.at > restored_at for a in client.answers)
                for client in clients
            ),
            timeout=30,
            what="signing again once the database is back",
            processes=[web],
        )
    finally:
        for client in clients:
            client.stop.set()
        for thread in threads:
            thread.join(timeout=20)

    answers = [a for client in clients for a in client.answers]
    unexpected = [a for a in answers if a.status not in (200, 201, 503)]
    assert not unexpected, [(a.path, a.status, a.body[:300]) for a in unexpected]
    unavailable = [a for a in answers if a.status == 503]
    assert unavailable, "the outage was not seen"
    for answer in unavailable:
        assert answer.retry_after == "5", answer
        assert answer.content_type == "application/json", answer
        assert json.loads(answer.body)["code"] == "unavailable"
    # The same web process served before, during and after the outage.
    assert web.alive()
    assert web.log.read_text().count("Booting worker") == 1, web.tail()
    # Each signing that got its 201 stored one pledge, retried ones included; nothing else.
    signed = [number for client in clients for number in client.signed]
    assert len(signed) > signed_before_restore
    assert sorted(Pledge.objects.values_list("number", flat=True)) == sorted(signed)
