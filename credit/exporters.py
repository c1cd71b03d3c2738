"""Exporters to the credit information sharing platform (信用信息共享平台).

An exporter takes a batch of record payloads and delivers it, returning a batch name, or raises
to have the batch retried later. ``CHENGNUO_CREDIT_EXPORTER`` names the class. The built-in one
writes signed JSON Lines files to a folder that the platform's collector picks up.
"""

import hashlib
import hmac
import json
import os
import uuid
from pathlib import Path

from django.conf import settings
from django.utils import timezone
from django.utils.module_loading import import_string

from . import conf
from .ledger import canonical


class Exporter:
    """The interface: deliver ``items`` (dicts, each with a unique ``push_id``) or raise."""

    def export(self, items: list[dict]) -> str:
        raise NotImplementedError


def sign(data: bytes, key: str | None = None) -> str:
    key = settings.EXPORT_SIGNING_KEY if key is None else key
    return hmac.new(key.encode(), data, hashlib.sha256).hexdigest()


class JsonLinesFolderExporter(Exporter):
    """``credit-<time>-<id>.jsonl`` (one canonical JSON object per line) and a ``.sig`` file.

    The ``.sig`` file, written last, holds the batch's SHA-256 and its HMAC-SHA256 under
    ``EXPORT_SIGNING_KEY``; a collector takes only batches whose signature is present and
    valid. Both files appear atomically (written aside, then renamed).
    """

    def __init__(self, folder: Path | None = None):
        self.folder = Path(folder or conf.export_dir())

    def export(self, items: list[dict]) -> str:
        self.folder.mkdir(parents=True, exist_ok=True)
        stamp = timezone.now().strftime("%Y%m%dT%H%M%S%fZ")
        name = f"credit-{stamp}-{uuid.uuid4().hex[:8]}.jsonl"
        data = "".join(canonical(item) + "\n" for item in items).encode()
        signature = {
            "batch": name,
            "count": len(items),
            "sha256": hashlib.sha256(data).hexdigest(),
            "hmac_sha256": sign(data),
        }
        self._write(self.folder / name, data)
        self._write(self.folder / f"{name}.sig", canonical(signature).encode())
        return name

    @staticmethod
    def _write(path: Path, data: bytes) -> None:
        temporary = path.with_name(f".{path.name}.tmp")
        with open(temporary, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)


def read_batch(path: Path, key: str | None = None) -> list[dict]:
    """Read a batch after checking its signature (what a collector does); raise if bad."""
    path = Path(path)
    data = path.read_bytes()
    signature = json.loads(Path(f"{path}.sig").read_text())
    if not hmac.compare_digest(signature["hmac_sha256"], sign(data, key)):
        raise ValueError(f"{path.name}: bad signature")
    return [json.loads(line) for line in data.decode().splitlines() if line]


def get_exporter() -> Exporter:
    return import_string(conf.exporter_path())()
