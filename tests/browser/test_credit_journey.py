"""The credit journey in two browsers: a false pledge is drafted, the resident states their
case with a document, the credit office confirms, the resident is blocked from pledging, files
an objection (rejected), applies for repair with a new credit pledge and proof, the office
approves, and the record leaves the public list and stops blocking.

Screenshots at phone width go to ``artifacts/screenshots/credit-*.png``.
"""

import pytest

from credit import services
from credit.models import CreditRecord, RecordState
from tests.browser.conftest import PHONE, screenshot
from tests.credit.factories import PDF_BYTES, facts
from tests.factories import MatterFactory, make_resident, make_staff, totp_code

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def pdf(name):
    return {"name": name, "mimeType": "application/pdf", "buffer": PDF_BYTES}


@pytest.fixture
def officer_page(browser, live_server):
    context = browser.new_context(viewport=PHONE, locale="zh-CN", device_scale_factor=1)
    context.set_default_timeout(15_000)
    officer_page = context.new_page()
    officer_page.base = live_server.url
    yield officer_page
    context.close()


@pytest.fixture(autouse=True)
def _credit_settings(settings, tmp_path):
    settings.CHENGNUO_CREDIT_EXPORT_DIR = str(tmp_path / "credit-exports")
    # Repair may be applied for at once, so the journey need not wait three months.
    settings.CHENGNUO_CREDIT_PERIODS = {"general": {"min_months": 0}}


def sign_in(page, user, password="pass-Word-123"):
    """The sign-in form's own button (the header has buttons too), then the staff code."""
    page.goto(f"{page.base}/accounts/login/")
    page.fill("#id_username", user.username)
    page.fill("#id_password", password)
    page.locator("#id_password").locator("xpath=ancestor::form").locator(
        "button[type=submit]"
    ).click()
    page.wait_for_load_state()
    if "/login/code/" in page.url:
        page.fill("#id_code", totp_code(user))
        page.locator("#id_code").locator("xpath=ancestor::form").locator("button").first.click()
        page.wait_for_load_state()
    assert "/accounts/login" not in page.url, page.url


def open_as_officer(page, record, reason):
    page.goto(f"{page.base}/credit/office/")
    page.click(f"a[href='/credit/office/records/{record.pk}/']")
    page.wait_for_selector("#reason-form")
    page.fill("#id_reason", reason)
    page.click("#reason-submit")
    page.wait_for_load_state()


def test_hearing_objection_and_repair_end_to_end(page, officer_page):
    resident = make_resident("credit-resident", name="张三")
    officer = make_staff("credit_officer", "credit-officer")
    matter = MatterFactory(name="最低生活保障申请")
    record = services.record_draft(
        person=resident.person,
        kind="false_pledge",
        facts=facts(matter_name=matter.name, pledge_number="CN-2026-000042"),
        source="verification.finding:42",
    )

    # 1. The resident is told about the hearing and states their case with a document.
    sign_in(page, resident)
    page.goto(f"{page.base}/notifications/")
    page.click(f"a[href='/credit/records/{record.pk}/']")
    page.wait_for_selector("#statement-form")
    page.fill("#statement_text", "申报时收入确实低于标准，附工资流水。")
    page.set_input_files("#statement_files", [pdf("工资流水.pdf")])
    screenshot(page, "credit-01-statement")
    page.click("#statement-submit")
    page.wait_for_selector(".statement")
    assert "工资流水.pdf" in page.inner_text(".statement")

    # 2. The office says why it opens the record, reads the statement, confirms.
    sign_in(officer_page, officer)
    open_as_officer(officer_page, record, "审查初稿及陈述")
    assert "工资流水.pdf" in officer_page.inner_text(".statement")
    officer_page.check("#decision_decision_0")
    officer_page.select_option("#decision_severity", "general")
    officer_page.fill("#decision_basis", "《济源市告知承诺制实施办法》第二十条")
    screenshot(officer_page, "credit-02-office-decides")
    officer_page.click("#decision-submit")
    officer_page.wait_for_selector(".messages")
    assert CreditRecord.objects.get(pk=record.pk).state == RecordState.CONFIRMED

    # 3. Published, and the resident may not pledge; the page says why and how to restore.
    page.goto(f"{page.base}/credit/public/")
    assert "张*" in page.inner_text("#public-records")
    page.goto(f"{page.base}/matters/{matter.code}/")
    alert = page.inner_text("[role=alert]")
    record.refresh_from_db()
    assert record.publication_ends_on.isoformat() in alert  # until when, and how to restore
    assert page.locator("#sign-form").count() == 0
    screenshot(page, "credit-03-blocked")

    # 4. The resident sees who looked at the record and files an objection with a file.
    page.goto(f"{page.base}/credit/records/{record.pk}/")
    assert "审查初稿及陈述" in page.inner_text("#access-log")
    page.fill("#objection_reasons", "收入认定有误，请复核。")
    page.set_input_files("#objection_files", [pdf("复核申请.pdf")])
    page.click("#objection-submit")
    page.wait_for_selector(".objection")
    record.refresh_from_db()
    assert record.state == RecordState.UNDER_OBJECTION
    assert page.inner_text("#record-state") == record.get_state_display()
    screenshot(page, "credit-04-objection")

    # 5. The office rejects the objection with reasons.
    open_as_officer(officer_page, record, "处理异议")
    assert "复核申请.pdf" in officer_page.inner_text("#objection-decision-form >> xpath=..")
    officer_page.check("#objection_decision_decision_1")
    officer_page.fill("#objection_decision_reason", "税务数据显示收入高于标准。")
    officer_page.click("#objection-decision-submit")
    officer_page.wait_for_selector(".messages")
    assert CreditRecord.objects.get(pk=record.pk).state == RecordState.CONFIRMED

    # 6. The resident applies for repair: a new credit pledge and proof of correction.
    page.goto(f"{page.base}/credit/records/{record.pk}/")
    assert "税务数据显示收入高于标准。" in page.inner_text(".objection")
    assert page.input_value("#repair_credit_pledge").startswith("本人郑重承诺")
    page.fill("#repair_correction", "已退还多领取的保障金。")
    page.set_input_files("#repair_files", [pdf("退款凭证.pdf")])
    screenshot(page, "credit-05-repair")
    page.click("#repair-submit")
    page.wait_for_selector(".repair")

    # 7. The office approves; publication stops and pledging is possible again at once.
    open_as_officer(officer_page, record, "审核信用修复")
    officer_page.check("#repair_decision_decision_0")
    officer_page.click("#repair-decision-submit")
    officer_page.wait_for_selector(".messages")
    assert CreditRecord.objects.get(pk=record.pk).state == RecordState.REPAIRED

    page.goto(f"{page.base}/credit/public/")
    assert "张*" not in page.inner_text("#public-records")
    page.goto(f"{page.base}/credit/records/{record.pk}/")
    # drafted, statement, confirmed, published, objection filed and rejected, repair applied
    # and approved, publication stopped (and pushes, when the exporter has run).
    assert page.locator(".events li").count() >= 9
    screenshot(page, "credit-06-repaired")
    page.goto(f"{page.base}/matters/{matter.code}/")
    page.wait_for_selector("#sign-form")
