"""Every resident page passes axe-core (WCAG 2.1 AA) with no serious or critical violation, in
the standard display and in the elderly-friendly one (适老化), which is switchable on every page
and remembered.

Screenshots: ``artifacts/screenshots/a11y-<mode>-<page>.png``.
"""

from urllib.parse import urlparse

import pytest

from core.context_processors import ELDER_COOKIE
from core.notifications import notify
from tests.browser.a11y import assert_accessible, axe_violations
from tests.browser.conftest import PHONE, screenshot, sign_in
from tests.factories import MatterFactory, make_resident, sign_pledge

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

ANONYMOUS_PAGES = {
    "catalog": "/",
    "matter": "/matters/{matter}/",
    "sign-in": "/accounts/login/",
    "register": "/accounts/register/",
}
RESIDENT_PAGES = {
    "catalog-signed-in": "/",
    "matter-sign-form": "/matters/{matter}/",
    "my-pledges": "/pledges/",
    "pledge": "/pledges/{pledge}/",
    "notices": "/notifications/",
}


@pytest.fixture
def world():
    resident = make_resident("a11y-resident", name="钱七")
    matter = MatterFactory(name="申请法律援助", certificate="经济困难证明")
    other = MatterFactory(name="申请低保")
    pledge = sign_pledge(resident, other)
    notify(
        recipient=resident, kind="test", title="您的承诺书已签署", link=f"/pledges/{pledge.number}/"
    )
    return {"resident": resident, "matter": matter.code, "pledge": pledge.number}


def _elder(page, on: bool) -> None:
    if on:
        page.context.add_cookies([{"name": ELDER_COOKIE, "value": "1", "url": page.base}])


def _check_pages(page, pages: dict, world: dict, mode: str) -> None:
    failures = []
    for name, path in pages.items():
        path = path.format(**world)
        page.goto(page.base + path)
        page.wait_for_load_state()
        # The page itself, not a redirect to the sign-in form, in the display asked for.
        assert urlparse(page.url).path == path, f"{name}: landed on {page.url}"
        elder = page.evaluate("() => document.documentElement.classList.contains('elder')")
        assert elder == (mode == "elder"), f"{name}: elder display is {elder} in {mode} mode"
        screenshot(page, f"a11y-{mode}-{name}")
        try:
            assert_accessible(page, context=f"{name} ({mode})")
        except AssertionError as error:
            failures.append(str(error))
    assert not failures, "\n\n".join(failures)


@pytest.mark.parametrize("mode", ["standard", "elder"])
def test_pages_before_signing_in_have_no_serious_violations(page, world, mode):
    _elder(page, mode == "elder")
    _check_pages(page, ANONYMOUS_PAGES, world, mode)


@pytest.mark.parametrize("mode", ["standard", "elder"])
def test_resident_pages_have_no_serious_violations(page, world, mode):
    _elder(page, mode == "elder")
    sign_in(page, "a11y-resident")
    _check_pages(page, RESIDENT_PAGES, world, mode)


def test_the_checker_finds_a_real_violation(page, world):
    """axe-core really runs: a form field without a label is reported as critical."""
    page.goto(page.base + "/accounts/login/")
    page.evaluate("() => document.querySelector('label[for=id_username]').remove()")
    found = {v["id"]: v["impact"] for v in axe_violations(page)}
    assert found.get("label") == "critical"


def _font_size(page, selector="main p") -> float:
    return page.evaluate(
        f"() => parseFloat(getComputedStyle(document.querySelector('{selector}')).fontSize)"
    )


def test_large_text_is_switched_on_any_page_remembered_and_switched_off(page, world):
    matter_url = f"{page.base}/matters/{world['matter']}/"
    page.goto(matter_url)
    standard = _font_size(page)
    page.click("#display-switch")
    page.wait_for_load_state()
    # Back on the same page, large from the first render (the server read the cookie).
    assert page.url == matter_url
    assert page.evaluate("() => document.documentElement.classList.contains('elder')")
    assert _font_size(page) >= standard * 1.25
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"large text makes the page {width}px wide"
    screenshot(page, "a11y-elder-switched-on")

    # Remembered on the next page, including a fresh load.
    page.goto(f"{page.base}/accounts/login/")
    assert page.evaluate("() => document.documentElement.classList.contains('elder')")
    cookie = {c["name"]: c for c in page.context.cookies()}[ELDER_COOKIE]
    assert cookie["expires"] > 0  # kept beyond the browser session

    page.click("#display-switch")
    page.wait_for_load_state()
    assert not page.evaluate("() => document.documentElement.classList.contains('elder')")
    assert ELDER_COOKIE not in {c["name"] for c in page.context.cookies()}


@pytest.mark.parametrize("mode", ["standard", "elder"])
def test_forms_showing_errors_have_no_serious_violations(page, world, mode):
    """Error messages must stay readable and tied to their fields."""
    _elder(page, mode == "elder")
    page.goto(f"{page.base}/accounts/login/")
    page.fill("#id_username", "a11y-resident")
    page.fill("#id_password", "wrong-password")
    page.locator("main form button[type=submit]").click()
    page.wait_for_load_state()
    assert page.locator("main .alert").count() == 1
    assert_accessible(page, context=f"sign-in error ({mode})")

    page.goto(f"{page.base}/accounts/register/")
    page.locator("main button[name=register]").click()
    page.wait_for_load_state()
    assert page.locator("main .errorlist").count() >= 1
    screenshot(page, f"a11y-{mode}-register-errors")
    assert_accessible(page, context=f"register errors ({mode})")

    sign_in(page, "a11y-resident")
    page.goto(f"{page.base}/matters/{world['matter']}/")
    page.click("#sign-submit")  # nothing ticked, no name, no signature
    page.wait_for_load_state()
    assert page.locator("main .errorlist").count() >= 1
    screenshot(page, f"a11y-{mode}-sign-errors")
    assert_accessible(page, context=f"sign form errors ({mode})")
