"""``manage.py restore BACKUP``: check every part's SHA-256, then load the database and files.

Refuses a database that already has tables unless ``--force``. Files already in
``MEDIA_ROOT``/``PRIVATE_ROOT`` are moved aside (``<folder>.before-restore-<time>``), never
deleted. Afterwards the row counts and the apps' facts (the credit ledger's head) are compared
with the manifest; a difference exits non-zero. Run ``manage.py migrate`` after restoring a
backup taken by an older release, then ``manage.py verify_ledger``.
"""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from core.backup import BackupError, backup_restore


class Command(BaseCommand):
    help = "Restore an archive written by `manage.py backup` (verifies its hashes first)."

    def add_arguments(self, parser):
        parser.add_argument("archive", type=Path, help="the .tar written by `manage.py backup`")
        parser.add_argument(
            "--force", action="store_true", help="replace a database that is not empty"
        )
        parser.add_argument("--database", default="default", help="database alias")

    def handle(self, *args, archive, force, database, **options):
        if not archive.is_file():
            raise CommandError(f"{archive} does not exist")
        try:
            result = backup_restore(archive, force=force, alias=database)
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        manifest = result.manifest
        self.stdout.write(
            f"restored the backup of {manifest['created_at']}: "
            f"{len(manifest['row_counts'])} tables, "
            + ", ".join(f"{n} files from {part}" for part, n in result.files.items())
        )
        if result.mismatched_counts:
            detail = ", ".join(
                f"{table} {expected}→{found}"
                for table, (expected, found) in sorted(result.mismatched_counts.items())
            )
            raise CommandError(f"row counts differ from the manifest: {detail}")
        if not result.facts_match:
            raise CommandError("the restored facts (ledger head) differ from the manifest")
        self.stdout.write("row counts and ledger head match the manifest")
