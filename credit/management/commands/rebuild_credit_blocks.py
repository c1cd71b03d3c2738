"""``manage.py rebuild_credit_blocks``: derive every pledging block afresh from the records.

The services keep blocks in step; this is for after a restore or a bulk import, and it says
how many blocks it found. Safe to run any time.
"""

from django.core.management.base import BaseCommand

from credit.services import blocks_rebuild


class Command(BaseCommand):
    help = "Derive the pledging blocks from the credit records."

    def handle(self, *args, **options):
        self.stdout.write(f"{blocks_rebuild()} persons are barred from pledging")
