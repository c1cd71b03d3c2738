"""Uploaded files of hearings, objections and repair applications.

The type is sniffed from the content (never trusted from the name or the browser), the size
is limited, and the file goes to the private storage under a random name.
"""

import hashlib
import uuid
from dataclasses import dataclass

import filetype
from django.core.files.base import ContentFile
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _

from core.errors import DomainError

from . import conf


@dataclass(frozen=True)
class CheckedFile:
    name: str
    content: bytes
    content_type: str
    extension: str
    sha256: str


def check_uploads(files, *, field: str = "files") -> list[CheckedFile]:
    """Read and check each upload; raise ``DomainError`` on ``field`` for the first bad one."""
    files = [f for f in (files or []) if f]
    if len(files) > conf.upload_max_files():
        raise DomainError(_("At most %(n)d files.") % {"n": conf.upload_max_files()}, field=field)
    allowed = conf.upload_types()
    limit = conf.upload_max_bytes()
    checked = []
    for upload in files:
        name = (getattr(upload, "name", "") or "file")[-150:]
        if getattr(upload, "size", 0) and upload.size > limit:
            raise DomainError(_too_big(name, limit), field=field)
        content = upload.read(limit + 1)
        if len(content) > limit:
            raise DomainError(_too_big(name, limit), field=field)
        if not content:
            raise DomainError(_("%(name)s is empty.") % {"name": name}, field=field)
        kind = filetype.guess(content[:8192])
        if kind is None or kind.mime not in allowed:
            raise DomainError(
                _("%(name)s is not a PDF, PNG or JPEG file.") % {"name": name}, field=field
            )
        checked.append(
            CheckedFile(
                name=name,
                content=content,
                content_type=kind.mime,
                extension=allowed[kind.mime],
                sha256=hashlib.sha256(content).hexdigest(),
            )
        )
    return checked


def _too_big(name: str, limit: int) -> str:
    return _("%(name)s is larger than %(limit)s.") % {"name": name, "limit": filesizeformat(limit)}


def store(*, record, checked: list[CheckedFile], uploaded_by, **owner) -> list:
    """Save checked files as attachments of ``record`` and one owner (statement=…, …)."""
    from .models import Attachment

    attachments = []
    for item in checked:
        attachment = Attachment(
            record=record,
            original_name=item.name,
            content_type=item.content_type,
            size=len(item.content),
            sha256=item.sha256,
            uploaded_by=uploaded_by if getattr(uploaded_by, "is_authenticated", False) else None,
            **owner,
        )
        attachment.file.save(
            f"{uuid.uuid4().hex}.{item.extension}", ContentFile(item.content), save=False
        )
        attachment.save()
        attachments.append(attachment)
    return attachments


def evidence(attachments) -> list[dict]:
    """What the ledger keeps of files: names, types and hashes, never the content."""
    return [
        {"name": a.original_name, "type": a.content_type, "size": a.size, "sha256": a.sha256}
        for a in attachments
    ]
