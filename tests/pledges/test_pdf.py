"""The printed pledge form: what it says, which fonts it embeds, what it refuses to fetch.

Every test here fails on any warning from the ``weasyprint`` logger, and reads the PDF with
poppler (pdftotext, pdffonts, pdfdetach, pdfimages) the way a person or an auditor would.
"""

import io
import logging
import re
import subprocess
from pathlib import Path

import pytest

from pledges import pdf, printing
from pledges.models import MaskedCopy, PledgeTemplate
from pledges.notice import default_notice, default_statements
from pledges.services import pledge_sign, template_new_version, template_publish
from tests.factories import MatterFactory, make_resident, make_staff, sign_pledge

pytestmark = pytest.mark.django_db

APPLICANT_LABEL = printing.APPLICANT_COPY_LABEL
AUTHORITY_LABEL = printing.AUTHORITY_COPY_LABEL


# ---- helpers shared with the other printing tests ---------------------------------------


def poppler(tool: str, data: bytes, tmp_path: Path, *args: str) -> str:
    path = tmp_path / f"form-{abs(hash(data))}.pdf"
    path.write_bytes(data)
    result = subprocess.run(
        [tool, *args, str(path), *(["-"] if tool == "pdftotext" else [])],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return result.stdout


def pdf_text(data: bytes, tmp_path: Path) -> str:
    return poppler("pdftotext", data, tmp_path, "-enc", "UTF-8")


def copies_text(data: bytes, tmp_path: Path) -> dict[str, str]:
    """The text of each copy, keyed by its label (pages carry their copy's label)."""
    copies: dict[str, str] = {}
    for page in pdf_text(data, tmp_path).split("\f"):
        labels = re.findall(
            rf"{AUTHORITY_LABEL}(?:（[一二三四五六七八九十]+）)?|{APPLICANT_LABEL}", page
        )
        if labels:
            copies[labels[0]] = copies.get(labels[0], "") + page
    return copies


def squeeze(text: str) -> str:
    """Text without white space, so words wrapped across lines compare whole."""
    return re.sub(r"\s+", "", text)


def embedded_fonts(data: bytes, tmp_path: Path) -> list[dict]:
    lines = poppler("pdffonts", data, tmp_path).splitlines()[2:]
    fonts = []
    for line in lines:
        # name type... encoding emb sub uni object ID: the flags are the 5th–3rd from last.
        parts = line.split()
        fonts.append({"name": parts[0], "emb": parts[-5], "sub": parts[-4]})
    return fonts


def attachments(data: bytes, tmp_path: Path) -> int:
    first_line = poppler("pdfdetach", data, tmp_path, "-list").splitlines()[0]
    return int(re.match(r"(\d+) embedded files", first_line).group(1))


def image_uses(data: bytes, tmp_path: Path) -> list[str]:
    """The object ID of every image drawn (masks left out), one entry per use."""
    rows = [line.split() for line in poppler("pdfimages", data, tmp_path, "-list").splitlines()]
    return [row[10] for row in rows[2:] if row[2] == "image"]


@pytest.fixture(autouse=True)
def no_weasyprint_warnings(caplog):
    """Fail any rendering test on a warning (or worse) from WeasyPrint."""
    caplog.set_level(logging.WARNING, logger="weasyprint")
    yield
    records = caplog.get_records("setup") + caplog.get_records("call")
    problems = [r for r in records if r.name.startswith("weasyprint")]
    assert not problems, [r.getMessage() for r in problems]


def real_matter(**kwargs):
    """A matter whose published text is the full default notice of DOMAIN.md §1."""
    matter = MatterFactory(name="最低生活保障申请", with_template=False, **kwargs)
    template = template_new_version(
        matter=matter, notice=default_notice(matter), statements=default_statements(matter)
    )
    template_publish(template=template)
    return matter


# ---- what the form says -----------------------------------------------------------------


def test_each_copy_prints_matter_applicant_and_number(tmp_path):
    resident = make_resident(name="张三丰")
    matter = real_matter()
    pledge = sign_pledge(resident, matter)

    copies = copies_text(printing.pledge_form_render(pledge), tmp_path)

    assert set(copies) == {APPLICANT_LABEL, AUTHORITY_LABEL}
    for text in copies.values():
        flat = squeeze(text)
        assert "最低生活保障申请证明事项告知承诺书" in flat
        assert "张三丰" in flat
        assert pledge.number in flat
        assert pledge.content_sha256 in flat
        assert "第一部分告知" in flat and "第二部分承诺" in flat


def test_every_notice_element_and_statement_of_the_frozen_text_is_printed(tmp_path):
    resident = make_resident()
    pledge = sign_pledge(resident, real_matter())

    flat = squeeze(pdf_text(printing.pledge_form_render(pledge), tmp_path))

    for section in pledge.content["notice"]:
        assert squeeze(section["title"]) in flat
        assert squeeze(section["body"])[:40] in flat
    for statement in pledge.content["statements"]:
        assert squeeze(statement["text"]) in flat


def test_form_prints_the_frozen_text_never_the_current_template(tmp_path):
    resident = make_resident()
    matter = real_matter()
    pledge = sign_pledge(resident, matter)
    newer = template_new_version(
        matter=matter,
        notice=[{"key": "matter", "title": "事项名称", "body": "改版后的告知文本"}],
        statements=[{"key": "informed", "text": "改版后的承诺语句"}],
    )
    template_publish(template=newer)

    flat = squeeze(pdf_text(printing.pledge_form_render(pledge), tmp_path))

    assert "改版后的" not in flat
    assert squeeze(pledge.content["notice"][1]["body"])[:30] in flat
    assert "文本版本：第1版" in flat


@pytest.mark.parametrize(
    ("masked_on", "masked_copies"),
    [
        (MaskedCopy.APPLICANT, {APPLICANT_LABEL}),
        (MaskedCopy.AUTHORITY, {AUTHORITY_LABEL}),
        (MaskedCopy.BOTH, {APPLICANT_LABEL, AUTHORITY_LABEL}),
        (MaskedCopy.NONE, set()),
    ],
)
def test_id_number_is_masked_on_the_copies_the_catalog_says(tmp_path, masked_on, masked_copies):
    resident = make_resident()
    person = resident.person
    pledge = sign_pledge(resident, MatterFactory(id_masked_on=masked_on))

    copies = copies_text(printing.pledge_form_render(pledge), tmp_path)

    for label, text in copies.items():
        if label in masked_copies:
            assert person.id_masked in text
            assert person.id_number not in text
        else:
            assert person.id_number in text


@pytest.mark.parametrize(("copies", "labels"), [(1, 1), (2, 2), (3, 3)])
def test_number_of_copies_follows_the_matter(tmp_path, copies, labels):
    resident = make_resident()
    pledge = sign_pledge(resident, MatterFactory(form_copies=copies))

    printed = copies_text(printing.pledge_form_render(pledge), tmp_path)

    assert len(printed) == labels
    assert (APPLICANT_LABEL in printed) is (copies > 1)


def test_default_is_two_copies_from_settings(tmp_path, settings):
    settings.CHENGNUO_FORM_COPIES = 2
    pledge = sign_pledge(make_resident(), MatterFactory())

    assert set(copies_text(printing.pledge_form_render(pledge), tmp_path)) == {
        APPLICANT_LABEL,
        AUTHORITY_LABEL,
    }


def test_qr_and_printed_link_point_to_the_absolute_verify_url(tmp_path, settings):
    settings.CHENGNUO_PUBLIC_BASE_URL = "https://chengnuo.example.gov.cn/"
    pledge = sign_pledge(make_resident(), MatterFactory())

    context = printing.pledge_form_context(pledge)

    expected = f"https://chengnuo.example.gov.cn/verify/{pledge.number}/"
    assert context["verify_url"].startswith(expected)
    assert context["qr_uri"] == printing.qr_data_uri(context["verify_url"])
    assert context["qr_uri"].startswith("data:image/svg+xml")
    assert expected in squeeze(pdf_text(printing.pledge_form_render(pledge), tmp_path))


def test_drawn_signature_is_printed_as_an_image(tmp_path):
    pledge = sign_pledge(make_resident(), MatterFactory())

    data = printing.pledge_form_render(pledge)

    # Drawn on each copy, stored once (the QR code is vector graphics, not an image).
    uses = image_uses(data, tmp_path)
    assert len(uses) == 2
    assert len(set(uses)) == 1


def test_pledge_signed_on_paper_gets_a_line_for_the_wet_signature(tmp_path):
    from django.core.files.base import ContentFile

    clerk = make_staff("window_clerk")
    matter = MatterFactory()
    pledge = pledge_sign(
        matter=matter,
        applicant={"name": "赵六", "id_number": "11010519491231002X"},
        actor=clerk,
        statements_accepted=True,
        typed_name="赵六",
        channel="window",
        paper_scan=ContentFile(b"%PDF-1.4\n%%EOF\n", name="scan.pdf"),
    )

    data = printing.pledge_form_render(pledge)

    assert image_uses(data, tmp_path) == []
    assert "窗口签署" in squeeze(pdf_text(data, tmp_path))


def test_blank_form_has_code_and_version_but_no_number(tmp_path):
    matter = real_matter(code="JY-BLANK-1")

    data = pdf.render_pdf(printing.blank_form_html(matter))

    flat = squeeze(pdf_text(data, tmp_path))
    assert "最低生活保障申请证明事项告知承诺书" in flat
    assert "JY-BLANK-1" in flat
    assert "文本版本：第1版" in flat
    assert not re.search(r"CN-\d{4}-\d{6}", flat)
    assert "内容摘要" not in flat
    assert squeeze(default_statements(matter)[0]["text"]) in flat


# ---- tagged PDF for screen readers (PDF/UA-1) ----------------------------------------------


def structure(data: bytes) -> tuple[dict, list[dict]]:
    """The catalog of ``data`` and every element of its structure tree, depth first."""
    from pypdf import PdfReader

    catalog = PdfReader(io.BytesIO(data)).trailer["/Root"]
    elements = []

    def walk(node):
        node = node.get_object()
        if not isinstance(node, dict) or "/S" not in node:
            return  # a marked-content id or an object reference, not an element
        elements.append(node)
        kids = node.get("/K")
        for kid in kids if isinstance(kids, list) else [kids] if kids is not None else []:
            walk(kid)

    if "/StructTreeRoot" in catalog:
        root = catalog["/StructTreeRoot"].get_object()
        for kid in root["/K"] if isinstance(root["/K"], list) else [root["/K"]]:
            walk(kid)
    return catalog, elements


def test_printed_form_is_a_tagged_pdf_ua_document_in_chinese_with_its_title():
    from pypdf import PdfReader

    pledge = sign_pledge(make_resident(name="张三丰"), real_matter())

    data = printing.pledge_form_render(pledge)

    catalog, elements = structure(data)
    assert catalog["/MarkInfo"]["/Marked"].value is True
    assert "/StructTreeRoot" in catalog
    assert catalog["/Lang"] == "zh-CN"
    assert catalog["/ViewerPreferences"]["/DisplayDocTitle"].value is True
    reader = PdfReader(io.BytesIO(data))
    title = reader.metadata.title
    assert "证明事项告知承诺书" in title and title.endswith(pledge.number)
    assert 'pdfuaid:part="1"' in catalog["/Metadata"].get_object().get_data().decode()
    # A reader finds the document's structure, copy by copy: the title, the parts, the list
    # of statements and the applicant table.
    kinds = [element["/S"] for element in elements]
    assert kinds.count("/H1") == 2
    assert kinds.count("/H2") == 4
    assert {"/Document", "/Sect", "/P", "/L", "/LI", "/Table", "/TH", "/TD"} <= set(kinds)


def test_signature_and_qr_code_are_figures_with_alt_text():
    pledge = sign_pledge(make_resident(name="张三丰"), real_matter())

    _, elements = structure(printing.pledge_form_render(pledge))

    alts = [element.get("/Alt") for element in elements if element["/S"] == "/Figure"]
    verify_url = printing.public_verify_url(pledge)
    signature = f"承诺人手写签名：{pledge.typed_name}"
    assert alts == [signature, f"核验二维码，链接：{verify_url}"] * 2


def test_blank_form_is_tagged_too():
    matter = real_matter(code="JY-BLANK-2")

    with printing.open_stored(printing.blank_form_get(matter=matter)) as handle:
        catalog, elements = structure(handle.read())

    assert catalog["/MarkInfo"]["/Marked"].value is True
    assert catalog["/Lang"] == "zh-CN"
    assert [e["/S"] for e in elements].count("/H1") == 2
    assert not [e for e in elements if e["/S"] == "/Figure"]  # no image without its alt


# ---- fonts --------------------------------------------------------------------------------


def test_cjk_font_is_embedded_and_subset(tmp_path):
    pledge = sign_pledge(make_resident(name="李四"), real_matter())

    fonts = embedded_fonts(printing.pledge_form_render(pledge), tmp_path)

    assert any("WenQuanYi" in font["name"] for font in fonts), fonts
    for font in fonts:
        assert font["emb"] == "yes" and font["sub"] == "yes", font
        # A subset font is named with a six-letter tag: ABCDEF+Name.
        assert re.match(r"^[A-Z]{6}\+", font["name"]), font


def test_extension_b_name_character_prints_as_a_glyph(tmp_path):
    resident = make_resident(name="王𠮷明")
    pledge = sign_pledge(resident, MatterFactory())

    data = printing.pledge_form_render(pledge)

    assert "王𠮷明" in pdf_text(data, tmp_path)
    fonts = [font["name"] for font in embedded_fonts(data, tmp_path)]
    assert any("HanaMin" in name for name in fonts), fonts


# ---- injection and the URL fetcher --------------------------------------------------------

INJECTIONS = [
    '<img src="file:///etc/passwd">',
    '<link rel=attachment href="file:///etc/passwd">',
    '<link rel="stylesheet" href="http://127.0.0.1:9/x.css">',
]


@pytest.mark.parametrize("name", INJECTIONS)
def test_injection_names_print_as_text_and_embed_nothing(tmp_path, name):
    resident = make_resident(name=name)
    pledge = sign_pledge(resident, MatterFactory())

    data = printing.pledge_form_render(pledge)

    text = pdf_text(data, tmp_path)
    assert squeeze(name) in squeeze(text)
    assert "root:" not in text
    assert b"root:x:0:0" not in data
    assert attachments(data, tmp_path) == 0


def test_attachment_check_would_see_an_embedded_file(tmp_path):
    """The control for the test above: a trusted ``data:`` attachment is listed."""
    html = (
        '<html><head><meta charset="utf-8">'
        '<link rel="attachment" href="data:text/plain;base64,aGVsbG8=" title="a.txt">'
        "</head><body><p>x</p></body></html>"
    )

    assert attachments(pdf.render_pdf(html), tmp_path) == 1


@pytest.mark.parametrize(
    "html",
    [
        '<img src="file:///etc/passwd">',
        '<img src="http://127.0.0.1:9/x.png">',
        '<link rel="stylesheet" href="https://example.com/x.css">',
        '<link rel="attachment" href="file:///etc/passwd">',
        '<img src="/static/../../../etc/passwd">',
        '<style>@font-face { font-family: x; src: url("file:///etc/passwd"); }</style>',
    ],
)
def test_fetcher_refusal_fails_the_render(html):
    with pytest.raises(pdf.RenderError):
        pdf.render_pdf(f'<html><head><meta charset="utf-8"></head><body>{html}</body></html>')


def test_fetcher_serves_data_uris_and_own_static_files_only():
    fetcher = pdf.url_fetcher()
    static = pdf.STATIC_BASE_URL + "static/css/site.css"

    assert fetcher.fetch("data:text/plain;base64,aGk=").read() == b"hi"
    assert b"body" in fetcher.fetch(static).read()
    for url in [
        "file:///etc/passwd",
        "http://127.0.0.1:8000/static/css/site.css",
        pdf.STATIC_BASE_URL + "static/%2e%2e/%2e%2e/config/settings/base.py",
        pdf.STATIC_BASE_URL + "static/../pyproject.toml",
        pdf.STATIC_BASE_URL + "etc/passwd",
        pdf.STATIC_BASE_URL + "static/css/missing.css",
    ]:
        with pytest.raises(ValueError):
            fetcher.fetch(url)


def test_own_static_image_renders_without_warning(tmp_path, settings):
    import io

    from PIL import Image

    static = tmp_path / "static"
    static.mkdir()
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), "red").save(buffer, "PNG")
    (static / "seal.png").write_bytes(buffer.getvalue())
    settings.STATICFILES_DIRS = [*settings.STATICFILES_DIRS, str(static)]
    html = (
        '<html><head><meta charset="utf-8"></head><body><img src="/static/seal.png"></body></html>'
    )

    data = pdf.render_pdf(html)

    assert len(image_uses(data, tmp_path)) == 1


def test_font_configuration_is_one_per_process():
    assert pdf.font_config() is pdf.font_config()


def test_unpublished_matter_text_change_does_not_touch_a_signed_pledge(tmp_path):
    resident = make_resident()
    matter = MatterFactory()
    pledge = sign_pledge(resident, matter)
    PledgeTemplate.objects.filter(matter=matter).update(
        notice=[{"key": "x", "title": "篡改", "body": "篡改的告知"}]
    )

    assert "篡改" not in pdf_text(printing.pledge_form_render(pledge), tmp_path)


# ---- the start-up check for fonts and HarfBuzz ---------------------------------------------


@pytest.fixture
def fresh_checks():
    from core import checks

    for probe in (
        checks.cjk_font_families,
        checks.extension_b_font_families,
        checks.harfbuzz_subset_available,
    ):
        probe.cache_clear()
    yield checks
    for probe in (
        checks.cjk_font_families,
        checks.extension_b_font_families,
        checks.harfbuzz_subset_available,
    ):
        probe.cache_clear()


def test_system_check_is_quiet_on_a_machine_with_the_fonts_and_harfbuzz(fresh_checks):
    assert fresh_checks.printing_prerequisites() == []


def test_system_check_warns_without_cjk_fonts_or_harfbuzz_subset(fresh_checks, monkeypatch):
    monkeypatch.setattr(fresh_checks.shutil, "which", lambda name: None)
    monkeypatch.setattr(fresh_checks.ctypes.util, "find_library", lambda name: None)
    monkeypatch.setattr(fresh_checks.glob, "glob", lambda pattern: [])

    warnings = fresh_checks.printing_prerequisites()

    assert [w.id for w in warnings] == ["chengnuo.W001", "chengnuo.W002", "chengnuo.W003"]
    assert all("fonts-hanazono" in w.hint and "libharfbuzz-subset0" in w.hint for w in warnings)


def test_system_check_is_registered_with_django():
    from django.core import checks as django_checks

    from core.checks import printing_prerequisites

    assert printing_prerequisites in django_checks.registry.registry.get_checks()
