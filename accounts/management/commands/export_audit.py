"""``manage.py export_audit --format csv|json [--person ID] [--staff USER] [--since D] [--until D]``

The audit log for an auditor, oldest first, to standard output or ``--output FILE``. The
person is matched through the keyed hash of the ID number (the log never holds the number).
Running the export is itself recorded in the log (``audit.exported``, actor: the system).
"""

import datetime as dt
import sys

from django.core.management.base import BaseCommand, CommandError

from accounts import id_numbers
from accounts.selectors import audit_events_filtered
from core.audit import audit_record
from core.audit_export import write_csv, write_json


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError as exc:
        raise CommandError(f"not a date (YYYY-MM-DD): {value}") from exc


class Command(BaseCommand):
    help = "Export the audit log as CSV or JSON, filtered by person, staff member and period."

    def add_arguments(self, parser):
        parser.add_argument("--format", choices=("csv", "json"), default="csv")
        parser.add_argument("--person", default="", help="the person's ID number")
        parser.add_argument("--staff", default="", help="a staff member's username")
        parser.add_argument("--since", default="", help="first day, YYYY-MM-DD (included)")
        parser.add_argument("--until", default="", help="last day, YYYY-MM-DD (included)")
        parser.add_argument("--output", default="", help="a file to write (default: stdout)")

    def handle(self, *args, **options):
        person = options["person"]
        if person:
            try:
                person = id_numbers.validate(person)
            except id_numbers.InvalidIdNumber as exc:
                raise CommandError(f"--person: {exc}") from exc
        since = _date(options["since"]) if options["since"] else None
        until = _date(options["until"]) if options["until"] else None
        if since and until and until < since:
            raise CommandError("--until is before --since")
        events = audit_events_filtered(
            person_id_number=person, staff_username=options["staff"], since=since, until=until
        )
        writer = write_csv if options["format"] == "csv" else write_json
        if options["output"]:
            with open(options["output"], "w", encoding="utf-8", newline="") as handle:
                count = writer(events, handle)
        else:
            # The raw stream: OutputWrapper would add a line end to every write.
            count = writer(events, getattr(self.stdout, "_out", sys.stdout))
        audit_record(
            actor=None,
            action="audit.exported",
            data={
                "via": "manage.py export_audit",
                "format": options["format"],
                "person_hash": id_numbers.keyed_hash(person) if person else "",
                "staff": options["staff"],
                "since": options["since"],
                "until": options["until"],
                "rows": count,
            },
        )
        self.stderr.write(f"{count} audit events exported")
