"""The privacy notice (个人信息处理规则), versioned, and the consent given to it.

Each version is a template of its own under ``templates/accounts/privacy/`` and never changes
once published: a new text is a new version (add it to ``NOTICE_VERSIONS`` and point
``CURRENT_VERSION`` at it). A consent stores the version and the SHA-256 of the rendered text,
so the exact words a person agreed to can be shown and checked later (``/accounts/privacy/<v>/``).
The notice is legal text in Chinese, shown as data (not translated).
"""

import functools
import hashlib

from django.template.loader import render_to_string

NOTICE_VERSIONS = {
    "2026-01": "accounts/privacy/notice_2026-01.html",
}
CURRENT_VERSION = "2026-01"


class UnknownVersion(LookupError):
    pass


@functools.cache
def notice_html(version: str = CURRENT_VERSION) -> str:
    try:
        template = NOTICE_VERSIONS[version]
    except KeyError as exc:
        raise UnknownVersion(version) from exc
    return render_to_string(template)


def notice_sha256(version: str = CURRENT_VERSION) -> str:
    return hashlib.sha256(notice_html(version).encode()).hexdigest()
