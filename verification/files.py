"""Evidence files: type sniffed from the content (never the name or the browser's word), size
limited, stored in the private storage under a random name, SHA-256 recorded.
"""

import base64
import binascii
import hashlib
import re
import uuid
from dataclasses import dataclass

import filetype
from django.core.files.base import ContentFile
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _

from core.errors import DomainError

from . import conf

_DATA_URI = re.compile(r"^data:[\w.+/-]*(;[\w=.-]+)*;base64,(?P<data>.*)$", re.S)


@dataclass(frozen=True)
class CheckedFile:
    name: str
    content: bytes
    content_type: str
    extension: str
    sha256: str

    @property
    def size(self) -> int:
        return len(self.content)

    def as_content_file(self) -> ContentFile:
        return ContentFile(self.content, name=f"{uuid.uuid4().hex}.{self.extension}")


def decode_data_uri(value: str, *, field: str) -> bytes:
    """The bytes of a ``data:…;base64,…`` URI (its declared type is ignored: we sniff)."""
    match = _DATA_URI.match(value or "")
    if not match:
        raise DomainError(_("A file must be sent as a base64 data URI."), field=field)
    limit = conf.evidence_max_bytes()
    if len(match.group("data")) > (limit * 4) // 3 + 8:
        raise DomainError(
            _("A file is larger than %(limit)s.") % {"limit": filesizeformat(limit)}, field=field
        )
    try:
        return base64.b64decode(match.group("data"), validate=False)
    except (binascii.Error, ValueError) as exc:
        raise DomainError(_("A file cannot be read."), field=field) from exc


def check_bytes(content: bytes, name: str, *, field: str = "evidence") -> CheckedFile:
    limit = conf.evidence_max_bytes()
    name = (name or "file")[-150:]
    if len(content) > limit:
        raise DomainError(_too_big(name, limit), field=field)
    if not content:
        raise DomainError(_("%(name)s is empty.") % {"name": name}, field=field)
    allowed = conf.evidence_types()
    kind = filetype.guess(content[:8192])
    if kind is None or kind.mime not in allowed:
        raise DomainError(
            _("%(name)s is not an image or a PDF file.") % {"name": name}, field=field
        )
    return CheckedFile(
        name=name,
        content=content,
        content_type=kind.mime,
        extension=allowed[kind.mime],
        sha256=hashlib.sha256(content).hexdigest(),
    )


def check_upload(upload, *, field: str = "evidence") -> CheckedFile:
    """Read and check one uploaded file (a Django ``UploadedFile`` or any file object)."""
    limit = conf.evidence_max_bytes()
    name = getattr(upload, "name", "") or "file"
    if getattr(upload, "size", 0) and upload.size > limit:
        raise DomainError(_too_big(name, limit), field=field)
    content = upload.read(limit + 1)
    return check_bytes(content, name, field=field)


def check_uploads(uploads, *, field: str = "evidence") -> list[CheckedFile]:
    uploads = [u for u in (uploads or []) if u]
    if len(uploads) > conf.evidence_max_files():
        raise DomainError(_("At most %(n)d files.") % {"n": conf.evidence_max_files()}, field=field)
    return [check_upload(upload, field=field) for upload in uploads]


def _too_big(name: str, limit: int) -> str:
    return _("%(name)s is larger than %(limit)s.") % {"name": name, "limit": filesizeformat(limit)}
