"""Browser journeys of oversight: a resident reports an agency that demanded a needless
certificate and follows the case; the bureau forwards and closes it; the quarterly dashboard
renders with its charts. Screenshots go to artifacts/screenshots/."""

import datetime as dt

import pytest
from django.utils import timezone

from accounts.models import Unit
from oversight.models import Complaint
from tests.browser.conftest import screenshot
from tests.factories import (
    MatterFactory,
    UnitFactory,
    make_resident,
    make_staff,
    sign_pledge,
    totp_code,
)
from tests.oversight.conftest import PNG_BYTES

pytestmark = pytest.mark.django_db(transaction=True)


def sign_in(page, user, password: str = "pass-Word-123") -> None:
    """Password, then the authenticator code (staff sign in with a second step)."""
    page.goto(f"{page.base}/accounts/login/")
    page.fill("#id_username", user.username)
    page.fill("#id_password", password)
    page.locator("main form button[type=submit]").click()
    page.wait_for_load_state()
    if "/accounts/login/code/" in page.url:
        page.fill("#id_code", totp_code(user))
        page.locator("main form button[type=submit]").first.click()
        page.wait_for_load_state()
    assert "/accounts/login" not in page.url, page.url


@pytest.fixture
def officer(db):
    bureau = UnitFactory(code="BUREAU", name="市民政局监督科", kind=Unit.Kind.BUREAU)
    UnitFactory(code="JR", name="市金融工作局", kind=Unit.Kind.DEPARTMENT)
    return make_staff("oversight_officer", "bureau-officer", unit=bureau)


def test_a_resident_reports_and_follows_the_bureau_forwards_and_closes(page, officer):
    # The resident, not signed in, on a phone.
    page.goto(f"{page.base}/complaints/new/")
    page.fill("#id_agency", "某银行济源分行营业部")
    page.fill("#id_certificate", "亲属关系证明")
    page.fill(
        "#id_description",
        "办理存款继承时，柜员要求到社区居委会开具亲属关系证明。<script>alert(1)</script>",
    )
    page.fill("#id_occurred_on", (timezone.localdate() - dt.timedelta(days=3)).isoformat())
    page.fill("#id_place", "济源市沁园路")
    page.fill("#id_contact", "13900000000")
    page.set_input_files(
        "#id_attachments",
        files=[{"name": "photo.png", "mimeType": "image/png", "buffer": PNG_BYTES}],
    )
    screenshot(page, "oversight-complaint-form")
    page.click("#complaint-submit")
    page.wait_for_selector("#tracking-number")
    number = page.inner_text("#tracking-number")
    assert number.startswith("TS-")
    track_url = page.url
    assert "<script>alert(1)</script>" in page.inner_text("#complaint-description")
    assert page.inner_text("#complaint-status") == Complaint.objects.get().get_status_display()
    screenshot(page, "oversight-complaint-tracking")
    assert Complaint.objects.get().attachments.count() == 1

    # The bureau: triage, forward with a deadline, record the correction, close.
    sign_in(page, officer)
    page.goto(f"{page.base}/bureau/complaints/")
    page.click(f"text={number}")
    page.select_option("#id_triage-decision", "accept")
    page.click("#triage-form button[type=submit]")
    page.wait_for_selector("#forward-form")
    page.select_option("#id_forward-superior", label="市金融工作局")
    page.fill("#id_forward-working_days", "10")
    page.click("#forward-form button[type=submit]")
    page.wait_for_selector("#answer-form")
    page.fill("#id_answer-answer", "已责令营业部整改。")
    page.fill("#id_answer-correction", "营业部取消了该要求，改为申请人书面承诺。")
    page.click("#answer-form button[type=submit]")
    page.wait_for_selector("#close-form")
    page.fill("#id_close-outcome", "已纠正，相关业务改为告知承诺办理。")
    page.click("#close-form button[type=submit]")
    page.wait_for_selector("#publish-form", state="attached")
    screenshot(page, "oversight-complaint-handled")
    complaint = Complaint.objects.get()
    assert complaint.status == "closed"
    assert complaint.superior.code == "JR" and complaint.correction_deadline

    # The resident follows the case with the link.
    page.context.clear_cookies()
    page.goto(track_url)
    assert page.inner_text("#complaint-status") == complaint.get_status_display()
    assert "已纠正" in page.inner_text("#complaint-outcome")
    timeline = page.inner_text("#complaint-timeline")
    assert "市金融工作局" in timeline
    screenshot(page, "oversight-complaint-followed")


def test_the_dashboard_renders_with_its_charts(page, officer):
    town = UnitFactory(code="419001-Z01", name="克井镇", kind=Unit.Kind.TOWN)
    matter = MatterFactory(code="SF-001", name="最低生活保障申请")
    other = MatterFactory(code="SF-002", name="法律援助申请")
    for index in range(3):
        resident = make_resident(town=town)
        sign_pledge(resident, matter if index else other)
    sign_in(page, officer)
    page.set_viewport_size({"width": 1100, "height": 900})
    page.goto(f"{page.base}/bureau/")
    page.wait_for_selector("#chart-trend-box svg")
    for box in ("#chart-trend-box", "#chart-share-box", "#chart-false-box"):
        box_size = page.locator(f"{box} svg").bounding_box()
        assert box_size["width"] > 300 and box_size["height"] > 60, box
    assert page.locator("#chart-trend-box svg polyline").count() >= 1
    assert "最低生活保障申请" in page.inner_text("#chart-share-box")
    screenshot(page, "oversight-dashboard")


def test_a_resident_finds_a_guide_and_goes_on_to_sign(page, db):
    from oversight.demo import guide_create_default

    pledgeable = MatterFactory(
        code="SF-001", name="最低生活保障申请", certificate="家庭经济状况证明"
    )
    refused = MatterFactory(
        code="MZ-N05",
        name="无犯罪记录证明",
        must_not_issue=True,
        where_instead="公安机关（户籍地或经常居住地派出所）",
    )
    guide_create_default(pledgeable)
    guide_create_default(refused)

    page.goto(f"{page.base}/guides/")
    page.fill("input[name=q]", "无犯罪")
    page.locator("main form.search-form button[type=submit]").click()
    page.click("text=无犯罪记录证明")
    assert "派出所" in page.inner_text("main .alert")
    screenshot(page, "oversight-guide-must-not-issue")

    page.goto(f"{page.base}/guides/SF-001/")
    screenshot(page, "oversight-guide-pledgeable")
    page.click(".sign-box a.button")
    page.wait_for_load_state()
    assert page.url.endswith("/matters/SF-001/")
