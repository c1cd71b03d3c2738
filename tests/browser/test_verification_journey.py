"""The verification journey in three browsers: a supervisor runs a draw, the officer drawn
records a false finding with a file as evidence, the pledge shows its new status to the
officer and to the resident, and a credit draft exists for the credit office.

Screenshots at phone width go to ``artifacts/screenshots/verification-*.png``.
"""

import pytest

from accounts import roles
from credit.models import CreditRecord
from pledges.models import PledgeStatus
from tests.browser.conftest import PHONE, screenshot, sign_in
from tests.factories import MatterFactory, UnitFactory, make_resident, make_staff, sign_pledge
from tests.verification.conftest import make_plan
from tests.verification.test_findings import PDF
from verification.models import CheckTask, Draw, Finding

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def new_page(browser, live_server):
    context = browser.new_context(viewport=PHONE, locale="zh-CN", device_scale_factor=1)
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.base = live_server.url
    return context, page


@pytest.fixture
def officer_page(browser, live_server):
    context, page = new_page(browser, live_server)
    yield page
    context.close()


@pytest.fixture
def resident_page(browser, live_server):
    context, page = new_page(browser, live_server)
    yield page
    context.close()


def test_a_draw_runs_and_a_false_finding_with_evidence_takes_effect(
    page, officer_page, resident_page
):
    department = UnitFactory(code="MZ", name="市民政局")
    officer = make_staff(roles.VERIFICATION_OFFICER, "journey-officer", unit=department)
    supervisor = make_staff(roles.VERIFICATION_SUPERVISOR, "journey-supervisor", unit=department)
    resident = make_resident("journey-resident", name="赵六")
    matter = MatterFactory(  # of the supervisor's department: their scope (docs/access.md)
        name="最低生活保障申请",
        department=department,
        verification_methods=["written", "data_check"],
        risk_level="high",
    )
    pledge = sign_pledge(resident, matter)
    plan = make_plan(matter=matter, ratio="1", name="低保承诺抽查")

    # The supervisor runs the draw by hand.
    sign_in(page, supervisor.username)
    page.goto(f"{page.base}/checks/draws/")
    page.click(f"button.draw-now[data-plan='{plan.pk}']")
    page.wait_for_selector("code.seed")
    draw = Draw.objects.get(plan=plan)
    assert page.inner_text("code.seed") == draw.seed
    screenshot(page, "verification-draw")
    task = CheckTask.objects.get(draw=draw)
    assert task.lead == officer and task.pledge == pledge

    # The officer drawn finds the task on the workbench and records a false finding.
    sign_in(officer_page, officer.username)
    officer_page.goto(f"{officer_page.base}/checks/")
    officer_page.click(f"a[href='/checks/tasks/{task.pk}/']")
    officer_page.wait_for_selector("#finding-form")
    assert "under_check" in officer_page.get_attribute("#pledge-status", "class")
    officer_page.select_option("#id_result", "false")
    officer_page.select_option("#id_method", "written")
    officer_page.fill("#id_reason", "经民政系统核对，申请人名下有商品房一套，不符合承诺的条件。")
    officer_page.set_input_files(
        "#id_files",
        {"name": "房产登记信息.pdf", "mimeType": "application/pdf", "buffer": PDF},
    )
    screenshot(officer_page, "verification-finding-form")
    officer_page.click("#record-finding")
    officer_page.wait_for_selector("#finding-result")
    screenshot(officer_page, "verification-finding-recorded")

    # The pledge shows its new status; the credit office has a draft.
    status = officer_page.get_attribute("#pledge-status", "class")
    assert "revocation_pending" in status
    assert officer_page.locator("#credit-draft").count() == 1
    pledge.refresh_from_db()
    assert pledge.status == PledgeStatus.REVOCATION_PENDING
    finding = Finding.objects.get(task=task)
    assert finding.result == "false" and finding.evidence.count() == 1
    draft = CreditRecord.objects.get(source=f"verification.finding:{finding.pk}")
    assert draft.state == "pending_review" and draft.person == resident.person
    assert draft.facts["evidence"][0]["sha256"] == finding.evidence.get().sha256

    # The resident sees it on the pledge and under "my checks".
    sign_in(resident_page, resident.username)
    resident_page.goto(f"{resident_page.base}/pledges/{pledge.number}/")
    assert "revocation_pending" in resident_page.get_attribute("#pledge-status", "class")
    resident_page.goto(f"{resident_page.base}/checks/my/")
    assert pledge.number in resident_page.inner_text("main")
    screenshot(resident_page, "verification-my-checks")
