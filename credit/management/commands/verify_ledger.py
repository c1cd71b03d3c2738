"""``manage.py verify_ledger``: exit 0 when chain, checkpoints and signed head agree.

Otherwise exit 1 and name the first bad sequence number. Streams the rows: memory stays flat
however long the ledger grows.
"""

import sys

from django.core.management.base import BaseCommand

from credit import ledger


class Command(BaseCommand):
    help = "Verify the hash-chained credit ledger and its signed head."

    def add_arguments(self, parser):
        parser.add_argument("--chunk-size", type=int, default=None)

    def handle(self, *args, **options):
        result = ledger.verify(chunk_size=options["chunk_size"])
        if result.ok:
            self.stdout.write(
                f"ledger ok: {result.checked} events, head at sequence {result.head_seq}"
            )
            return
        self.stderr.write(
            f"ledger broken at sequence {result.first_bad_seq}: {result.problem} "
            f"({result.checked} events verified before it)"
        )
        sys.exit(1)
