"""Backups (备份) and restores: the database, the media and private files, and a manifest.

One archive ``chengnuo-backup-<time>.tar`` holds:

- ``database.pgdump`` (PostgreSQL, ``pg_dump --format=custom``) or ``database.sqlite3``
  (SQLite's online backup API): a consistent copy taken while the service runs;
- ``media.tar`` (``MEDIA_ROOT``) and ``private.tar`` (``PRIVATE_ROOT``: signatures, printed
  forms, evidence);
- ``manifest.json``: when and from what it was taken, the SHA-256 of every part, the applied
  migrations, the row count of every table, and the facts apps contribute (the credit
  ledger's head: its newest ``seq`` and ``hash``).

Row counts and app facts are read in the same snapshot the dump is taken from (PostgreSQL:
a ``REPEATABLE READ`` transaction whose snapshot ``pg_dump --snapshot`` shares; SQLite: the
backup runs inside the transaction that reads them), so a restore can check it got exactly
what the manifest says.

An app contributes facts with a function ``backup_facts()`` in its ``selectors`` module,
returning a JSON-serialisable dict (``core`` never imports the apps above it; it looks the
function up by name, as ``load_demo`` does with ``demo`` modules).
"""

import datetime as dt
import hashlib
import json
import os
import sqlite3
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass, field
from importlib import import_module
from pathlib import Path

from django import get_version
from django.apps import apps
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.db.migrations.recorder import MigrationRecorder
from django.utils import timezone
from django.utils.module_loading import module_has_submodule

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
CHUNK = 1024 * 1024


class BackupError(Exception):
    """A backup or restore cannot go on; the message says why in one line."""


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


# ---- What the manifest records ---------------------------------------------------------


def project_app_configs():
    """Installed apps that live in this checkout (core, accounts, credit, …), in order."""
    base = Path(settings.BASE_DIR).resolve()
    return [c for c in apps.get_app_configs() if Path(c.path).resolve().is_relative_to(base)]


def app_facts() -> dict:
    """``{app label: selectors.backup_facts()}`` for every app that defines it."""
    facts = {}
    for config in project_app_configs():
        if not module_has_submodule(config.module, "selectors"):
            continue
        selectors = import_module(f"{config.name}.selectors")
        provider = getattr(selectors, "backup_facts", None)
        if callable(provider):
            facts[config.label] = provider()
    return facts


def migration_state(alias: str = DEFAULT_DB_ALIAS) -> dict[str, list[str]]:
    recorder = MigrationRecorder(connections[alias])
    state: dict[str, list[str]] = {}
    for app_label, name in sorted(recorder.applied_migrations()):
        state.setdefault(app_label, []).append(name)
    return state


def row_counts(alias: str = DEFAULT_DB_ALIAS) -> dict[str, int]:
    connection = connections[alias]
    tables = sorted(connection.introspection.table_names())
    counts = {}
    with connection.cursor() as cursor:
        for table in tables:
            cursor.execute(f"SELECT COUNT(*) FROM {connection.ops.quote_name(table)}")
            counts[table] = cursor.fetchone()[0]
    return counts


# ---- Database dump and load ------------------------------------------------------------


def _pg_env_and_args(settings_dict: dict) -> tuple[dict, list[str]]:
    env = {**os.environ}
    if settings_dict.get("PASSWORD"):
        env["PGPASSWORD"] = settings_dict["PASSWORD"]
    options = settings_dict.get("OPTIONS") or {}
    if options.get("sslmode"):
        env["PGSSLMODE"] = options["sslmode"]
    args = []
    for flag, key in (("--host", "HOST"), ("--port", "PORT"), ("--username", "USER")):
        if settings_dict.get(key):
            args += [flag, str(settings_dict[key])]
    args += ["--dbname", settings_dict["NAME"]]
    return env, args


def _run(command: list[str], env: dict) -> None:
    try:
        result = subprocess.run(command, env=env, capture_output=True, text=True)
    except FileNotFoundError as exc:
        raise BackupError(f"{command[0]} is missing: install postgresql-client") from exc
    if result.returncode != 0:
        raise BackupError(f"{command[0]} failed: {result.stderr.strip()[-500:]}")


def _dump_postgresql(connection, target: Path) -> tuple[dict, dict, dict]:
    """Dump within one exported snapshot, and read counts and facts from the same one."""
    env, args = _pg_env_and_args(connection.settings_dict)
    with transaction.atomic(using=connection.alias):
        with connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            cursor.execute("SELECT pg_export_snapshot()")
            snapshot = cursor.fetchone()[0]
        _run(
            ["pg_dump", "--format=custom", f"--snapshot={snapshot}", "--file", str(target)] + args,
            env,
        )
        return row_counts(connection.alias), migration_state(connection.alias), app_facts()


def _dump_sqlite(connection, target: Path) -> tuple[dict, dict, dict]:
    """SQLite's online backup within one read transaction that also reads counts and facts.

    A deferred (read) transaction, not Django's ``atomic`` (``BEGIN IMMEDIATE`` here): the
    backup API cannot copy from a connection that holds the write lock, and a reader in WAL
    mode blocks no writer while it copies.
    """
    if connection.in_atomic_block:
        raise BackupError("run the backup outside a transaction")
    connection.ensure_connection()
    with connection.cursor() as cursor:
        cursor.execute("BEGIN DEFERRED")
    try:
        counts = row_counts(connection.alias)
        state = migration_state(connection.alias)
        facts = app_facts()
        destination = sqlite3.connect(target)
        try:
            connection.connection.backup(destination)
        finally:
            destination.close()
    finally:
        with connection.cursor() as cursor:
            cursor.execute("ROLLBACK")
    return counts, state, facts


def database_is_empty(alias: str = DEFAULT_DB_ALIAS) -> bool:
    return not connections[alias].introspection.table_names()


def _load_postgresql(connection, source: Path, *, clean: bool) -> None:
    env, args = _pg_env_and_args(connection.settings_dict)
    command = ["pg_restore", "--no-owner", "--no-privileges", "--exit-on-error"]
    if clean:
        command += ["--clean", "--if-exists"]
    connection.close()  # pg_restore works on its own connection; ours must not hold locks
    _run(command + args + [str(source)], env)


def _load_sqlite(connection, source: Path) -> None:
    connection.ensure_connection()
    origin = sqlite3.connect(source)
    try:
        origin.backup(connection.connection)
    finally:
        origin.close()


# ---- Files -----------------------------------------------------------------------------


def _tar_folder(folder: Path, target: Path) -> None:
    with tarfile.open(target, "w") as archive:
        if folder.is_dir():
            for entry in sorted(folder.iterdir()):
                archive.add(entry, arcname=entry.name)


def _untar_folder(source: Path, folder: Path) -> int:
    folder.mkdir(parents=True, exist_ok=True)
    with tarfile.open(source) as archive:
        members = archive.getmembers()
        archive.extractall(folder, filter="data")  # no absolute paths, no escapes, no devices
    return sum(1 for m in members if m.isfile())


def _set_aside(folder: Path) -> Path | None:
    """Move a non-empty ``folder`` to ``<folder>.before-restore-<time>`` (never delete it)."""
    if not folder.is_dir() or not any(folder.iterdir()):
        return None
    aside = folder.with_name(f"{folder.name}.before-restore-{timezone.now():%Y%m%d%H%M%S%f}")
    folder.rename(aside)
    return aside


# ---- Backup ----------------------------------------------------------------------------


@dataclass
class BackupResult:
    path: Path
    manifest: dict = field(default_factory=dict)


def backup_create(outdir: Path, *, alias: str = DEFAULT_DB_ALIAS) -> BackupResult:
    """Write one archive into ``outdir`` and return its path and manifest."""
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    connection = connections[alias]
    vendor = connection.vendor
    taken_at = timezone.now()
    name = f"chengnuo-backup-{taken_at.astimezone(dt.UTC):%Y%m%dT%H%M%SZ}"
    with tempfile.TemporaryDirectory(prefix="chengnuo-backup-") as work:
        work = Path(work)
        if vendor == "postgresql":
            database_part = "database.pgdump"
            counts, state, facts = _dump_postgresql(connection, work / database_part)
        elif vendor == "sqlite":
            database_part = "database.sqlite3"
            counts, state, facts = _dump_sqlite(connection, work / database_part)
        else:
            raise BackupError(f"backups of {vendor} databases are not supported")
        # Files after the database: every file a row names was written before its commit.
        _tar_folder(Path(settings.MEDIA_ROOT), work / "media.tar")
        _tar_folder(Path(settings.PRIVATE_ROOT), work / "private.tar")
        parts = [database_part, "media.tar", "private.tar"]
        manifest = {
            "format": FORMAT_VERSION,
            "created_at": taken_at.isoformat(),
            "database": {"vendor": vendor, "part": database_part},
            "django": get_version(),
            "parts": {
                part: {"sha256": sha256_file(work / part), "bytes": (work / part).stat().st_size}
                for part in parts
            },
            "migrations": state,
            "row_counts": counts,
            "facts": facts,
        }
        (work / MANIFEST).write_text(
            json.dumps(manifest, indent=2, ensure_ascii=False, default=str)
        )
        target = outdir / f"{name}.tar"
        partial = outdir / f".{name}.tar.partial"
        with tarfile.open(partial, "w") as archive:
            for part in [MANIFEST, *parts]:
                archive.add(work / part, arcname=part)
        partial.replace(target)  # never a half-written archive under the final name
    return BackupResult(path=target, manifest=manifest)


# ---- Restore ---------------------------------------------------------------------------


def read_verified(archive_path: Path, work: Path) -> dict:
    """Unpack ``archive_path`` into ``work`` and check every part against the manifest."""
    try:
        with tarfile.open(archive_path) as archive:
            archive.extractall(work, filter="data")
    except (tarfile.TarError, OSError) as exc:
        raise BackupError(f"cannot read {archive_path}: {exc}") from exc
    try:
        manifest = json.loads((work / MANIFEST).read_text())
    except (OSError, ValueError) as exc:
        raise BackupError(f"{archive_path} has no readable {MANIFEST}") from exc
    if manifest.get("format") != FORMAT_VERSION:
        raise BackupError(f"unknown backup format {manifest.get('format')!r}")
    for part, expected in manifest["parts"].items():
        path = work / part
        if not path.is_file():
            raise BackupError(f"part {part} is missing from the archive")
        actual = sha256_file(path)
        if actual != expected["sha256"]:
            raise BackupError(f"part {part} is damaged: SHA-256 {actual} != {expected['sha256']}")
    return manifest


@dataclass
class RestoreResult:
    manifest: dict
    files: dict[str, int]
    mismatched_counts: dict[str, tuple[int, int]]
    facts_match: bool


def backup_restore(
    archive_path: Path, *, force: bool = False, alias: str = DEFAULT_DB_ALIAS
) -> RestoreResult:
    """Verify, then load the database and the files; compare counts and facts afterwards."""
    connection = connections[alias]
    with tempfile.TemporaryDirectory(prefix="chengnuo-restore-") as work:
        work = Path(work)
        manifest = read_verified(Path(archive_path), work)
        vendor = manifest["database"]["vendor"]
        if vendor != connection.vendor:
            raise BackupError(
                f"the backup is of a {vendor} database; this one is {connection.vendor}"
            )
        empty = database_is_empty(alias)
        if not empty and not force:
            raise BackupError(
                "the database is not empty: restore into an empty one, or pass --force "
                "to replace what is there"
            )
        database_part = work / manifest["database"]["part"]
        if vendor == "postgresql":
            _load_postgresql(connection, database_part, clean=not empty)
        else:
            _load_sqlite(connection, database_part)
        files = {}
        roots = (("media.tar", settings.MEDIA_ROOT), ("private.tar", settings.PRIVATE_ROOT))
        for part, root in roots:
            _set_aside(Path(root))
            files[part] = _untar_folder(work / part, Path(root))
    counts = row_counts(alias)
    mismatched = {
        table: (expected, counts.get(table, -1))
        for table, expected in manifest["row_counts"].items()
        if counts.get(table, -1) != expected
    }
    facts_match = json.loads(json.dumps(app_facts(), default=str)) == manifest["facts"]
    return RestoreResult(
        manifest=manifest, files=files, mismatched_counts=mismatched, facts_match=facts_match
    )
