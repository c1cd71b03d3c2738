"""Keys rotate without downtime: encrypted fields re-encrypted in batches, signing keys with
fallbacks, and no key or ID number ever written to a log."""

import io
import logging

import pytest
from cryptography.fernet import Fernet
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.models import TextField
from django.db.models.functions import Cast

from accounts.management.commands.rotate_keys import Command as RotateKeys
from accounts.management.commands.rotate_keys import encrypted_fields
from accounts.models import Person
from core import keys, redact, tokens
from tests.factories import MatterFactory, make_resident, sign_pledge

pytestmark = pytest.mark.django_db

OLD = Fernet.generate_key().decode()
NEW = Fernet.generate_key().decode()


def raw_column(table: str, column: str, pk) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM {table} WHERE id = %s", [pk])
        return cursor.fetchone()[0]


def rotate(*args) -> str:
    out = io.StringIO()
    call_command("rotate_keys", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_rotation_end_to_end(settings):
    settings.FIELD_ENCRYPTION_KEYS = [OLD]
    residents = [make_resident(f"r{i}") for i in range(7)]
    pledge = sign_pledge(residents[0], MatterFactory())
    clear = {p.pk: (p.id_number, p.phone) for p in Person.objects.all()}
    old_token = raw_column("accounts_person", "id_number", residents[0].person.pk)
    assert Fernet(OLD.encode()).decrypt(old_token.encode())

    # 1. The new key first, the old one still accepted: everything reads, new writes use NEW.
    settings.FIELD_ENCRYPTION_KEYS = [NEW, OLD]
    assert {p.pk: (p.id_number, p.phone) for p in Person.objects.all()} == clear
    with pytest.raises(CommandError, match="not yet under the newest key"):
        rotate("--check")

    # 2. Re-encrypt in batches, with progress.
    output = rotate("--batch-size", "3")
    assert "accounts.Person: 3/7 rows checked" in output
    assert "accounts.Person: 7/7 rows checked, 7 re-encrypted" in output
    assert "pledges.Pledge: 1/1 rows checked, 1 re-encrypted" in output
    new_token = raw_column("accounts_person", "id_number", residents[0].person.pk)
    assert new_token != old_token
    assert (
        Fernet(NEW.encode()).decrypt(new_token.encode()).decode()
        == clear[residents[0].person.pk][0]
    )
    rotate("--check")  # nothing left

    # 3. Idempotent: a second run re-encrypts nothing.
    assert "0 re-encrypted" in rotate().splitlines()[-1]

    # 4. The old key removed: everything still decrypts.
    settings.FIELD_ENCRYPTION_KEYS = [NEW]
    assert {p.pk: (p.id_number, p.phone) for p in Person.objects.all()} == clear
    pledge.refresh_from_db()
    assert pledge.applicant_phone == residents[0].person.phone


def test_rotation_discovers_every_encrypted_field_across_apps():
    found = {model._meta.label: names for model, names in encrypted_fields()}
    assert found["accounts.Person"] == ["id_number", "phone"]
    assert "applicant_phone" in found["pledges.Pledge"]


def test_values_no_key_can_read_are_reported_and_fail_the_command(settings):
    settings.FIELD_ENCRYPTION_KEYS = [OLD]
    make_resident("lost")
    settings.FIELD_ENCRYPTION_KEYS = [NEW]  # OLD forgotten too early
    err = io.StringIO()
    with pytest.raises(CommandError, match="cannot be decrypted"):
        call_command("rotate_keys", stdout=io.StringIO(), stderr=err)
    assert "no configured key decrypts it" in err.getvalue()


def test_a_row_changed_during_rotation_keeps_the_newer_value(settings):
    settings.FIELD_ENCRYPTION_KEYS = [OLD]
    person = make_resident("busy").person
    stale = raw_column("accounts_person", "phone", person.pk)
    settings.FIELD_ENCRYPTION_KEYS = [NEW, OLD]
    Person.objects.filter(pk=person.pk).update(phone="13900000000")  # written meanwhile
    raw = {"_raw_phone": Cast("phone", output_field=TextField())}
    command = RotateKeys()
    assert command.write_row(Person, raw, person.pk, {"phone": (stale, "x")}) == 0
    person.refresh_from_db()
    assert person.phone == "13900000000"


# ---- signing keys -------------------------------------------------------------------------


def test_secret_key_rotation_keeps_signed_links_valid(settings):
    settings.SECRET_KEY = "old-secret-key-" + "x" * 40
    token = tokens.make_token("pledge-verify", "CN-2026-000001:abc")
    settings.SECRET_KEY = "new-secret-key-" + "y" * 40
    settings.SECRET_KEY_FALLBACKS = ["old-secret-key-" + "x" * 40]
    assert tokens.check_token("pledge-verify", "CN-2026-000001:abc", token)
    settings.SECRET_KEY_FALLBACKS = []
    assert not tokens.check_token("pledge-verify", "CN-2026-000001:abc", token)


def test_signing_key_rings_sign_with_the_newest_and_verify_with_all(settings):
    settings.LEDGER_HMAC_KEY = "ledger-old-key-0123456789"
    settings.LEDGER_HMAC_KEY_FALLBACKS = []
    signature = keys.hmac_sign("LEDGER_HMAC_KEY", b"head 42")
    settings.LEDGER_HMAC_KEY = "ledger-new-key-9876543210"
    assert not keys.hmac_verify("LEDGER_HMAC_KEY", b"head 42", signature)
    settings.LEDGER_HMAC_KEY_FALLBACKS = ["ledger-old-key-0123456789"]
    assert keys.hmac_verify("LEDGER_HMAC_KEY", b"head 42", signature)
    assert keys.hmac_sign("LEDGER_HMAC_KEY", b"head 42") != signature
    old_id = keys.key_id("ledger-old-key-0123456789")
    assert keys.signing_key_for("LEDGER_HMAC_KEY", old_id) == "ledger-old-key-0123456789"
    assert len(old_id) == 8 and old_id not in "ledger-old-key-0123456789"


def test_fallback_lists_come_from_the_environment(monkeypatch):
    from config.settings import base

    monkeypatch.setenv("EXPORT_SIGNING_KEY_FALLBACKS", " k1-aaaaaaaaaaaa , k2-bbbbbbbbbbbb ,")
    namespace = {}
    base.apply_keys(
        namespace,
        {
            "DJANGO_SECRET_KEY": "s" * 50,
            "FIELD_ENCRYPTION_KEYS": f"{NEW},{OLD}",
            "ID_HASH_KEY": "i" * 40,
            "LEDGER_HMAC_KEY": "l" * 40,
            "EXPORT_SIGNING_KEY": "e" * 40,
        },
    )
    assert namespace["EXPORT_SIGNING_KEY_FALLBACKS"] == ["k1-aaaaaaaaaaaa", "k2-bbbbbbbbbbbb"]
    assert namespace["FIELD_ENCRYPTION_KEYS"] == [NEW, OLD]
    assert namespace["SECRET_KEY_FALLBACKS"] == []


# ---- logs -----------------------------------------------------------------------------------


def test_keys_and_id_numbers_never_reach_a_log_line(settings, caplog):
    number = "11010519491231002X"
    logger = logging.getLogger("chengnuo.test")
    with caplog.at_level(logging.INFO, logger="chengnuo.test"):
        logger.info("secret %s key %s for %s", settings.SECRET_KEY, settings.ID_HASH_KEY, number)
        try:
            raise ValueError(f"bad value {settings.FIELD_ENCRYPTION_KEYS[0]} / {number}")
        except ValueError:
            logger.exception("failed for %s", number)
    text = "\n".join(r.getMessage() + (r.exc_text or "") for r in caplog.records)
    assert settings.SECRET_KEY not in text
    assert settings.ID_HASH_KEY not in text
    assert settings.FIELD_ENCRYPTION_KEYS[0] not in text
    assert number not in text
    assert "110105********002X" in text
    assert text.count(redact.REDACTED) == 3


def test_redaction_leaves_hashes_and_ordinary_numbers_alone():
    digest = "a" * 20 + "110105194912310020" + "b" * 26
    assert redact.redact(digest) == digest
    assert redact.redact("order 12345 at 2026-01-01") == "order 12345 at 2026-01-01"
    assert redact.redact("id=440524188001010014;") == "id=440524********0014;"


def test_structured_log_messages_stay_dicts_but_lose_id_numbers(caplog):
    with caplog.at_level(logging.INFO, logger="chengnuo.test"):
        logging.getLogger("chengnuo.test").info({"event": "lookup", "id": "440524188001010014"})
    assert caplog.records[0].msg == {"event": "lookup", "id": "440524********0014"}
