"""The audit log for an auditor: filtered reads and CSV/JSON writers.

Filters by person (the keyed hash of their ID number: the caller computes it, core does not
know ID numbers), staff member (username), and period. Rows stream from the database in
order, so an export of a year's log does not sit in memory.
"""

import csv
import datetime as dt
import json

from django.utils import timezone

from .models import AuditEvent

FIELDS = (
    "id",
    "occurred_at",
    "actor_username",
    "actor_unit",
    "action",
    "object_type",
    "object_id",
    "person_hash",
    "ip",
    "user_agent",
    "data",
)


def _start_of(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def audit_events(
    *,
    person_hashes: list[str] | None = None,
    staff_username: str = "",
    since: dt.date | None = None,
    until: dt.date | None = None,
):
    """Events oldest first; ``since`` and ``until`` are whole local days, both included."""
    qs = AuditEvent.objects.all()
    if person_hashes is not None:
        qs = qs.filter(person_hash__in=person_hashes)
    if staff_username:
        qs = qs.filter(actor_username=staff_username)
    if since:
        qs = qs.filter(occurred_at__gte=_start_of(since))
    if until:
        qs = qs.filter(occurred_at__lt=_start_of(until + dt.timedelta(days=1)))
    return qs.order_by("occurred_at", "id")


def event_row(event: AuditEvent) -> dict:
    return {
        "id": event.pk,
        "occurred_at": timezone.localtime(event.occurred_at).isoformat(),
        "actor_username": event.actor_username,
        "actor_unit": event.actor_unit,
        "action": event.action,
        "object_type": event.object_type,
        "object_id": event.object_id,
        "person_hash": event.person_hash,
        "ip": event.ip or "",
        "user_agent": event.user_agent,
        "data": event.data,
    }


def _csv_safe(value: str) -> str:
    """Spreadsheets run cells that start with = + - @ as formulas: prefix a quote."""
    if value and value[0] in "=+-@\t\r":
        return "'" + value
    return value


class _Line:
    """A file-like object that hands back what ``csv.writer`` writes."""

    def write(self, text):
        return text


def iter_csv(events):
    """The CSV text, one row at a time (a header first)."""
    writer = csv.writer(_Line())
    yield writer.writerow(FIELDS)
    for event in events.iterator(chunk_size=2000):
        row = event_row(event)
        row["data"] = json.dumps(row["data"], ensure_ascii=False, sort_keys=True)
        yield writer.writerow([_csv_safe(str(row[field])) for field in FIELDS])


def iter_json(events):
    """A JSON array, one element at a time."""
    yield "["
    first = True
    for event in events.iterator(chunk_size=2000):
        yield ("\n" if first else ",\n") + json.dumps(
            event_row(event), ensure_ascii=False, sort_keys=True
        )
        first = False
    yield "]\n" if first else "\n]\n"


def write_csv(events, stream) -> int:
    count = -1  # the header is not an event
    for line in iter_csv(events):
        stream.write(line)
        count += 1
    return count


def write_json(events, stream) -> int:
    count = 0
    for part in iter_json(events):
        stream.write(part)
        count += 1
    return max(count - 2, 0)  # the opening and closing brackets are not events
