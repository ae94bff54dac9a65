"""Printing the recovery codes prints only the codes, and warnings look like warnings: checked
in a real browser (Chromium via Playwright, with print media emulated)."""

import pytest

from tests.conftest import PASSWORD
from tests.twofactor_helpers import enable_two_factor, next_code, secret_from_page

pytestmark = pytest.mark.django_db(transaction=True)


def log_in(page, code: str | None = None) -> None:
    page.goto("/login/")
    page.fill("#id_username", "alice")
    page.fill("#id_password", PASSWORD)
    page.click("main button[type=submit]")
    if code is not None:
        page.wait_for_url("**/login/code/")
        page.fill("#id_code", code)
        page.click("main button[type=submit]")
    page.wait_for_url("**/account/")


def assert_prints_only_the_codes(page, codes: list[str]) -> None:
    page.emulate_media(media="print")
    try:
        assert page.locator(".recovery-codes").is_visible()
        assert page.locator("ul.codes code").all_inner_texts() == codes
        assert all(page.locator("ul.codes code").nth(i).is_visible() for i in range(len(codes)))
        heading = page.inner_text(".recovery-codes .print-heading")
        assert "DuckMail" in heading and "alice@duckmail.test" in heading
        for selector in (".qr svg", "#totp-secret", "header.top", "nav.tabs", "#two-factor", "#app-passwords"):
            for element in page.locator(selector).all():
                assert not element.is_visible(), f"{selector} would be printed"
        for element in page.locator("form, button, a.button, input").all():
            assert not element.is_visible(), "a form or button would be printed"
    finally:
        page.emulate_media(media="screen")


def test_printing_the_set_up_recovery_codes_prints_neither_the_qr_code_nor_the_key(page, alice):
    log_in(page)
    page.click("header >> text=Settings")
    page.click("button:has-text('Setup all fields (needs Save)')")
    key = secret_from_page(page.content())
    page.fill("#id_check-code", next_code(key, alice))
    page.click("button:has-text('Validate code')")
    page.click("button:has-text('Show recovery codes')")
    codes = page.locator("ul.codes code").all_inner_texts()
    assert len(codes) == 10
    # On screen, the set-up (QR code, key, Save) is still there next to the codes.
    assert page.locator(".qr svg").is_visible() and page.locator("#totp-secret").is_visible()
    assert page.locator("button:has-text('Print')").is_visible()

    assert_prints_only_the_codes(page, codes)
    assert page.locator(".qr svg").is_visible()


def test_printing_new_recovery_codes_prints_only_them(page, alice):
    key, _ = enable_two_factor(alice)
    log_in(page, next_code(key, alice))
    page.goto("/account/security/")
    page.fill("#id_regenerate-code", next_code(key, alice))
    page.click("button:has-text('Make new recovery codes')")
    codes = page.locator("ul.codes code").all_inner_texts()
    assert len(codes) == 10
    assert_prints_only_the_codes(page, codes)


def test_a_warning_message_is_shown_in_the_warning_colour(page, alice):
    _, codes = enable_two_factor(alice)
    log_in(page, codes[0])
    warning = page.locator(".messages li.warning")
    assert "recovery code" in warning.inner_text()
    colour = warning.evaluate("e => getComputedStyle(e).backgroundColor")
    info = page.evaluate("""() => { const li = document.createElement('li'); li.className = 'info';
        document.querySelector('.messages').append(li); return getComputedStyle(li).backgroundColor; }""")
    assert colour == "rgb(255, 244, 229)" and colour != info
