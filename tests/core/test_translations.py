"""The Simplified Chinese catalog: complete, compiled, and used by default."""

import re
from collections import Counter
from pathlib import Path

import polib
import pytest
from django.conf import settings
from django.utils import translation

from tests.conftest import client_for
from tests.factories import MatterFactory, make_resident, pledge_body

LC_MESSAGES = Path(settings.BASE_DIR) / "locale" / "zh_Hans" / "LC_MESSAGES"
PO_PATH = LC_MESSAGES / "django.po"
MO_PATH = LC_MESSAGES / "django.mo"

PRINTF = re.compile(r"%(?:\([A-Za-z_][A-Za-z0-9_]*\))?[-#0 +]*\d*(?:\.\d+)?[sdifrx%]")
TAG = re.compile(r"</?[A-Za-z][^>]*>")


def has_chinese(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


def markers(entry: polib.POEntry, text: str) -> Counter:
    found = TAG.findall(text)
    if "python-format" in entry.flags:
        found += PRINTF.findall(text)
    return Counter(found)


def msgstr_of(entry) -> str:
    return entry.msgstr_plural.get(0, "") if entry.msgid_plural else entry.msgstr


@pytest.fixture(autouse=True)
def _restore_language():
    """LocaleMiddleware leaves the request's language active; don't leak English to other tests."""
    language = translation.get_language()
    yield
    translation.activate(language)


@pytest.fixture(scope="module")
def po():
    return polib.pofile(str(PO_PATH))


def test_catalog_has_no_untranslated_or_fuzzy_entries(po):
    untranslated = [e.msgid for e in po.untranslated_entries()]
    fuzzy = [e.msgid for e in po.fuzzy_entries()]
    hint = "run makemessages, translate, compilemessages (see scripts/i18n_fill.py)"
    assert not untranslated, f"untranslated ({hint}): {untranslated[:20]}"
    assert not fuzzy, f"fuzzy ({hint}): {fuzzy[:20]}"
    assert len(po) > 1000


def test_catalog_declares_the_single_chinese_plural_form(po):
    assert po.metadata["Plural-Forms"].replace(" ", "") == "nplurals=1;plural=0;"
    assert not po.metadata_is_fuzzy
    for entry in po:
        if entry.msgid_plural:
            assert entry.msgstr_plural.get(0), entry.msgid


def test_translations_keep_placeholders_and_html_tags(po):
    wrong = []
    for entry in po:
        source = entry.msgid_plural or entry.msgid
        if markers(entry, msgstr_of(entry)) != markers(entry, source):
            wrong.append((entry.msgid, msgstr_of(entry)))
    assert not wrong, wrong[:20]


def test_compiled_catalog_matches_the_po_file(po):
    mo = polib.mofile(str(MO_PATH))
    compiled = {(e.msgctxt, e.msgid): e for e in mo}
    stale = []
    for entry in po.translated_entries():
        found = compiled.get((entry.msgctxt, entry.msgid))
        if found is None or msgstr_of(found) != msgstr_of(entry):
            stale.append(entry.msgid)
    assert not stale, f"django.mo is out of date, run compilemessages: {stale[:20]}"


@pytest.mark.django_db
def test_pages_are_in_chinese_by_default(client):
    response = client.get("/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "证明事项目录" in page
    assert 'lang="zh-hans"' in page


@pytest.mark.django_db
def test_pages_are_in_english_when_the_browser_asks(client):
    page = client.get("/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Catalog of certificate matters" in page
    assert "证明事项目录" not in page


@pytest.mark.django_db
def test_language_cookie_switches_pages_to_english(client):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    page = client.get("/").content.decode()
    assert "Catalog of certificate matters" in page


@pytest.mark.django_db
def test_language_switch_form_sets_english(client):
    response = client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    assert response.status_code == 302
    assert "Catalog of certificate matters" in client.get("/").content.decode()


def _refused_pledge(**headers):
    resident = make_resident()
    matter = MatterFactory()
    client = client_for(resident)
    for name, value in headers.get("cookies", {}).items():
        client.cookies[name] = value
    response = client.post(
        "/api/v1/pledges/",
        pledge_body(resident, matter, statements_accepted=False),
        format="json",
        **headers.get("meta", {}),
    )
    assert response.status_code == 400, response.content
    return response.json()["statements_accepted"][0]


@pytest.mark.django_db
def test_api_errors_are_in_chinese_by_default():
    assert _refused_pledge() == "须接受承诺书中的每一项承诺内容。"


@pytest.mark.django_db
def test_api_errors_are_in_english_with_accept_language():
    message = _refused_pledge(meta={"HTTP_ACCEPT_LANGUAGE": "en"})
    assert message == "Every statement of the pledge must be accepted."


@pytest.mark.django_db
def test_api_errors_are_in_english_with_the_language_cookie():
    message = _refused_pledge(cookies={settings.LANGUAGE_COOKIE_NAME: "en"})
    assert not has_chinese(message)
    assert message == "Every statement of the pledge must be accepted."
