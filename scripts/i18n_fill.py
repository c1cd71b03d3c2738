"""Fill and check the Simplified Chinese catalog (locale/zh_Hans/LC_MESSAGES/django.po).

Usage (from the project root):

    .venv/bin/python scripts/i18n_fill.py check
        List untranslated and fuzzy entries, and translations whose placeholders
        (%(name)s, %s, %%, {name}) or HTML tags differ from the msgid. Exit 1 if any.

    .venv/bin/python scripts/i18n_fill.py todo [FILE]
        Write the untranslated and fuzzy msgids as a JSON object {msgid: ""} (to FILE or
        stdout), ready to be filled in.

    .venv/bin/python scripts/i18n_fill.py fill FILE.json [FILE.json ...]
        Set msgstr (msgstr[0] for plurals) from JSON objects {msgid: translation}. A
        translation whose placeholders or tags differ from the msgid is refused. Filled
        entries lose their fuzzy flag. Existing translations are replaced only if the
        JSON gives a different one.

The header is kept in order: Language zh_Hans, Plural-Forms nplurals=1; plural=0;, no fuzzy flag.
After filling, run `.venv/bin/python manage.py compilemessages --ignore=.venv`.
"""

from __future__ import annotations

import json
import re
import sys
from collections import Counter
from datetime import datetime
from pathlib import Path

import polib

ROOT = Path(__file__).resolve().parent.parent
PO_PATH = ROOT / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"

PRINTF = re.compile(r"%(?:\([A-Za-z_][A-Za-z0-9_]*\))?[-#0 +]*\d*(?:\.\d+)?[sdifrx%]")
BRACE = re.compile(r"\{[A-Za-z_][A-Za-z0-9_]*\}")
TAG = re.compile(r"</?[A-Za-z][^>]*>")


def markers(entry: polib.POEntry, text: str) -> Counter:
    found: list[str] = TAG.findall(text)
    if "python-format" in entry.flags:
        found += PRINTF.findall(text)
    if "python-brace-format" in entry.flags:
        found += BRACE.findall(text)
    return Counter(found)


def problems(entry: polib.POEntry) -> list[str]:
    """What is wrong with the translation of ``entry`` (empty if nothing)."""
    if entry.obsolete or not entry.msgid:
        return []
    out = []
    if entry.msgid_plural:
        translations = [entry.msgstr_plural.get(0, "")]
        sources = [entry.msgid, entry.msgid_plural]
    else:
        translations = [entry.msgstr]
        sources = [entry.msgid]
    if not all(t.strip() for t in translations):
        out.append("untranslated")
    if "fuzzy" in entry.flags:
        out.append("fuzzy")
    wanted = markers(entry, sources[-1])
    # A singular msgid may omit the count ("one item"); the plural form never does.
    for text in translations:
        if text and markers(entry, text) != wanted:
            out.append(
                f"placeholders/tags differ: {sorted(wanted)} vs {sorted(markers(entry, text))}"
            )
    return out


def fix_header(po: polib.POFile) -> None:
    po.metadata["Project-Id-Version"] = "chengnuo"
    po.metadata["PO-Revision-Date"] = datetime.now().astimezone().strftime("%Y-%m-%d %H:%M%z")
    po.metadata["Language"] = "zh_Hans"
    po.metadata["Language-Team"] = "Simplified Chinese"
    po.metadata["Last-Translator"] = "Chengnuo team"
    po.metadata["Plural-Forms"] = "nplurals=1; plural=0;"
    po.metadata["Content-Type"] = "text/plain; charset=UTF-8"
    po.metadata_is_fuzzy = False
    po.header = "Simplified Chinese (zh-hans) catalog of Chengnuo. Fill with scripts/i18n_fill.py."


def cmd_check(po: polib.POFile) -> int:
    bad = 0
    for entry in po:
        for problem in problems(entry):
            bad += 1
            print(f"{entry.occurrences[:1]} {entry.msgid!r}: {problem}")
    print(f"{len(po)} entries, {bad} problems", file=sys.stderr)
    return 1 if bad else 0


def cmd_todo(po: polib.POFile, target: str | None) -> int:
    todo = {
        e.msgid: "" for e in po if not e.obsolete and ("fuzzy" in e.flags or not e.translated())
    }
    text = json.dumps(todo, ensure_ascii=False, indent=1)
    if target:
        Path(target).write_text(text + "\n", encoding="utf-8")
    else:
        print(text)
    print(f"{len(todo)} entries to translate", file=sys.stderr)
    return 0


def cmd_fill(po: polib.POFile, files: list[str]) -> int:
    translations: dict[str, str] = {}
    for name in files:
        translations.update(json.loads(Path(name).read_text(encoding="utf-8")))
    by_id = {e.msgid: e for e in po if not e.obsolete}
    refused = filled = 0
    for msgid, text in translations.items():
        entry = by_id.get(msgid)
        if entry is None or not text:
            continue
        old = (entry.msgstr, dict(entry.msgstr_plural), list(entry.flags))
        if entry.msgid_plural:
            entry.msgstr_plural = {0: text}
        else:
            entry.msgstr = text
        if "fuzzy" in entry.flags:
            entry.flags.remove("fuzzy")
        entry.previous_msgid = entry.previous_msgid_plural = entry.previous_msgctxt = None
        wrong = [p for p in problems(entry) if p.startswith("placeholders")]
        if wrong:
            entry.msgstr, entry.msgstr_plural, entry.flags = old[0], old[1], old[2]
            refused += 1
            print(f"refused {msgid!r} -> {text!r}: {wrong[0]}")
        else:
            filled += 1
    fix_header(po)
    po.save()
    left = sum(1 for e in po if problems(e))
    print(f"filled {filled}, refused {refused}, entries with problems left {left}", file=sys.stderr)
    return 1 if refused else 0


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in {"check", "todo", "fill"}:
        print(__doc__)
        return 2
    po = polib.pofile(str(PO_PATH), wrapwidth=79)
    if argv[0] == "check":
        return cmd_check(po)
    if argv[0] == "todo":
        return cmd_todo(po, argv[1] if len(argv) > 1 else None)
    return cmd_fill(po, argv[1:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
