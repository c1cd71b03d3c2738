"""Every resident page passes axe-core (WCAG 2.1 AA) with no serious or critical violation, in
the standard display and in the elderly-friendly one (适老化), which is switchable on every page
and remembered.

Screenshots: ``artifacts/screenshots/a11y-<mode>-<page>.png``.
"""

import datetime as dt
from urllib.parse import urlparse

import pytest

from accounts import roles
from core.context_processors import ELDER_COOKIE
from core.notifications import notify
from credit import services as credit_services
from oversight import demo as guide_demo
from oversight import selectors as oversight_selectors
from oversight import services as oversight_services
from pledges import selectors as pledge_selectors
from tests.browser.a11y import assert_accessible, axe_violations
from tests.browser.conftest import PHONE, screenshot, sign_in
from tests.credit.factories import confirmed, draft
from tests.factories import MatterFactory, make_resident, make_staff, sign_pledge
from tests.verification.conftest import make_plan
from verification import services as verification_services
from verification.models import PromiseTerm

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

# Every page a resident or any member of the public reaches (the resident navigation, the
# footer's links, the QR code on a printed form), each with content in it, not an empty state.
ANONYMOUS_PAGES = {
    "catalog": "/",
    "matter": "/matters/{matter}/",
    "sign-in": "/accounts/login/",
    "register": "/accounts/register/",
    "password-reset": "/accounts/password-reset/",
    "password-reset-code": "/accounts/password-reset/confirm/",
    "privacy": "/accounts/privacy/",
    "verify": "{verify}",
    "verify-forged-link": "{verify_forged}",
    "guides": "/guides/",
    "guide": "/guides/{guide}/",
    "complaint-new": "/complaints/new/",
    "complaint-track-lookup": "/complaints/track/",
    "complaint-track": "{complaint_track}",
    "published-cases": "/notices/",
    "published-credit-records": "/credit/public/",
    "spot-check-results": "/spot-checks/",
}
RESIDENT_PAGES = {
    "catalog-signed-in": "/",
    "matter-sign-form": "/matters/{matter}/",
    "my-pledges": "/pledges/",
    "pledge": "/pledges/{pledge}/",
    "notices": "/notifications/",
    "my-credit": "/credit/",
    "credit-record-in-hearing": "/credit/records/{record_in_hearing}/",
    "my-checks": "/checks/my/",
    "my-data": "/accounts/my-data/",
    "privacy-signed-in": "/accounts/privacy/",
    "guide-signed-in": "/guides/{guide}/",
}
# A resident with a confirmed false pledge: barred from pledging, may object or apply for repair.
BARRED_RESIDENT_PAGES = {
    "barred-matter": "/matters/{matter}/",
    "barred-my-credit": "/credit/",
    "credit-record-confirmed": "/credit/records/{record_confirmed}/",
}

# What must be on a page for its check to cover it (forms shown only in some states).
MUST_SHOW = {
    "matter-sign-form": ["#sign-submit"],
    "credit-record-in-hearing": ["#statement-form"],
    "credit-record-confirmed": ["#objection-form", "#repair-form", "#access-title"],
    "my-checks": ["form[action$='/material/']", "form[action*='/checks/promises/']"],
    "my-data": ["#download-json", "#download-pdf"],
    "complaint-new": ["#complaint-form"],
}


@pytest.fixture(autouse=True)
def _repair_at_once(settings):
    """Repair may be applied for at once, so a confirmed record's page shows every form."""
    settings.CHENGNUO_CREDIT_PERIODS = {"general": {"min_months": 0}}


@pytest.fixture
def world():
    resident = make_resident("a11y-resident", name="钱七")
    matter = MatterFactory(name="申请法律援助", certificate="经济困难证明")
    other = MatterFactory(name="申请低保")
    PromiseTerm.objects.create(
        template=other.current_template(),
        key="document",
        text="30日内补交收入证明",
        deadline_days=30,
    )
    pledge = sign_pledge(resident, other)
    checked = sign_pledge(resident, matter)
    notify(
        recipient=resident, kind="test", title="您的承诺书已签署", link=f"/pledges/{pledge.number}/"
    )
    # A spot check of one of the resident's pledges ("my checks", the public results).
    make_staff(roles.VERIFICATION_OFFICER, "a11y-officer", unit=matter.department)
    plan = make_plan(matter=matter, ratio="1")
    draw = verification_services.draw_execute(
        plan=plan, cutoff=checked.signed_at + dt.timedelta(seconds=1)
    )
    verification_services.draw_follow_up(draw_id=draw.pk)
    # Credit records: one in its hearing period (the resident may still pledge), and one
    # confirmed and read by the credit office, of another resident (who is barred).
    credit_officer = make_staff(roles.CREDIT_OFFICER, "a11y-credit")
    in_hearing = draft(resident.person, matter_name=matter.name)
    barred = make_resident("a11y-barred", name="孙八")
    record = confirmed(barred.person, credit_officer, matter_name=other.name)
    credit_services.record_view(record=record, actor=credit_officer, reason="受理信用修复申请")
    # A service guide and a complaint followed with its tracking link.
    guide = guide_demo.guide_create_default(matter)
    complaint = oversight_services.complaint_file(
        data={
            "agency": "某街道办事处",
            "certificate": "居住证明",
            "description": "窗口要求提供已取消的证明。",
            "occurred_on": dt.date.today() - dt.timedelta(days=1),
        },
        actor=resident,
    )
    verify = pledge_selectors.verify_path(pledge)
    return {
        "resident": resident,
        "matter": matter.code,
        "pledge": pledge.number,
        "record_in_hearing": in_hearing.pk,
        "record_confirmed": record.pk,
        "guide": guide.matter.code,
        "complaint_track": oversight_selectors.complaint_track_path(complaint),
        "verify": verify,
        "verify_forged": verify.rstrip("/").rsplit("/", 1)[0] + "/forged-token/",
    }


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
        for selector in MUST_SHOW.get(name, []):
            assert page.locator(selector).count(), f"{name}: nothing matches {selector}"
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


@pytest.mark.parametrize("mode", ["standard", "elder"])
def test_pages_of_a_barred_resident_have_no_serious_violations(page, world, mode):
    _elder(page, mode == "elder")
    sign_in(page, "a11y-barred")
    _check_pages(page, BARRED_RESIDENT_PAGES, world, mode)


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

    page.goto(f"{page.base}/credit/records/{world['record_in_hearing']}/")
    # The browser's own check stops an empty statement: let the server's answer show.
    page.evaluate("() => { document.getElementById('statement-form').noValidate = true; }")
    page.locator("#statement-form button[type=submit]").click()  # no text
    page.wait_for_load_state()
    assert page.locator("#statement-form .errorlist").count() >= 1
    assert_accessible(page, context=f"credit statement errors ({mode})")

    page.goto(f"{page.base}/complaints/new/")
    page.locator("#complaint-form button[type=submit]").click()  # nothing filled in
    page.wait_for_load_state()
    assert page.locator("#complaint-form .errorlist").count() >= 1
    screenshot(page, f"a11y-{mode}-complaint-errors")
    assert_accessible(page, context=f"complaint form errors ({mode})")
