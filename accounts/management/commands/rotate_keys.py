"""``manage.py rotate_keys``: re-encrypt every encrypted field under the newest key.

Rotation without downtime:

1. Put the new Fernet key first in ``FIELD_ENCRYPTION_KEYS`` (the old one after it) and
   deploy: new writes use the new key, every stored value still decrypts.
2. Run ``manage.py rotate_keys``: it finds every ``EncryptedTextField`` of every model, and
   re-encrypts, in batches by primary key, each stored value not already under the newest key.
3. When it reports nothing left (``--check`` exits 0), drop the old key and deploy again.

Safe to interrupt and run again: values already under the newest key are skipped, and each
row is written only if it still holds the value read (a concurrent edit wins). The values are
rotated as stored tokens (decrypted and re-encrypted by ``MultiFernet.rotate``), never
through the model, so no save signal, history row or ``auto_now`` field is touched.
"""

import time

from cryptography.fernet import Fernet, InvalidToken
from django.apps import apps
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import models, transaction
from django.db.models.functions import Cast

from accounts.crypto import EncryptedTextField, fernet


def encrypted_fields() -> list[tuple[type[models.Model], list[str]]]:
    """Every concrete model with its encrypted columns (history models included)."""
    found = []
    for model in apps.get_models(include_auto_created=True):
        if model._meta.proxy or not model._meta.managed:
            continue
        names = [
            field.attname
            for field in model._meta.concrete_fields
            if isinstance(field, EncryptedTextField)
        ]
        if names:
            found.append((model, names))
    return sorted(found, key=lambda item: item[0]._meta.label)


class Command(BaseCommand):
    help = "Re-encrypt every encrypted field under the newest FIELD_ENCRYPTION_KEYS key."

    def add_arguments(self, parser):
        parser.add_argument("--batch-size", type=int, default=500)
        parser.add_argument(
            "--check",
            action="store_true",
            help="change nothing; exit 1 if any value is not under the newest key",
        )

    def handle(self, *args, **options):
        keys = settings.FIELD_ENCRYPTION_KEYS
        if not keys:
            raise CommandError("FIELD_ENCRYPTION_KEYS is empty")
        self.newest = Fernet(keys[0].encode())
        self.ring = fernet()
        self.check_only = options["check"]
        self.unreadable = 0
        batch_size = max(1, options["batch_size"])
        started = time.monotonic()
        rows = stale = rotated = 0
        for model, names in encrypted_fields():
            counts = self.rotate_model(model, names, batch_size)
            rows += counts[0]
            stale += counts[1]
            rotated += counts[2]
        elapsed = time.monotonic() - started
        verb = "need re-encryption" if self.check_only else "re-encrypted"
        count = stale if self.check_only else rotated
        self.stdout.write(
            f"done in {elapsed:.1f}s: {rows} rows checked, {count} {verb}, "
            f"{self.unreadable} unreadable"
        )
        if self.unreadable:
            raise CommandError(f"{self.unreadable} values cannot be decrypted with any key")
        if self.check_only and stale:
            raise CommandError(f"{stale} rows are not yet under the newest key")

    def rotate_model(self, model, names, batch_size) -> tuple[int, int, int]:
        """Walk ``model`` by primary key in batches; return (rows, stale, re-encrypted)."""
        label = model._meta.label
        # The stored tokens, read past the field's decryption by a cast to plain text.
        raw = {f"_raw_{name}": Cast(name, output_field=models.TextField()) for name in names}
        queryset = model._default_manager.order_by("pk").annotate(**raw)
        total = queryset.count()
        done = stale = rotated = 0
        last_pk = None
        while True:
            page = queryset if last_pk is None else queryset.filter(pk__gt=last_pk)
            batch = list(page.values("pk", *raw)[:batch_size])
            if not batch:
                break
            last_pk = batch[-1]["pk"]
            with transaction.atomic():
                for row in batch:
                    changes = self.row_changes(label, row, names)
                    if not changes:
                        continue
                    stale += 1
                    if not self.check_only:
                        rotated += self.write_row(model, raw, row["pk"], changes)
            done += len(batch)
            self.stdout.write(f"{label}: {done}/{total} rows checked, {rotated} re-encrypted")
        return done, stale, rotated

    def row_changes(self, label, row, names) -> dict[str, tuple[str, str]]:
        """``{field: (stored token, token under the newest key)}`` for the stale fields."""
        changes = {}
        for name in names:
            token = row[f"_raw_{name}"]
            if not token:
                continue
            try:
                self.newest.decrypt(token.encode())
                continue  # already under the newest key
            except InvalidToken:
                pass
            try:
                changes[name] = (token, self.ring.rotate(token.encode()).decode())
            except InvalidToken:
                self.unreadable += 1
                self.stderr.write(f"{label} pk={row['pk']} {name}: no configured key decrypts it")
        return changes

    def write_row(self, model, raw, pk, changes) -> int:
        """Compare-and-set on the stored tokens: if the row changed meanwhile, it wins."""
        guard = model._default_manager.annotate(**{f"_raw_{n}": raw[f"_raw_{n}"] for n in changes})
        guard = guard.filter(pk=pk, **{f"_raw_{n}": old for n, (old, _new) in changes.items()})
        values = {
            n: models.Value(new, output_field=models.TextField())
            for n, (_old, new) in changes.items()
        }
        return guard.update(**values)
