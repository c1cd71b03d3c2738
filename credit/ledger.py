"""The hash-chained ledger (账本) of credit events: append, sign the head, verify.

Each row holds ``seq``, ``prev_hash``, the event as canonical JSON text and
``hash = sha256("<seq>\\n<prev_hash>\\n<event>")``. The head row holds the newest ``seq`` and
``hash`` with an HMAC under ``settings.LEDGER_HMAC_KEY``; it is updated in the transaction of
every append under a row lock, so appends are serialised and cutting off the newest rows is
detected (the head would name a row that is gone). Daily checkpoints keep the head as it stood,
so a rewritten history can be compared with what was published.

The ledger holds no clear ID numbers: a person is named by the keyed hash of their number, and
any ID number found in the data of an event is masked before it is written.
"""

import datetime as dt
import decimal
import hashlib
import hmac
import json
import re
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, connections, router, transaction
from django.utils import timezone

from .models import LedgerCheckpoint, LedgerEntry, LedgerHead

GENESIS = "0" * 64

#: Every event the ledger accepts, as English codes.
EVENT_TYPES = frozenset(
    {
        "record.drafted",
        "statement.received",
        "record.confirmed",
        "record.annulled",
        "record.published",
        "record.corrected",
        "objection.filed",
        "objection.upheld",
        "objection.rejected",
        "repair.applied",
        "repair.approved",
        "repair.rejected",
        "publication.stopped",
        "record.expired",
        "record.pushed",
    }
)


class LedgerError(Exception):
    """The ledger cannot take an append (its head is missing while rows exist)."""


def _json_default(value):
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable in a ledger event")


def canonical(event: dict) -> str:
    """Sorted keys, no blanks, UTF-8 text: the same event always gives the same text."""
    return json.dumps(
        event, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_json_default
    )


def entry_hash(seq: int, prev_hash: str, event_text: str) -> str:
    return hashlib.sha256(f"{seq}\n{prev_hash}\n{event_text}".encode()).hexdigest()


def head_mac(seq: int, digest: str, key: str | None = None) -> str:
    key = settings.LEDGER_HMAC_KEY if key is None else key
    return hmac.new(key.encode(), f"{seq}:{digest}".encode(), hashlib.sha256).hexdigest()


_ID_NUMBER = re.compile(r"(?<![0-9A-Za-z])(\d{6})(\d{8})(\d{3}[\dXx])(?![0-9A-Za-z])")


def scrub(value):
    """Mask anything shaped like an 18-character ID number, recursively."""
    if isinstance(value, str):
        return _ID_NUMBER.sub(lambda m: m.group(1) + "*" * 8 + m.group(3).upper(), value)
    if isinstance(value, dict):
        return {str(k): scrub(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [scrub(v) for v in value]
    return value


def actor_code(actor) -> str:
    if actor is not None and getattr(actor, "is_authenticated", False):
        return f"user:{actor.pk}"
    return "system"


def _locked_head() -> LedgerHead:
    head = LedgerHead.objects.select_for_update().filter(pk=1).first()
    if head is not None:
        return head
    try:
        with transaction.atomic():
            LedgerHead.objects.create(pk=1, seq=0, hash=GENESIS, mac=head_mac(0, GENESIS))
    except IntegrityError:
        # A concurrent first append created it (and may have committed events since).
        return LedgerHead.objects.select_for_update().get(pk=1)
    # This transaction created the head and holds it: events without a head were tampered
    # with (a concurrent first append would have collided with the head row instead).
    if LedgerEntry.objects.exists():
        raise LedgerError("the ledger head is missing while the ledger has rows")
    return LedgerHead.objects.select_for_update().get(pk=1)


def append(
    event_type: str,
    *,
    record=None,
    person_hash: str = "",
    actor=None,
    data: dict | None = None,
    at: dt.datetime | None = None,
) -> LedgerEntry:
    """Append one event and move the signed head, in the caller's transaction."""
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown ledger event {event_type!r}")
    if record is not None and not person_hash:
        person_hash = record.person.id_hash
    with transaction.atomic():
        head = _locked_head()
        seq = head.seq + 1
        event = {
            "type": event_type,
            "at": at or timezone.now(),
            "record": record.pk if record is not None else None,
            "person": person_hash,
            "actor": actor_code(actor),
            "data": scrub(data or {}),
        }
        text = canonical(event)
        digest = entry_hash(seq, head.hash, text)
        entry = LedgerEntry.objects.create(
            seq=seq,
            prev_hash=head.hash,
            event=text,
            hash=digest,
            record_id=record.pk if record is not None else None,
        )
        head.seq = seq
        head.hash = digest
        head.mac = head_mac(seq, digest)
        head.updated_at = timezone.now()
        head.save(update_fields=["seq", "hash", "mac", "updated_at"])
    return entry


def events_for(record) -> list[dict]:
    """The ledger events of one record, oldest first, parsed."""
    rows = LedgerEntry.objects.filter(record_id=record.pk).order_by("seq")
    return [{"seq": row.seq, "hash": row.hash, **json.loads(row.event)} for row in rows]


def checkpoint(day: dt.date | None = None) -> LedgerCheckpoint:
    """Keep the head of ``day`` (today) as a checkpoint; a second call returns the first."""
    day = day or timezone.localdate()
    existing = LedgerCheckpoint.objects.filter(day=day).first()
    if existing:
        return existing
    head = LedgerHead.objects.filter(pk=1).first()
    seq, digest = (head.seq, head.hash) if head else (0, GENESIS)
    try:
        with transaction.atomic():
            return LedgerCheckpoint.objects.create(
                day=day, seq=seq, hash=digest, mac=head_mac(seq, digest)
            )
    except IntegrityError:
        return LedgerCheckpoint.objects.get(day=day)


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    checked: int
    head_seq: int
    first_bad_seq: int | None = None
    problem: str = ""

    def as_dict(self) -> dict:
        return {
            "ok": self.ok,
            "checked": self.checked,
            "head_seq": self.head_seq,
            "first_bad_seq": self.first_bad_seq,
            "problem": self.problem,
        }


def stream_rows(*, upto: int | None = None, chunk_size: int = 5000, using: str | None = None):
    """Yield ``(seq, prev_hash, event, hash)`` in order with flat memory.

    On PostgreSQL this is a server-side cursor (the caller holds a transaction so it is not
    materialised ``WITH HOLD``); on SQLite the cursor already reads row by row.
    """
    using = using or router.db_for_read(LedgerEntry)
    connection = connections[using]
    table = connection.ops.quote_name(LedgerEntry._meta.db_table)
    sql = f"SELECT seq, prev_hash, event, hash FROM {table}"  # noqa: S608 - table name only
    params = []
    if upto is not None:
        sql += " WHERE seq <= %s"
        params.append(upto)
    sql += " ORDER BY seq"
    cursor = connection.chunked_cursor()
    try:
        cursor.execute(sql, params)
        while True:
            rows = cursor.fetchmany(chunk_size)
            if not rows:
                break
            yield from rows
    finally:
        cursor.close()


def _read_head(using):
    return LedgerHead.objects.using(using).filter(pk=1).values_list("seq", "hash", "mac").first()


def verify(*, chunk_size: int | None = None, using: str | None = None) -> VerifyResult:
    """Check the whole chain, the checkpoints and the signed head; name the first bad seq.

    Reads the head first and the rows up to it; rows appended meanwhile are covered by a
    newer head, which is read last to tell them from rows added behind the head's back.
    """
    from . import conf

    using = using or router.db_for_read(LedgerEntry)
    chunk_size = chunk_size or conf.verify_chunk_size()
    connection = connections[using]
    if connection.vendor == "postgresql":
        with transaction.atomic(using=using):
            return _verify(chunk_size, using)
    return _verify(chunk_size, using)


def _bad(checked, head_seq, seq, problem) -> VerifyResult:
    return VerifyResult(False, checked, head_seq, seq, problem)


def _verify(chunk_size: int, using: str) -> VerifyResult:
    head = _read_head(using)
    if head is None:
        if LedgerEntry.objects.using(using).exists():
            return _bad(0, 0, 1, "the signed head is missing")
        return VerifyResult(True, 0, 0)
    head_seq, head_hash, mac = head
    if not hmac.compare_digest(mac, head_mac(head_seq, head_hash)):
        return _bad(0, head_seq, head_seq, "the head's signature does not match")

    checkpoints = {}
    for day, seq, digest, cp_mac in LedgerCheckpoint.objects.using(using).values_list(
        "day", "seq", "hash", "mac"
    ):
        if not hmac.compare_digest(cp_mac, head_mac(seq, digest)):
            return _bad(0, head_seq, seq, f"the checkpoint of {day} has a bad signature")
        if seq > head_seq:
            return _bad(0, head_seq, head_seq + 1, f"the checkpoint of {day} lies beyond the head")
        if seq:
            checkpoints[seq] = digest

    sha256 = hashlib.sha256
    expected = 1
    previous = GENESIS
    for seq, prev_hash, event, digest in stream_rows(
        upto=head_seq, chunk_size=chunk_size, using=using
    ):
        if seq != expected:
            return _bad(expected - 1, head_seq, expected, f"row {expected} is missing")
        if prev_hash != previous:
            return _bad(
                seq - 1, head_seq, seq, f"row {seq} does not point to the hash of row {seq - 1}"
            )
        if sha256(f"{seq}\n{prev_hash}\n{event}".encode()).hexdigest() != digest:
            return _bad(seq - 1, head_seq, seq, f"row {seq} does not match its hash")
        published = checkpoints.get(seq)
        if published is not None and published != digest:
            return _bad(seq - 1, head_seq, seq, f"row {seq} differs from its checkpoint")
        previous = digest
        expected += 1
    last = expected - 1
    if last < head_seq:
        return _bad(last, head_seq, last + 1, f"rows from {last + 1} to {head_seq} are missing")
    if previous != head_hash:
        return _bad(last, head_seq, head_seq, f"row {head_seq} does not match the signed head")

    # Rows beyond the head: legitimate only if a newer signed head covers them.
    newest = LedgerEntry.objects.using(using).order_by("-seq").values_list("seq", flat=True).first()
    later = _read_head(using)
    covered = later is not None and hmac.compare_digest(later[2], head_mac(later[0], later[1]))
    if newest is not None and newest > head_seq and not (covered and later[0] >= newest):
        return _bad(last, head_seq, head_seq + 1, "rows were added beyond the signed head")
    return VerifyResult(True, last, head_seq)
