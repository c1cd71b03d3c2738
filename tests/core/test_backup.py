"""manage.py backup / restore: a restore into an empty database gives everything back."""

import json
import tarfile
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from core.backup import database_is_empty
from core.models import AuditEvent
from credit import ledger
from credit import selectors as credit_selectors
from credit.models import LedgerHead
from pledges.models import Pledge
from tests.factories import MatterFactory, make_resident, sign_pledge

PERSON_HASH = "a" * 64


def _ledger_head_facts():
    head = LedgerHead.objects.filter(pk=1).values("seq", "hash").first()
    return {"ledger_head": head}


@pytest.fixture
def ledger_facts(monkeypatch):
    """The credit app's ``backup_facts`` hook, as core looks it up by name."""
    monkeypatch.setattr(credit_selectors, "backup_facts", _ledger_head_facts, raising=False)


def _backup(outdir: Path) -> Path:
    from io import StringIO

    out = StringIO()
    call_command("backup", str(outdir), stdout=out, stderr=StringIO())
    return Path(out.getvalue().strip().splitlines()[-1])


def _drop_everything():
    """Leave the database with no table at all, as a fresh one."""
    tables = connection.introspection.table_names()
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("DROP SCHEMA public CASCADE")
            cursor.execute("CREATE SCHEMA public")
        else:
            cursor.execute("PRAGMA foreign_keys = OFF")
            for table in tables:
                cursor.execute(f"DROP TABLE {connection.ops.quote_name(table)}")
            cursor.execute("PRAGMA foreign_keys = ON")
    assert database_is_empty()


def _wipe_files():
    for root in (settings.MEDIA_ROOT, settings.PRIVATE_ROOT):
        for path in sorted(Path(root).rglob("*"), reverse=True):
            path.unlink() if path.is_file() else path.rmdir()


@pytest.fixture
def signed_world(db):
    resident = make_resident("backup-resident", name="王五")
    pledge = sign_pledge(resident, MatterFactory())
    for n in range(3):
        ledger.append("record.drafted", person_hash=PERSON_HASH, data={"n": n})
    media = Path(settings.MEDIA_ROOT) / "public" / "notice.txt"
    media.parent.mkdir(parents=True, exist_ok=True)
    media.write_text("公告")
    return pledge


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_restore_into_an_empty_database_gives_back_rows_files_and_a_valid_ledger(
    signed_world, ledger_facts, tmp_path, capsys
):
    pledge = signed_world
    signature_name = pledge.signature.name
    assert signature_name, "the pledge should keep its drawn signature in private storage"
    head = LedgerHead.objects.get(pk=1)
    audit_events = AuditEvent.objects.count()

    archive = _backup(tmp_path / "backups")
    with tarfile.open(archive) as tar:
        manifest = json.load(tar.extractfile("manifest.json"))
    assert manifest["facts"]["credit"]["ledger_head"] == {"seq": head.seq, "hash": head.hash}
    assert manifest["row_counts"]["pledges_pledge"] == 1
    assert "0002_outbox" in manifest["migrations"]["core"]
    assert set(manifest["parts"]) == {
        manifest["database"]["part"],
        "media.tar",
        "private.tar",
    }

    _drop_everything()
    _wipe_files()
    call_command("restore", str(archive))
    assert "row counts and ledger head match the manifest" in capsys.readouterr().out

    restored = Pledge.objects.get(number=pledge.number)
    assert restored.content_sha256 == pledge.content_sha256
    assert restored.person.name == "王五"  # encrypted fields read back with the same keys
    assert AuditEvent.objects.count() == audit_events
    assert restored.signature.storage.exists(signature_name)
    assert (Path(settings.MEDIA_ROOT) / "public" / "notice.txt").read_text() == "公告"
    assert LedgerHead.objects.get(pk=1).hash == head.hash
    call_command("verify_ledger")  # exits non-zero (SystemExit) on a broken ledger


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_restore_refuses_a_database_that_is_not_empty_unless_forced(signed_world, tmp_path):
    archive = _backup(tmp_path)
    sign_pledge(make_resident("after-backup", name="赵六"), MatterFactory())
    assert Pledge.objects.count() == 2
    with pytest.raises(CommandError, match="not empty"):
        call_command("restore", str(archive))
    assert Pledge.objects.count() == 2

    call_command("restore", str(archive), "--force")
    assert Pledge.objects.count() == 1
    # The files that were there are set aside, never deleted.
    aside = list(Path(settings.PRIVATE_ROOT).parent.glob("private.before-restore-*"))
    assert any(p.is_file() for folder in aside for p in folder.rglob("*"))


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_damaged_archive_is_refused_before_anything_is_touched(signed_world, tmp_path):
    archive = _backup(tmp_path / "good")
    unpacked = tmp_path / "unpacked"
    with tarfile.open(archive) as tar:
        tar.extractall(unpacked, filter="data")
    with open(unpacked / "private.tar", "ab") as part:
        part.write(b"\0" * 512)  # still a readable tar, but not the one that was hashed
    damaged = tmp_path / "damaged.tar"
    with tarfile.open(damaged, "w") as tar:
        for path in sorted(unpacked.iterdir()):
            tar.add(path, arcname=path.name)

    set_aside = sorted(Path(settings.PRIVATE_ROOT).parent.glob("*.before-restore-*"))
    with pytest.raises(CommandError, match="private.tar is damaged"):
        call_command("restore", str(damaged), "--force")
    assert Pledge.objects.count() == 1
    assert sorted(Path(settings.PRIVATE_ROOT).parent.glob("*.before-restore-*")) == set_aside
