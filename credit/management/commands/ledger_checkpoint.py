"""``manage.py ledger_checkpoint``: keep today's signed head as a checkpoint and print it."""

from django.core.management.base import BaseCommand

from credit import ledger


class Command(BaseCommand):
    help = "Record today's ledger head as a publishable checkpoint."

    def handle(self, *args, **options):
        point = ledger.checkpoint()
        self.stdout.write(f"{point.day} {point.seq} {point.hash}")
