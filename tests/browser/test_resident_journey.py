"""A resident's whole journey on a phone: register with the SMS code, read the notice, sign
with a drawn signature, find the pledge in "my pledges", withdraw it.

Screenshots of each step at 390 px width go to ``artifacts/screenshots/journey-*.png``.
"""

import io
import re

import pytest
from django.contrib.auth.models import Group
from PIL import Image

from accounts import id_numbers
from accounts.models import RegistryEntry, User
from accounts.roles import ALL_ROLES
from pledges.models import Pledge, PledgeStatus
from tests.browser.conftest import PHONE, screenshot
from tests.factories import STATEMENTS, MatterFactory, UnitFactory, valid_id_number

NAME = "赵六"
USERNAME = "zhaoliu"
PASSWORD = "qiao-Mai-7788"
MOBILE = "13712345678"


def draw_signature(page, selector="#signature-canvas"):
    """Write a short zig-zag on the canvas with the mouse, as a finger would."""
    canvas = page.locator(selector)
    canvas.scroll_into_view_if_needed()  # the mouse reaches only what is on the screen
    box = canvas.bounding_box()
    assert box and box["width"] > 200 and box["height"] > 100, box
    left, top = box["x"] + 20, box["y"] + box["height"] / 2
    page.mouse.move(left, top)
    page.mouse.down()
    for step in range(1, 13):
        x = left + step * (box["width"] - 40) / 12
        y = top + (30 if step % 2 else -30)
        page.mouse.move(x, y, steps=4)
    page.mouse.up()


def assert_fits_the_phone(page):
    """Nothing wider than the screen: no sideways scrolling on a phone."""
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"page is {width}px wide on a {PHONE['width']}px screen"


@pytest.fixture
def roles_present(page):
    """The role groups, which migrations create.

    Playwright's sync API runs an event loop in the test thread, so Django's connection
    handler hands out a fresh connection object there, without the serialized migration
    rows that ``serialized_rollback`` restores: after another transactional test has
    flushed the database, the groups would be missing. (tests/browser/conftest.py can
    re-install the original connections once Playwright has started; until then:)
    """
    for name in ALL_ROLES:
        Group.objects.get_or_create(name=name)


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_resident_registers_signs_sees_and_withdraws_a_pledge(page, sms_outbox, roles_present):
    town = UnitFactory(town=True, code="419001-J01", name="沁园街道")
    matter = MatterFactory(name="申请法律援助", certificate="经济困难证明")
    number = valid_id_number()
    RegistryEntry.objects.create(id_hash=id_numbers.keyed_hash(number), name=NAME)

    # 1. Register: ask for the code, read it from the SMS, create the account.
    page.goto(f"{page.base}/accounts/register/")
    page.fill("#id_username", USERNAME)
    page.fill("#id_real_name", NAME)
    page.fill("#id_id_number", number)
    page.fill("#id_phone", MOBILE)
    assert_fits_the_phone(page)
    screenshot(page, "journey-01-register")
    page.click("button[name=send_code]")
    page.wait_for_load_state()
    assert len(sms_outbox) == 1
    phone, text = sms_outbox[0]
    assert phone == MOBILE
    code = re.search(r"(?<!\d)(\d{6})(?!\d)", text).group(1)
    assert page.input_value("#id_real_name") == NAME  # what was typed is kept
    page.fill("#id_code", code)
    page.select_option("#id_town", str(town.pk))
    page.fill("#id_address", "沁园街道示范路2号")
    page.fill("#id_password", PASSWORD)
    page.check("#id_privacy_consent")
    screenshot(page, "journey-02-code-entered")
    page.click("button[name=register]")
    page.wait_for_url(f"{page.base}/")
    assert User.objects.get(username=USERNAME).person.town == town
    screenshot(page, "journey-03-registered")

    # 2. Find the matter and read the notice.
    page.fill("input[name=q]", "法律援助")
    page.click("form.search-form button[type=submit]")
    page.click(f"a[href='/matters/{matter.code}/']")
    page.wait_for_url(f"**/matters/{matter.code}/")
    assert page.locator(".notice h3").count() == len(matter.current_template().notice)
    assert_fits_the_phone(page)
    screenshot(page, "journey-04-notice")

    # 3. Tick every statement, type the name, draw the signature, sign.
    for statement in STATEMENTS:
        page.check(f"input[name=statement_{statement['key']}]")
    page.fill("#id_typed_name", "赵 七")  # a slip of the finger
    draw_signature(page)
    page.click("#sign-submit")
    page.wait_for_load_state()
    assert page.locator(".errorlist").count() == 1
    assert not Pledge.objects.exists()
    # The signature drawn before the error is kept: fix the name and sign.
    assert page.evaluate("document.getElementById('signature-input').value").startswith(
        "data:image/png;base64,"
    )
    for statement in STATEMENTS:
        page.check(f"input[name=statement_{statement['key']}]")
    page.fill("#id_typed_name", NAME)
    page.locator("#signature-canvas").scroll_into_view_if_needed()
    screenshot(page, "journey-05-signing")
    page.click("#sign-submit")
    page.wait_for_url(re.compile(r".*/pledges/CN-\d{4}-\d{6}/$"))
    pledge = Pledge.objects.get()
    assert page.inner_text("#pledge-number") == pledge.number
    assert pledge.status == PledgeStatus.SIGNED
    with Image.open(io.BytesIO(pledge.signature.read())) as image:
        # Something was drawn: the image is not blank.
        assert image.convert("RGBA").getbbox() is not None
    assert_fits_the_phone(page)
    screenshot(page, "journey-06-signed")

    # 4. The pledge is listed under "my pledges".
    page.click("a[href='/pledges/']")
    page.wait_for_url("**/pledges/")
    assert page.locator(".pledge-item", has_text=pledge.number).count() == 1
    screenshot(page, "journey-07-my-pledges")

    # 5. Withdraw it before the decision.
    page.click(f"a[href='/pledges/{pledge.number}/']")
    page.fill("#id_reason", "改为提交证明")
    page.click("#withdraw-button")
    page.wait_for_load_state()
    pledge.refresh_from_db()
    assert pledge.status == PledgeStatus.WITHDRAWN
    assert page.locator("#withdraw-button").count() == 0
    assert page.inner_text("#pledge-status") == pledge.get_status_display()
    assert_fits_the_phone(page)
    screenshot(page, "journey-08-withdrawn")
