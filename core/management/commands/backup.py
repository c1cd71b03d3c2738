"""``manage.py backup OUTDIR``: one archive with the database, the files and a manifest.

See ``core/backup.py`` for what the archive holds. Prints the archive's path on the last line,
so a script can pick it up: ``archive=$(manage.py backup /srv/backups | tail -1)``.
"""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from core.backup import BackupError, backup_create


class Command(BaseCommand):
    help = "Back up the database, MEDIA_ROOT and PRIVATE_ROOT into one verified archive."

    def add_arguments(self, parser):
        parser.add_argument("outdir", type=Path, help="folder to write the archive into")
        parser.add_argument("--database", default="default", help="database alias")

    def handle(self, *args, outdir, database, **options):
        try:
            result = backup_create(outdir, alias=database)
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        manifest = result.manifest
        rows = sum(manifest["row_counts"].values())
        size = sum(part["bytes"] for part in manifest["parts"].values())
        self.stderr.write(
            f"backed up {len(manifest['row_counts'])} tables ({rows} rows), "
            f"{size} bytes in {len(manifest['parts'])} parts"
        )
        for label, facts in manifest["facts"].items():
            self.stderr.write(f"  {label}: {facts}")
        self.stdout.write(str(result.path))
