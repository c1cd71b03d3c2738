"""Shared set-up of the credit benchmarks: a PostgreSQL database of their own, filled once.

``bench_credit`` (``--database-url`` to change) is created if missing and migrated. Its data:

- 100,000 persons (``accounts.Person``; the ID number column holds one encrypted dummy, since
  nothing here reads it; every person has their own keyed hash);
- 150,000 credit records spread over them at random (seeded), in every state, kind and
  severity, their windows computed by ``credit.periods`` from decision dates in the last three
  years, and the pledging blocks derived from them (``credit.services.blocks_rebuild``);
- the ledger, a real hash chain computed in Python and written with ``COPY``, with a signed
  head and a checkpoint every 100,000 events. ``ledger_extend(n)`` grows it to ``n`` events
  from wherever it stands.

Filling takes a minute or two the first time; later runs find the rows and skip it.
"""

import datetime as dt
import hashlib
import json
import os
import platform
import random
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/bench_credit"
PEOPLE = 100_000
RECORDS = 150_000
EVENTS = 1_000_000


def setup(database_url: str) -> None:
    """Create the database if missing, point Django at it (DEBUG off), migrate."""
    sys.path.insert(0, str(ROOT))
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.test"
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    _create_database(database_url)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def _create_database(database_url: str) -> None:
    from urllib.parse import urlparse

    import psycopg

    parsed = urlparse(database_url)
    name = parsed.path.lstrip("/")
    admin = parsed._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')


def machine() -> str:
    from django.db import connection

    cpu = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        pg = cursor.fetchone()[0]
    load = os.getloadavg()[0]
    return (
        f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"PostgreSQL {pg}, load {load:.1f}, {dt.datetime.now():%Y-%m-%d %H:%M}"
    )


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


# ---- people and records -------------------------------------------------------------------


def people_and_records() -> None:
    from accounts.models import Person
    from credit.models import CreditBlock, CreditRecord
    from credit.services import blocks_rebuild

    if Person.objects.count() >= PEOPLE and CreditRecord.objects.count() >= RECORDS:
        if not CreditBlock.objects.exists():
            blocks_rebuild()
            _analyze()
        return
    started = time.perf_counter()
    _truncate(
        "credit_attachment",
        "credit_statement",
        "credit_objection",
        "credit_repairapplication",
        "credit_accesslog",
        "credit_push",
        "credit_creditblock",
        "credit_creditrecord",
        "accounts_person",
    )
    _people()
    _records()
    blocks_rebuild()  # what the services keep in step, derived here in one pass
    _analyze()
    print(f"  filled persons and records in {time.perf_counter() - started:.0f} s", flush=True)


def _truncate(*tables: str) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")


def _analyze() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def _people() -> None:
    from django.conf import settings

    from accounts.crypto import EncryptedTextField
    from accounts.id_numbers import keyed_hash

    cipher = EncryptedTextField().get_prep_value("110105194912310021")
    key = settings.ID_HASH_KEY
    now = dt.datetime.now(dt.UTC)
    rows = (
        (
            keyed_hash(f"bench-{i:08d}", key),
            cipher,
            "419001********0000",
            f"测试{i}",
            cipher,
            "沁园街道",
            now,
        )
        for i in range(PEOPLE)
    )
    _copy(
        "accounts_person",
        ["id_hash", "id_number", "id_masked", "name", "phone", "address", "created_at"],
        rows,
    )


def _records() -> None:
    from credit.models import RecordState
    from credit.periods import periods_for

    rng = random.Random(20261128)
    today = dt.date.today()
    states = [
        (RecordState.CONFIRMED, 40),
        (RecordState.REPAIRED, 15),
        (RecordState.EXPIRED, 15),
        (RecordState.ANNULLED, 10),
        (RecordState.PENDING_REVIEW, 15),
        (RecordState.UNDER_OBJECTION, 5),
    ]
    state_values = [s for s, w in states for _ in range(w)]
    now = dt.datetime.now(dt.UTC)

    def rows():
        for i in range(RECORDS):
            state = rng.choice(state_values)
            kind = rng.choice(["false_pledge"] * 5 + ["breach"] * 4 + ["other"])
            severity = ""
            decided_on = starts = repair = ends = None
            published = False
            if state not in (RecordState.PENDING_REVIEW, RecordState.ANNULLED):
                severity = rng.choice(["minor"] * 3 + ["general"] * 5 + ["serious"] * 2)
                decided_on = today - dt.timedelta(days=rng.randrange(0, 3 * 365))
                periods = periods_for(severity, decided_on)
                published = periods.published
                starts, repair, ends = (
                    periods.starts_on,
                    periods.repair_possible_on,
                    periods.ends_on,
                )
            yield (
                rng.randrange(1, PEOPLE + 1),
                kind,
                state,
                f"bench.finding:{i}",
                json.dumps({"matter_name": "测试事项", "pledge_number": f"CN-2026-{i:06d}"}),
                "测试事项",
                f"CN-2026-{i:06d}",
                today,
                severity,
                "《测试条例》" if severity else "",
                decided_on,
                "",
                published,
                starts,
                repair,
                ends,
                1 if severity else 0,
                now,
            )

    _copy(
        "credit_creditrecord",
        [
            "person_id",
            "kind",
            "state",
            "source",
            "facts",
            "matter_name",
            "pledge_number",
            "hearing_deadline",
            "severity",
            "legal_basis",
            "decided_on",
            "annul_reason",
            "published",
            "publication_starts_on",
            "repair_possible_on",
            "publication_ends_on",
            "version",
            "created_at",
        ],
        rows(),
    )


def _copy(table: str, columns: list[str], rows) -> None:
    from django.db import connection

    connection.ensure_connection()
    raw = connection.connection
    sql = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
    with raw.cursor() as cursor, cursor.copy(sql) as copy:
        for row in rows:
            copy.write_row(row)
    if not raw.autocommit:
        raw.commit()


# ---- the ledger ---------------------------------------------------------------------------

EVENT_TYPES = ["record.drafted", "record.confirmed", "record.published", "record.pushed"]


def ledger_reset() -> None:
    from credit.models import LedgerHead

    _truncate("credit_ledgerentry", "credit_ledgercheckpoint")
    LedgerHead.objects.all().delete()


def ledger_extend(target: int) -> None:
    """Grow the ledger to ``target`` events, continuing the chain from the signed head."""
    from django.db import transaction

    from credit import ledger
    from credit.models import LedgerCheckpoint, LedgerEntry, LedgerHead

    head = LedgerHead.objects.filter(pk=1).first()
    start = head.seq if head else 0
    if start != LedgerEntry.objects.count():
        ledger_reset()
        head, start = None, 0
    if start >= target:
        return
    started = time.perf_counter()
    prev = head.hash if head else ledger.GENESIS
    rng = random.Random(start)
    base = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    checkpoints = []
    sha256 = hashlib.sha256

    def rows():
        nonlocal prev
        for seq in range(start + 1, target + 1):
            record = rng.randrange(1, RECORDS + 1)
            event = {
                "type": EVENT_TYPES[seq % len(EVENT_TYPES)],
                "at": (base + dt.timedelta(seconds=seq)).isoformat().replace("+00:00", "Z"),
                "record": record,
                "person": sha256(str(record).encode()).hexdigest(),
                "actor": f"user:{rng.randrange(1, 50)}",
                "data": {
                    "severity": "general",
                    "decided_on": "2026-03-10",
                    "publication_ends_on": "2027-03-10",
                    "legal_basis": "《济源市告知承诺制实施办法》第二十条",
                },
            }
            text = ledger.canonical(event)
            digest = sha256(f"{seq}\n{prev}\n{text}".encode()).hexdigest()
            yield seq, prev, text, digest, record
            prev = digest
            if seq % 100_000 == 0:
                checkpoints.append((seq, digest))

    _copy("credit_ledgerentry", ["seq", "prev_hash", "event", "hash", "record_id"], rows())
    with transaction.atomic():
        LedgerHead.objects.update_or_create(
            pk=1, defaults={"seq": target, "hash": prev, "mac": ledger.head_mac(target, prev)}
        )
        for seq, digest in checkpoints:
            LedgerCheckpoint.objects.create(
                day=dt.date(2026, 1, 1) + dt.timedelta(days=seq // 100_000),
                seq=seq,
                hash=digest,
                mac=ledger.head_mac(seq, digest),
            )
    _analyze()
    print(
        f"  ledger {start:,} → {target:,} events in {time.perf_counter() - started:.0f} s",
        flush=True,
    )


def git_revision() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
    except OSError:
        return "?"
