"""A person's copy of everything held about them (个人信息副本): JSON and PDF.

The sections come from ``core.personal_data``, where each app registered its provider; this
module only packs them. Both files are made on request and never stored: a stored copy of
all of someone's data would itself be one more thing to protect and expire.

The PDF is rendered by WeasyPrint from a trusted template with autoescaping, and its URL
fetcher refuses every URL (the template needs none), so no text a person typed can make the
renderer read a file or open a connection. ``accounts`` sits below ``pledges`` and cannot use
its form renderer; this one is small and shares its rules (lazy import, one font
configuration per process, renders serialised).
"""

import functools
import json
import threading

from django.template.loader import render_to_string
from django.utils import timezone

from core.personal_data import collect

FONT_STACK = (
    '"WenQuanYi Micro Hei", "Noto Sans CJK SC", "Source Han Sans SC", "HanaMinA", "HanaMinB", '
    "sans-serif"
)
_render_lock = threading.Lock()


def personal_data(user) -> dict:
    """Everything about the signed-in account and its person, as JSON-ready data."""
    person = user.person if user.person_id else None
    return collect(person, account=user)


def as_json(data: dict) -> bytes:
    return json.dumps(data, ensure_ascii=False, indent=2, sort_keys=False).encode("utf-8")


@functools.cache
def _font_config():
    from weasyprint.text.fonts import FontConfiguration

    return FontConfiguration()


@functools.cache
def _refusing_fetcher_class():
    from weasyprint.urls import URLFetcher

    class RefuseEverything(URLFetcher):
        def __init__(self):
            super().__init__(allowed_protocols=(), allow_redirects=False, fail_on_errors=True)

        def fetch(self, url, headers=None):
            raise ValueError(f"the data export fetches nothing: {url[:80]}")

    return RefuseEverything


def _rows(value, depth=0):
    """Flatten nested data into (label, text) rows for the PDF's tables."""
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, dict | list):
                yield ("  " * depth + str(key), "")
                yield from _rows(item, depth + 1)
            else:
                yield ("  " * depth + str(key), "" if item is None else str(item))
    elif isinstance(value, list):
        for index, item in enumerate(value, start=1):
            if isinstance(item, dict | list):
                yield ("  " * depth + f"#{index}", "")
                yield from _rows(item, depth + 1)
            else:
                yield ("  " * depth + f"#{index}", "" if item is None else str(item))


def as_pdf(data: dict, *, user) -> bytes:
    import weasyprint

    sections = [
        {"name": name, "title": data["titles"].get(name, name), "rows": list(_rows(content))}
        for name, content in data["sections"].items()
    ]
    html = render_to_string(
        "accounts/my_data_pdf.html",
        {
            "sections": sections,
            "generated_at": timezone.localtime(),
            "username": user.get_username(),
            "font_stack": FONT_STACK,
        },
    )
    with _render_lock:
        document = weasyprint.HTML(string=html, url_fetcher=_refusing_fetcher_class()())
        return document.write_pdf(font_config=_font_config())
