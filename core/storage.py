"""The private file storage: signatures, scans, evidence, rendered forms, attachments.

Outside the web root; files are served only by views that check who is asking, always as
attachments. Models pass this callable as ``storage=`` so the storage is chosen by settings.
"""

from django.core.files.storage import storages


def private_storage():
    return storages["private"]
