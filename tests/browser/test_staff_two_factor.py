"""A staff member signs in with the password, then the authenticator code (phone width)."""

import pytest

from tests.browser.conftest import screenshot, sign_in
from tests.factories import make_staff, totp_code

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def test_staff_sign_in_asks_for_the_code_then_opens_the_window(page):
    clerk = make_staff("window_clerk", "clerk")
    page.goto(f"{page.base}/accounts/login/?next=/window/")
    page.fill("#id_username", "clerk")
    page.fill("#id_password", "pass-Word-123")
    page.click("button[type=submit]")
    page.wait_for_url("**/accounts/login/code/")
    screenshot(page, "staff-sign-in-code-step")
    page.fill("#id_code", "000000")
    page.click("#otp-submit")
    assert page.locator(".errorlist").count() == 1
    page.wait_for_timeout(2100)  # django-otp makes a wrong code wait before the next try
    page.fill("#id_code", totp_code(clerk))
    page.click("#otp-submit")
    page.wait_for_url("**/window/")
    screenshot(page, "staff-sign-in-window")


def test_sign_in_helper_completes_the_code_step(page):
    make_staff("window_clerk", "clerk2")
    sign_in(page, "clerk2")
    page.goto(f"{page.base}/window/")
    assert page.url.endswith("/window/")
    assert page.locator("#id_code").count() == 0
