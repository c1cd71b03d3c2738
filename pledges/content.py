"""The frozen content of a pledge: what the person saw and signed, and its SHA-256.

Content is canonical JSON (sorted keys, no insignificant blanks, UTF-8), so the same text
always gives the same hash, and anyone holding the paper form can recompute it.
"""

import hashlib
import json

FORM_TITLE_SUFFIX = "证明事项告知承诺书"


def canonical_json(value) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def content_hash(content: dict) -> str:
    return hashlib.sha256(canonical_json(content).encode()).hexdigest()


def form_title(matter_name: str) -> str:
    return f"{matter_name} {FORM_TITLE_SUFFIX}"


def freeze(*, matter, template, applicant: dict, channel: str, signed_at) -> dict:
    """The text a pledge freezes. No clear ID number: the applicant block holds the masked
    number and the keyed hash; the full number stays encrypted on the person."""
    return {
        "title": form_title(matter.name),
        "matter": {
            "code": matter.code,
            "name": matter.name,
            "certificate": matter.certificate,
            "legal_basis": matter.legal_basis,
            "department": matter.department.name,
        },
        "template_version": template.version,
        "notice": template.notice,
        "statements": template.statements,
        "applicant": applicant,
        "authority": matter.department.name,
        "channel": channel,
        "signed_at": signed_at.isoformat(),
    }
