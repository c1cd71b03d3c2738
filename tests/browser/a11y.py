"""axe-core in the browser tests: WCAG 2.1 A and AA (the basis of GB/T 37668).

``assert_accessible(page)`` runs axe-core on the page as it stands and fails on any violation
of impact "serious" or "critical", listing each rule, its help text and the elements it found.
axe-core is vendored (tests/browser/vendor/axe.min.js, MPL-2.0); it is evaluated through the
DevTools protocol, so the site's Content Security Policy (no inline script) stays in force for
the page itself.
"""

from functools import lru_cache
from pathlib import Path

VENDOR = Path(__file__).resolve().parent / "vendor" / "axe.min.js"
#: What axe checks: WCAG 2.0 and 2.1, levels A and AA.
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
BLOCKING = ("serious", "critical")


@lru_cache(maxsize=1)
def _axe_source() -> str:
    return VENDOR.read_text(encoding="utf-8")


def axe_violations(page, *, tags=WCAG_TAGS) -> list[dict]:
    """Every violation axe-core reports on ``page`` for ``tags``."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.evaluate(_axe_source())
    result = page.evaluate(
        """async (tags) => await axe.run(document, {
            runOnly: {type: 'tag', values: tags},
            resultTypes: ['violations'],
        })""",
        tags,
    )
    return result["violations"]


def describe(violations: list[dict]) -> str:
    lines = []
    for violation in violations:
        lines.append(
            f"[{violation['impact']}] {violation['id']}: {violation['help']} "
            f"({violation['helpUrl']})"
        )
        for node in violation["nodes"][:5]:
            lines.append(f"    {' '.join(node['target'])}: {node['failureSummary']}")
    return "\n".join(lines)


def assert_accessible(page, *, context: str = "") -> None:
    """Fail on serious or critical WCAG 2.1 AA violations on the current page."""
    blocking = [v for v in axe_violations(page) if v["impact"] in BLOCKING]
    where = context or page.url
    assert not blocking, f"accessibility violations on {where}:\n{describe(blocking)}"
