"""The 2FA set-up a member follows in a real browser (Chromium via Playwright), step by step
as the service page documents it, then logging in again with a code."""

import pytest

from accounts import twofactor
from tests.conftest import PASSWORD
from tests.twofactor_helpers import next_code, secret_from_page

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_member_sets_up_2fa_as_documented_and_logs_in_with_a_code(page, alice):
    page.goto("/login/")
    page.fill("#id_username", "alice")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/account/")

    page.click("header >> text=Settings")
    page.wait_for_url("**/account/security/")
    page.click("button:has-text('Setup all fields (needs Save)')")
    assert "Not active yet" in page.inner_text("#two-factor")
    assert page.locator(".qr svg").is_visible()
    key = secret_from_page(page.content())

    page.fill("#id_check-code", "000000" if next_code(key, alice) != "000000" else "111111")
    page.click("button:has-text('Validate code')")
    assert "That code is not right" in page.inner_text("#id_check-code_error")
    page.fill("#id_check-code", next_code(key, alice))
    page.click("button:has-text('Validate code')")
    assert "your app works" in page.inner_text("#two-factor")

    page.click("button:has-text('Show recovery codes')")
    codes = page.locator("ul.codes code").all_inner_texts()
    assert len(codes) == 10
    assert page.locator("a[download]").get_attribute("href").startswith("data:text/plain")

    page.click("button:has-text('Save')")
    page.wait_for_url("**/login/")
    assert "Two-factor authentication is on" in page.inner_text(".messages")
    assert twofactor.two_factor_enabled(alice)

    page.fill("#id_username", "alice")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/login/code/")
    page.fill("#id_code", next_code(key, alice))
    page.click("button[type=submit]")
    page.wait_for_url("**/account/")
    assert "alice@duckmail.test" in page.inner_text("header")
