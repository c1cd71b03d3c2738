"""The private file storage: signatures, scans, evidence, rendered forms, attachments.

Outside the web root; files are served only by views that check who is asking, always as
attachments. Models pass this callable as ``storage=`` so the storage is chosen by settings.
"""

from django.core.files.storage import storages


def private_storage():
    return storages["private"]


def save_replacing(storage, name: str, content) -> str:
    """Store ``content`` (a ``File`` or bytes) under exactly ``name``, replacing what is there.

    For work that may run twice (a redelivered task): a rerun writes the same name again
    instead of leaving the first run's file behind under a suffixed one. On a file system the
    file is written aside and renamed, so a reader (or a worker killed mid-write) never leaves
    half a file under ``name``. Returns ``name``.
    """
    import os
    import uuid

    from django.core.files.base import ContentFile

    if isinstance(content, bytes):
        content = ContentFile(content)
    try:
        final_path = storage.path(name)
    except NotImplementedError:
        # Object stores write whole objects: drop the old one, then write under the same name.
        if storage.exists(name):
            storage.delete(name)
        saved = storage.save(name, content)
        if saved != name:
            raise OSError(f"{name} was stored as {saved}") from None
        return name
    os.makedirs(os.path.dirname(final_path), exist_ok=True)
    temporary = f"{final_path}.{uuid.uuid4().hex}.tmp"
    try:
        with open(temporary, "wb") as handle:
            if hasattr(content, "seek"):
                content.seek(0)
            for chunk in content.chunks() if hasattr(content, "chunks") else [content.read()]:
                handle.write(chunk)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, final_path)
    except BaseException:
        if os.path.exists(temporary):
            os.remove(temporary)
        raise
    return name
