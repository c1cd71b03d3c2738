"""Rendering printed forms (打印承诺书) with WeasyPrint: HTML in, PDF bytes out.

A pure rendering module: no database, no storage. Three rules keep it safe and fast:

- **Nothing is fetched from outside.** The URL fetcher allows ``data:`` URIs (the QR code, the
  drawn signature) and the project's own static files, nothing else, with redirects off and
  every refusal fatal: a template that points anywhere else fails the render instead of
  leaking a local file into the PDF. User text reaches the HTML only through Django's
  autoescaping, so a name such as ``<img src="file:///etc/passwd">`` prints as text.
- **One font configuration per process.** Font objects created per render made memory climb
  to 300–500 MB within 30 renders when measured for STYLE.md; with one shared
  ``FontConfiguration`` a rendering process stays flat (bench/print_bench.py: about 210 MB
  after 10 prints, the same after 500). Renders are serialised by a lock because Pango's font
  map is not thread-safe (rendering is CPU-bound under the GIL anyway).
- **WeasyPrint is imported lazily** (0.4–0.8 s), so a web process that never prints does not
  pay for it at start-up or on its first request elsewhere.
"""

from __future__ import annotations

import base64
import functools
import mimetypes
import threading
from pathlib import Path
from urllib.parse import unquote_to_bytes, urlsplit

from django.conf import settings

# Relative and root-relative URLs in form templates (``{% static %}``) resolve against this
# origin; the fetcher maps it to the project's static files and never opens a connection.
STATIC_BASE_URL = "https://static.chengnuo.invalid/"

# The CSS font stack, named explicitly (fontconfig picks per character, in this order):
# - WenQuanYi Micro Hei first: the two-copy form with a drawn signature is about 78 KB with
#   it, about 350 KB with Noto Sans CJK SC first (bench/print_bench.py; the limit is 150 KB);
# - HanaMinA and HanaMinB next: CJK Extension A and B, the rare name characters (𠮷) that
#   WenQuanYi lacks. Before Noto on purpose: Noto has a few Extension B characters too, and
#   one of them would pull 100+ KB of Noto into the file;
# - Noto Sans CJK SC / Source Han Sans SC last, for whatever the others miss.
FONT_FAMILIES = (
    "WenQuanYi Micro Hei",
    "HanaMinA",
    "HanaMinB",
    "Noto Sans CJK SC",
    "Source Han Sans SC",
)

# Tagged PDF for screen readers (issue 8): WeasyPrint's PDF/UA-1 variant turns on ``pdf_tags``
# (a structure tree from the HTML: headings, paragraphs, lists, tables, figures with their
# ``alt``), marks the document as tagged, takes ``/Lang`` from ``<html lang>``, shows the
# ``<title>`` as the window title and declares PDF/UA-1 in the XMP metadata. With our fonts
# (embedded subsets) it renders without a warning and adds about 6 KB to the two-copy form.
ACCESSIBLE_VARIANT = "pdf/ua-1"

# What a form may take from the static files: style sheets, images and fonts.
STATIC_SUFFIXES = {".css", ".png", ".jpg", ".jpeg", ".svg", ".ttf", ".otf", ".woff", ".woff2"}

_render_lock = threading.Lock()


class RenderError(Exception):
    """A form could not be rendered (a refused resource, a broken template)."""


def font_stack_css() -> str:
    return ", ".join(f'"{name}"' for name in FONT_FAMILIES) + ", sans-serif"


@functools.cache
def _weasyprint():
    import weasyprint

    return weasyprint


@functools.cache
def font_config():
    """The process's one ``FontConfiguration`` (see the module docstring)."""
    from weasyprint.text.fonts import FontConfiguration

    return FontConfiguration()


def _static_file(url: str) -> Path | None:
    """The local path of ``url`` if it names one of the project's static files."""
    static_prefix = STATIC_BASE_URL + settings.STATIC_URL.lstrip("/")
    if not url.startswith(static_prefix):
        return None
    parts = urlsplit(url)
    if parts.query or parts.fragment:
        return None
    relative = unquote_to_bytes(url[len(static_prefix) :]).decode("utf-8", "strict")
    if not relative or "\\" in relative or "\x00" in relative:
        return None
    if Path(relative).suffix.lower() not in STATIC_SUFFIXES:
        return None
    from django.contrib.staticfiles import finders
    from django.core.exceptions import SuspiciousFileOperation

    try:
        # The finders join safely: ``..`` out of a static folder raises, it never escapes.
        found = finders.find(relative)
    except SuspiciousFileOperation:
        return None
    if not found or not Path(found).is_file():
        return None
    return Path(found)


def _decode_data_uri(url: str) -> tuple[str, bytes]:
    header, sep, payload = url[len("data:") :].partition(",")
    if not sep:
        raise ValueError("malformed data: URI")
    params = header.split(";")
    mime = params[0] or "text/plain"
    if "base64" in params[1:]:
        return mime, base64.b64decode(payload, validate=False)
    return mime, unquote_to_bytes(payload)


@functools.cache
def fetcher_class():
    """``StaticOnlyURLFetcher``, built on first use so WeasyPrint is imported lazily."""
    from weasyprint.urls import URLFetcher, URLFetcherResponse

    class StaticOnlyURLFetcher(URLFetcher):
        """Allows ``data:`` URIs and the project's static files; refuses everything else.

        Redirects are off and ``fail_on_errors`` is on, so a refused URL stops the render
        (``FatalURLFetchingError``) instead of printing a form with a hole in it.
        """

        def __init__(self):
            super().__init__(
                allowed_protocols=("data", "https"),
                allow_redirects=False,
                fail_on_errors=True,
                timeout=1,
            )

        def fetch(self, url, headers=None):
            if url.startswith("data:"):
                mime, body = _decode_data_uri(url)
                return URLFetcherResponse(url, body, {"Content-Type": mime})
            path = _static_file(url)
            if path is None:
                raise ValueError(f"refused by the form's URL fetcher: {url[:100]}")
            mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
            return URLFetcherResponse(url, path.read_bytes(), {"Content-Type": mime})

    return StaticOnlyURLFetcher


def url_fetcher():
    return fetcher_class()()


def render_pdf(html: str, *, title: str = "", accessible: bool = False) -> bytes:
    """Render trusted ``html`` (a Django template's output) to PDF bytes.

    ``accessible`` makes a tagged PDF in the PDF/UA-1 variant (``ACCESSIBLE_VARIANT``), so a
    screen reader reads it in order, in the document's language, with the images' alt text.
    The HTML must then carry ``<html lang>`` and a ``<title>`` (WeasyPrint logs an error
    without the language).

    Raises ``RenderError`` when the URL fetcher refuses a resource (the render stops there).
    """
    weasyprint = _weasyprint()
    from weasyprint.urls import FatalURLFetchingError

    options = {"pdf_variant": ACCESSIBLE_VARIANT} if accessible else {}
    with _render_lock:
        try:
            document = weasyprint.HTML(
                string=html, base_url=STATIC_BASE_URL, url_fetcher=url_fetcher()
            )
            return document.write_pdf(font_config=font_config(), **options)
        except FatalURLFetchingError as exc:
            cause = exc.__cause__ or exc
            raise RenderError(f"{title or 'form'}: {cause}") from exc
