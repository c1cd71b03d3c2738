"""Browser journeys of printing: the window clerk prints, records paper pledges, and anyone
checks a form through its QR link. Screenshots go to artifacts/screenshots/."""

import io
import re

import pytest

from pledges import selectors
from pledges.models import Pledge
from tests.browser.conftest import screenshot, sign_in
from tests.factories import (
    MatterFactory,
    make_resident,
    make_staff,
    sign_at_window,
    sign_pledge,
    totp_code,
)

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


@pytest.fixture(autouse=True)
def role_groups(transactional_db):
    """The role groups the migrations create, whatever ran before.

    A transactional test that ran before the browser started (e.g. the concurrency tests)
    flushes them, and once Playwright's loop runs, Django keeps this thread's connection in
    asgiref's context storage, which lacks the serialized data to restore them from.
    """
    from django.contrib.auth.models import Group

    from accounts.roles import ALL_ROLES

    for name in ALL_ROLES:
        Group.objects.get_or_create(name=name)


@pytest.fixture
def clerk(role_groups):
    return make_staff("window_clerk", "window-clerk")


def sign_in_staff(page, user) -> None:
    """Password, then the second factor when the site asks for it."""
    sign_in(page, user.username)
    if "/login/code/" in page.url:
        page.fill("#id_code", totp_code(user))
        page.locator("#id_code").locator("xpath=ancestor::form").locator("button").first.click()
        page.wait_for_load_state()
    assert "/accounts/login" not in page.url, page.url


def fetch_pdf(page, href: str) -> bytes:
    """GET a link with the page's cookies (headless Chromium downloads PDFs, never shows them)."""
    response = page.request.get(href if href.startswith("http") else page.base + href)
    assert response.status == 200, response.status
    assert response.headers["content-type"] == "application/pdf"
    body = response.body()
    assert body.startswith(b"%PDF-")
    return body


def test_clerk_finds_a_pledge_by_number_and_prints_it(page, clerk):
    resident = make_resident(name="张三")
    # Recorded at this hall's window: the clerk's scope (docs/access.md).
    pledge = sign_at_window(clerk, resident.person, MatterFactory(name="最低生活保障申请"))
    sign_in_staff(page, clerk)

    page.goto(f"{page.base}/window/")
    page.fill("input[name=q]", pledge.number)
    page.click("form.search-form button[type=submit]")
    page.wait_for_selector(".print-link")
    screenshot(page, "window-find-pledge")

    body = fetch_pdf(page, page.get_attribute(".print-link", "href"))

    assert len(body) > 10_000
    assert Pledge.objects.get(pk=pledge.pk).pdf.name


def test_clerk_prints_a_blank_form(page, clerk):
    MatterFactory(name="居住证申领", code="JY-GA-009")
    sign_in_staff(page, clerk)

    page.goto(f"{page.base}/window/")
    page.click("#link-blank")
    page.fill("input[name=q]", "居住证")
    page.click("form.search-form button[type=submit]")
    link = page.locator("a.blank-form-link")
    assert link.count() == 1
    screenshot(page, "window-blank-forms")

    fetch_pdf(page, link.get_attribute("href"))


def test_clerk_records_a_pledge_signed_on_paper(page, clerk):
    from PIL import Image

    matter = MatterFactory(name="低收入家庭认定")
    scan = io.BytesIO()
    Image.new("RGB", (120, 170), "white").save(scan, "JPEG")
    sign_in_staff(page, clerk)

    page.goto(f"{page.base}/window/")
    page.click("#link-paper")
    page.select_option("#id_matter", matter.code)
    page.fill("#id_name", "赵六")
    page.fill("#id_id_number", "11010519491231002X")
    page.fill("#id_phone", "13900000002")
    page.fill("#id_address", "沁园街道示范路3号")
    page.check("#id_wet_signature")
    page.set_input_files(
        "#id_scan", {"name": "scan.jpg", "mimeType": "image/jpeg", "buffer": scan.getvalue()}
    )
    screenshot(page, "window-paper-pledge-form")
    page.click("#paper-submit")
    page.wait_for_url(re.compile(r".*/window/\?q=CN-\d{4}-\d{6}$"))
    screenshot(page, "window-paper-pledge-recorded")

    pledge = Pledge.objects.get()
    assert pledge.channel == "window" and pledge.paper_scan.name
    assert pledge.number in page.inner_text(".messages")
    fetch_pdf(page, page.get_attribute(".print-link", "href"))


def test_batch_printing_shows_progress_and_yields_one_pdf(page, clerk):
    matter = MatterFactory()
    for name in ("甲一", "乙二", "丙三"):
        sign_at_window(clerk, make_resident(name=name).person, matter)
    sign_in_staff(page, clerk)

    page.goto(f"{page.base}/window/batch/")
    page.click("#batch-submit")
    page.wait_for_load_state()
    page.wait_for_selector("#batch-download", state="visible")
    assert page.get_attribute("#batch-progress", "value") == "3"
    screenshot(page, "window-batch-done")

    fetch_pdf(page, page.get_attribute("#batch-download", "href"))


def test_verify_page_for_a_real_and_a_forged_link(page):
    pledge = sign_pledge(make_resident(name="王小明"), MatterFactory(name="居住证申领"))
    path = selectors.verify_path(pledge)

    page.goto(page.base + path)
    assert page.inner_text("#verify-number") == pledge.number
    assert page.inner_text("#verify-name") == "王*明"
    assert page.inner_text("#verify-hash") == pledge.content_sha256
    screenshot(page, "verify-real")

    forged = path[:-3] + ("AA/" if not path.endswith("AA/") else "BB/")
    response = page.goto(page.base + forged)
    assert response.status == 404
    assert page.locator("#verify-result.alert").is_visible()
    assert page.locator("#verify-number").count() == 0
    screenshot(page, "verify-forged")


def test_progress_bar_follows_a_running_batch_until_the_pdf_is_ready(page, clerk):
    from core.models import BackgroundJob
    from pledges import printing

    pledge = sign_pledge(make_resident(name="丁四"), MatterFactory())
    job = BackgroundJob.objects.create(
        kind=printing.BATCH_KIND,
        owner=clerk,
        total=1,
        status=BackgroundJob.Status.RUNNING,
        params={"numbers": [pledge.number]},
    )
    sign_in_staff(page, clerk)
    errors = []
    page.on("console", lambda message: message.type == "error" and errors.append(message.text))

    page.goto(f"{page.base}/window/batch/{job.pk}/")
    assert page.get_attribute("#batch-progress", "value") == "0"
    assert page.locator("#batch-download").is_hidden()
    printing.batch_print_run(job_id=job.pk)  # the worker finishes while the page polls

    page.wait_for_selector("#batch-download", state="visible")
    assert page.evaluate("document.getElementById('batch-progress').value") == 1
    assert not errors, errors  # e.g. a script refused by the Content Security Policy
    screenshot(page, "window-batch-progress")
    fetch_pdf(page, page.get_attribute("#batch-download", "href"))
