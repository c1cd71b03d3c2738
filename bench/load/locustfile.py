"""A service hall's morning, for locust (driven by ``bench/load/run.py``; loopback only).

Who does what (user counts fixed per kind, each paced on its own):

- **Signing residents** (``LOAD_SIGNERS`` users, each aiming at ``LOAD_SIGN_RATE`` signings a
  second: 40 × 5 = the issue's 200/s): ``POST /api/v1/pledges/`` with a token, the same body
  as the signing benchmark (bench/sign_bench.py: a 6.5 kB drawn signature).
- **Browsing residents** (``LOAD_BROWSERS`` users, one page a second each): the catalog, a
  matter's notice, the service guides and one guide (pages, anonymous), and their own pledges
  through the API (token).
- **Window clerks** (``LOAD_CLERKS`` users, one print every ``LOAD_PRINT_EVERY`` seconds each):
  ``GET /api/v1/pledges/{number}/pdf/`` of a pledge signed at their window and never printed,
  so each print renders the two-copy form (WeasyPrint) in the web process.
- **Verification officers** (``LOAD_OFFICERS`` users, one finding every
  ``LOAD_FINDING_EVERY`` seconds each): their task list, then a written-method finding with
  the reviewed document attached (``POST /api/v1/verification/tasks/{id}/findings/``).
- **The public** (``LOAD_VERIFIERS`` users, one scan a second each): the verify page a
  form's QR code opens.

Every non-2xx answer counts as a failure. The seed (tokens, numbers, tasks) comes from the
JSON file named by ``LOAD_SEED``.
"""

import base64
import collections
import itertools
import json
import os
import random
from pathlib import Path

from locust import FastHttpUser, constant_pacing, constant_throughput, task

SEED = json.loads(Path(os.environ["LOAD_SEED"]).read_text())
SIGNINGS = itertools.cycle(SEED["sign_bodies"])  # (token, JSON body): each resident themselves
RESIDENT_TOKENS = itertools.cycle([token for token, _ in SEED["sign_bodies"]])
CLERK_TOKENS = itertools.cycle(SEED["clerk_tokens"])
TO_PRINT = collections.deque(SEED["print_numbers"])
PRINTED: list[str] = []
TASKS = collections.deque(SEED["tasks"])  # (lead officer's token, task id)
VERIFY_PATHS = SEED["verify_paths"]
CATALOG = SEED["catalog"]

# The reviewed document of a written check: the smallest valid PDF, as a data URI.
REVIEWED_PDF = (
    "data:application/pdf;base64,"
    + base64.b64encode(b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n").decode()
)


def _env(name: str, default: float) -> float:
    return float(os.environ.get(name, default))


def _auth(token: str, **extra) -> dict:
    return {"Authorization": f"Token {token}", **extra}


class SigningResident(FastHttpUser):
    fixed_count = int(_env("LOAD_SIGNERS", 40))
    wait_time = constant_throughput(_env("LOAD_SIGN_RATE", 5))

    @task
    def sign(self):
        token, body = next(SIGNINGS)
        self.client.post(
            "/api/v1/pledges/",
            data=body.encode(),
            headers=_auth(token, **{"Content-Type": "application/json"}),
            name="sign: POST /api/v1/pledges/",
        )


class BrowsingResident(FastHttpUser):
    fixed_count = int(_env("LOAD_BROWSERS", 10))
    wait_time = constant_throughput(1)

    @task(3)
    def catalog(self):
        self.client.get("/", name="browse: catalog /")

    @task(3)
    def matter(self):
        code = random.choice(CATALOG)
        self.client.get(f"/matters/{code}/", name="browse: matter notice /matters/{code}/")

    @task(1)
    def guides(self):
        self.client.get("/guides/", name="browse: guides /guides/")

    @task(2)
    def guide(self):
        code = random.choice(CATALOG)
        self.client.get(f"/guides/{code}/", name="browse: guide /guides/{code}/")

    @task(1)
    def my_pledges(self):
        self.client.get(
            "/api/v1/pledges/",
            headers=_auth(next(RESIDENT_TOKENS)),
            name="browse: my pledges GET /api/v1/pledges/",
        )


class WindowClerk(FastHttpUser):
    fixed_count = int(_env("LOAD_CLERKS", 2))
    wait_time = constant_pacing(_env("LOAD_PRINT_EVERY", 5))

    @task
    def print_form(self):
        if TO_PRINT:
            number, name = TO_PRINT.popleft(), "print: first print (render)"
            PRINTED.append(number)
        else:  # the seed ran out: a re-print of a stored form
            number, name = random.choice(PRINTED), "print: re-print (stored)"
        self.client.get(
            f"/api/v1/pledges/{number}/pdf/",
            headers=_auth(next(CLERK_TOKENS), Accept="application/pdf"),
            name=name,
        )


class VerificationOfficer(FastHttpUser):
    fixed_count = int(_env("LOAD_OFFICERS", 2))
    wait_time = constant_pacing(_env("LOAD_FINDING_EVERY", 5))

    @task
    def record_finding(self):
        if not TASKS:
            return
        token, task_id = TASKS.popleft()
        self.client.get(
            "/api/v1/verification/tasks/?status=open",
            headers=_auth(token),
            name="officer: task list",
        )
        body = {
            "result": "truthful",
            "method": "written",
            "reason": "申报情况与所附材料一致。",
            "evidence": [{"name": "收入证明.pdf", "data": REVIEWED_PDF}],
        }
        self.client.post(
            f"/api/v1/verification/tasks/{task_id}/findings/",
            json=body,
            headers=_auth(token),
            name="officer: record finding",
        )


class PublicVerifier(FastHttpUser):
    fixed_count = int(_env("LOAD_VERIFIERS", 5))
    wait_time = constant_throughput(1)

    @task
    def verify(self):
        self.client.get(random.choice(VERIFY_PATHS), name="public: verify /verify/{n}/{token}/")
