"""Two-factor authentication as the Settings page documents it ("Setup all fields (needs Save)" → scan
the QR code → "Check code" → "Show recovery codes" → "Save" logs you out → log in with password and
code), also in a real browser, with codes used once even when raced, recovery codes shown once and
printed alone, and the admin's reset."""

import re
import threading

import pytest
from django.db import connection
from django.urls import reverse
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts import services, twofactor
from accounts.models import AuditLog, Member
from tests.helpers import PASSWORD


def login(client, username="alice@duckmail.test", password=PASSWORD):
    return client.post(reverse("login"), {"username": username, "password": password})


@pytest.fixture
def start_and_check(secret_from_page, next_code):
    """start_and_check(client, member): "Setup all fields (needs Save)" and a right "Check code",
    through the pages; returns the key."""

    def start_and_check(client, member) -> bytes:
        client.post(reverse("two_factor_setup"))
        key = secret_from_page(client.get(reverse("security")).content.decode())
        assert client.post(reverse("two_factor_check"), {"check-code": next_code(key, member)}).status_code == 302
        return key

    return start_and_check


def race(member_pk: int, code: str, n: int = 4) -> list[str | None]:
    barrier = threading.Barrier(n)
    results: list[str | None] = []

    def attempt():
        try:
            member = Member.objects.get(pk=member_pk)
            barrier.wait()
            results.append(twofactor.verify_second_factor(member, code))
        finally:
            connection.close()

    threads = [threading.Thread(target=attempt) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


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


def test_the_whole_flow_from_set_up_to_logging_in_with_a_code(alice_client, alice, next_code, secret_from_page, recovery_codes_from_page):
    page = alice_client.get(reverse("security"))
    assert b"2-Factor Authentication" in page.content and b"Setup all fields (needs Save)" in page.content

    # 1. "Setup all fields (needs Save)": a QR code and the same secret as text; nothing active yet.
    response = alice_client.post(reverse("two_factor_setup"))
    assert response.status_code == 302
    page = alice_client.get(reverse("security")).content.decode()
    assert "<svg" in page and "<path" in page
    key = secret_from_page(page)
    device = TOTPDevice.objects.get(user=alice)
    assert device.bin_key == key and not device.confirmed
    assert "otpauth" not in page  # the URI is only inside the QR code, not a link
    assert not twofactor.two_factor_enabled(alice)
    assert "Not active yet" in page and "off until you press Save" in page

    # 2. "Check code": a wrong code says so next to the field and saves nothing.
    wrong = f"{(int(next_code(key, alice)) + 1) % 1000000:06d}"
    response = alice_client.post(reverse("two_factor_check"), {"check-code": wrong})
    # POST-redirect-GET: a reload of the page does not send the code again.
    assert response.status_code == 302 and response.url == reverse("security") + "#two-factor"
    response = alice_client.get(response.url)
    assert "That code is not right" in response.context["check_form"].errors["code"][0]
    assert b'id="id_check-code_error"' in response.content
    assert response.context["check_form"]["code"].label == "Check code"  # the field keeps its name
    # Shown once: the next visit is clean.
    assert not alice_client.get(reverse("security")).context["check_form"].errors
    assert not twofactor.setup_code_checked(twofactor.pending_totp_device(alice))
    # Recovery codes and Save are not offered before a right code.
    response = alice_client.post(reverse("two_factor_save"))
    assert not twofactor.two_factor_enabled(alice)

    response = alice_client.post(reverse("two_factor_check"), {"check-code": next_code(key, alice)})
    assert response.status_code == 302
    page = alice_client.get(reverse("security")).content.decode()
    assert "your app works" in page and "Show recovery codes" in page
    # Checking a code activates nothing: the main password still works.
    assert not twofactor.two_factor_enabled(alice)

    # 3. "Show recovery codes": shown once (on the page it redirects to), with download and print.
    response = alice_client.post(reverse("two_factor_recovery_codes"))
    assert response.status_code == 302 and response.url == reverse("security") + "#recovery-codes"
    response = alice_client.get(response.url)
    assert response["Cache-Control"] == "no-store"
    codes = recovery_codes_from_page(response.content.decode())
    assert len(codes) == 10 and len(set(codes)) == 10
    assert b"download=" in response.content and b"data-print" in response.content
    assert not recovery_codes_from_page(alice_client.get(reverse("security")).content.decode())

    # 4. "Save": 2FA on, and she is logged out.
    response = alice_client.post(reverse("two_factor_save"))
    assert response.status_code == 302 and response.url == reverse("login")
    assert twofactor.two_factor_enabled(alice)
    assert AuditLog.objects.filter(action="two_factor.enabled", member=alice).exists()
    assert alice_client.get(reverse("account")).status_code == 302

    # Logging in again: the password alone is not enough.
    response = login(alice_client)
    assert response.status_code == 302 and response.url == reverse("login_code")
    assert alice_client.get(reverse("account")).status_code == 302
    response = alice_client.post(reverse("login_code"), {"code": wrong})
    assert response.status_code == 400
    assert "not right" in response.context["form"].errors["code"][0]
    code = next_code(key, alice)
    response = alice_client.post(reverse("login_code"), {"code": code})
    assert response.status_code == 302 and response.url == reverse("account")
    assert alice_client.get(reverse("account")).status_code == 200

    # The same code can not be used again inside its time window.
    alice_client.post(reverse("logout"))
    login(alice_client)
    response = alice_client.post(reverse("login_code"), {"code": code})
    assert response.status_code == 400
    assert alice_client.get(reverse("account")).status_code == 302


def test_the_code_step_needs_the_password_step_first(client, alice, enable_two_factor):
    enable_two_factor(alice)
    response = client.post(reverse("login_code"), {"code": "123456"})
    assert response.status_code == 302 and response.url == reverse("login")
    assert client.get(reverse("account")).status_code == 302


def test_a_wrong_password_never_reaches_the_code_step(client, alice, enable_two_factor):
    enable_two_factor(alice)
    response = login(client, password="wrong-password")
    assert response.status_code == 200
    assert client.get(reverse("login_code")).status_code == 302


def test_the_code_step_expires_and_ends_at_a_password_change(client, alice, settings, enable_two_factor, next_code):
    key, _ = enable_two_factor(alice)
    assert login(client).url == reverse("login_code")
    services.change_password(Member.objects.get(pk=alice.pk), "Another-Passw0rd-x")
    response = client.post(reverse("login_code"), {"code": next_code(key, alice)})
    assert response.status_code == 302 and response.url == reverse("login")
    assert client.get(reverse("account")).status_code == 302

    settings.TWO_FACTOR_PENDING_SECONDS = 0
    assert login(client, password="Another-Passw0rd-x").url == reverse("login_code")
    response = client.post(reverse("login_code"), {"code": next_code(key, alice)})
    assert response.url == reverse("login")
    assert client.get(reverse("account")).status_code == 302


def test_recovery_codes_work_once_each(client, alice, enable_two_factor):
    _, codes = enable_two_factor(alice)
    login(client)
    response = client.post(reverse("login_code"), {"code": codes[0].upper()})
    assert response.status_code == 302 and response.url == reverse("account")
    page = client.get(reverse("account")).content.decode()
    assert "recovery code" in page and "9 left" in page
    assert AuditLog.objects.filter(action="two_factor.recovery_code_used", member=alice).exists()
    client.post(reverse("logout"))

    login(client)
    response = client.post(reverse("login_code"), {"code": codes[0]})
    assert response.status_code == 400
    assert client.get(reverse("account")).status_code == 302
    response = client.post(reverse("login_code"), {"code": codes[1]})
    assert response.status_code == 302
    assert twofactor.recovery_codes_left(alice) == 8


def test_turning_off_and_new_recovery_codes_need_a_current_code(client, alice, enable_two_factor, next_code, recovery_codes_from_page):
    key, codes = enable_two_factor(alice)
    client.force_login(alice)
    response = client.post(reverse("two_factor_regenerate"), {"regenerate-code": "000000"})
    assert response.status_code == 400
    assert "not right" in response.context["regenerate_form"].errors["code"][0]
    response = client.post(reverse("two_factor_regenerate"), {"regenerate-code": next_code(key, alice)})
    assert response.status_code == 302
    response = client.get(response.url)
    new_codes = recovery_codes_from_page(response.content.decode())
    assert len(new_codes) == 10
    assert not StaticToken.objects.filter(token__in=codes).exists()

    response = client.post(reverse("two_factor_disable"), {"disable-code": codes[2]})
    assert response.status_code == 400
    assert twofactor.two_factor_enabled(alice)
    response = client.post(reverse("two_factor_disable"), {"disable-code": new_codes[0]})
    assert response.status_code == 302
    assert not twofactor.two_factor_enabled(alice)
    assert not TOTPDevice.objects.filter(user=alice).exists()
    assert AuditLog.objects.filter(action="two_factor.disabled", member=alice).exists()
    client.post(reverse("logout"))
    response = login(client)
    assert response.status_code == 302 and response.url == reverse("account")


def test_the_set_up_uses_the_documented_button_and_field_names(alice_client, alice, next_code, secret_from_page):
    page = alice_client.get(reverse("security")).content.decode()
    assert ">Setup all fields (needs Save)</button>" in page
    alice_client.post(reverse("two_factor_setup"))
    page = alice_client.get(reverse("security")).content.decode()
    assert '<label for="id_check-code">Check code</label>' in page
    key = secret_from_page(page)
    alice_client.post(reverse("two_factor_check"), {"check-code": next_code(key, alice)})
    page = alice_client.get(reverse("security")).content.decode()
    assert ">Show recovery codes</button>" in page
    alice_client.post(reverse("two_factor_recovery_codes"))
    alice_client.get(reverse("security"))
    page = alice_client.get(reverse("security")).content.decode()
    assert re.search(r"<button type=\"submit\">Save</button>", page)


def test_a_half_finished_set_up_says_2fa_is_still_off(alice_client):
    assert "Not active yet" not in alice_client.get(reverse("security")).content.decode()
    alice_client.post(reverse("two_factor_setup"))
    page = alice_client.get(reverse("security")).content.decode()
    assert "Not active yet:</strong>" in page and "two-factor authentication is off until you press Save." in page
    assert ">Cancel set-up</button>" in page


def test_cancel_set_up_deletes_the_unconfirmed_devices_and_is_audited(alice_client, alice, start_and_check):
    start_and_check(alice_client, alice)
    alice_client.post(reverse("two_factor_recovery_codes"))
    assert TOTPDevice.objects.filter(user=alice).exists() and StaticDevice.objects.filter(user=alice).exists()
    response = alice_client.post(reverse("two_factor_cancel"))
    assert response.status_code == 302 and response.url == reverse("security") + "#two-factor"
    assert not TOTPDevice.objects.filter(user=alice).exists()
    assert not StaticDevice.objects.filter(user=alice).exists()
    assert AuditLog.objects.filter(action="two_factor.setup_cancelled", actor=alice, member=alice).count() == 1
    page = alice_client.get(reverse("security")).content.decode()
    assert "Set-up cancelled" in page and "Not active yet" not in page and "Setup all fields" in page
    # Nothing to cancel: nothing audited.
    alice_client.post(reverse("two_factor_cancel"))
    assert AuditLog.objects.filter(action="two_factor.setup_cancelled").count() == 1


def test_cancel_set_up_never_turns_an_active_2fa_off(alice_client, alice, enable_two_factor):
    enable_two_factor(alice)
    alice_client.force_login(alice)
    alice_client.post(reverse("two_factor_cancel"))
    assert twofactor.two_factor_enabled(alice) and twofactor.recovery_codes_left(alice) == 10


def test_show_recovery_codes_redirects_and_a_reload_makes_no_new_ones(alice_client, alice, recovery_codes_from_page, start_and_check):
    start_and_check(alice_client, alice)
    response = alice_client.post(reverse("two_factor_recovery_codes"))
    assert response.status_code == 302 and response.url == reverse("security") + "#recovery-codes"
    codes = recovery_codes_from_page(alice_client.get(response.url).content.decode())
    stored = set(StaticDevice.objects.get(user=alice).token_set.values_list("token", flat=True))
    assert len(codes) == 10 and set(codes) == stored
    assert not recovery_codes_from_page(alice_client.get(reverse("security")).content.decode())
    assert set(StaticDevice.objects.get(user=alice).token_set.values_list("token", flat=True)) == stored


def test_new_recovery_codes_redirect_too(alice_client, alice, enable_two_factor, next_code, recovery_codes_from_page):
    key, _ = enable_two_factor(alice)
    alice_client.force_login(alice)
    response = alice_client.post(reverse("two_factor_regenerate"), {"regenerate-code": next_code(key, alice)})
    assert response.status_code == 302
    assert len(recovery_codes_from_page(alice_client.get(response.url).content.decode())) == 10
    assert not recovery_codes_from_page(alice_client.get(reverse("security")).content.decode())


def test_set_up_again_replaces_an_unfinished_secret_and_codes_need_a_checked_app(alice_client, alice):
    alice_client.post(reverse("two_factor_setup"))
    first = TOTPDevice.objects.get(user=alice).key
    response = alice_client.post(reverse("two_factor_recovery_codes"))
    assert response.status_code == 302
    assert not StaticToken.objects.exists()
    alice_client.post(reverse("two_factor_setup"))
    assert list(TOTPDevice.objects.filter(user=alice).values_list("key", flat=True)) != [first]
    assert TOTPDevice.objects.filter(user=alice).count() == 1


def test_the_secret_is_an_otpauth_uri_with_the_service_as_issuer(alice_client, alice, code_for, secret_from_page):
    alice_client.post(reverse("two_factor_setup"))
    device = TOTPDevice.objects.get(user=alice)
    assert device.config_url.startswith("otpauth://totp/DuckMail%3Aalice%40duckmail.test?secret=")
    assert "issuer=DuckMail" in device.config_url
    # The code a phone computes from the displayed secret is the code the server expects.
    page = alice_client.get(reverse("security")).content.decode()
    key = secret_from_page(page)
    assert re.fullmatch(r"\d{6}", code_for(key, 1))


def test_another_login_in_the_same_browser_drops_a_half_finished_2fa_login(client, alice, bob, enable_two_factor, next_code):
    key, _ = enable_two_factor(alice)
    assert login(client).url == reverse("login_code")
    assert login(client, username="bob").url == reverse("account")
    response = client.post(reverse("login_code"), {"code": next_code(key, alice)})
    assert response.url == reverse("login")
    page = client.get(reverse("account")).content.decode()
    assert "bob@duckmail.test" in page and "alice@duckmail.test" not in page


def test_an_admin_resets_a_members_two_factor_and_it_is_audited(client, alice, make_member, enable_two_factor):
    enable_two_factor(alice)
    admin = make_member("boss", is_staff=True, is_superuser=True)
    client.force_login(admin)
    response = client.post(reverse("admin:accounts_member_changelist"),
                           {"action": "reset_two_factor", "_selected_action": [alice.pk]})
    assert response.status_code == 302
    assert not twofactor.two_factor_enabled(alice)
    entry = AuditLog.objects.get(action="two_factor.reset_by_admin", member=alice)
    assert entry.actor == admin and entry.details == {"was_enabled": True}
    client.post(reverse("logout"))
    assert login(client).url == reverse("account")


def test_the_admin_logs_in_through_the_two_step_login(client, make_member, enable_two_factor, next_code):
    admin = make_member("boss", is_staff=True, is_superuser=True)
    key, _ = enable_two_factor(admin)
    response = client.get(reverse("admin:login") + "?next=/admin/")
    assert response.status_code == 302 and response.url.startswith(reverse("login"))
    # The admin's own password form is gone: posting to it does not log in.
    client.post(reverse("admin:login"), {"username": "boss@duckmail.test", "password": PASSWORD})
    assert client.get(reverse("admin:index")).status_code == 302
    response = client.post(reverse("login"), {"username": "boss", "password": PASSWORD, "next": "/admin/"})
    assert response.url == reverse("login_code")
    response = client.post(reverse("login_code"), {"code": next_code(key, admin)})
    assert response.url == "/admin/"
    assert client.get(reverse("admin:index")).status_code == 200


@pytest.mark.django_db(transaction=True)
def test_a_recovery_code_wins_once_even_when_raced(alice, enable_two_factor):
    _, codes = enable_two_factor(alice)
    results = race(alice.pk, codes[0])
    assert results.count("recovery") == 1 and results.count(None) == 3
    assert twofactor.recovery_codes_left(alice) == 9


@pytest.mark.django_db(transaction=True)
def test_a_totp_code_wins_once_even_when_raced(alice, enable_two_factor, next_code):
    key, _ = enable_two_factor(alice)
    results = race(alice.pk, next_code(key, alice))
    assert results.count("totp") == 1 and results.count(None) == 3


@pytest.mark.django_db(transaction=True)
def test_a_member_sets_up_2fa_as_documented_and_logs_in_with_a_code(page, alice, next_code, secret_from_page):
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


@pytest.mark.django_db(transaction=True)
def test_printing_the_set_up_recovery_codes_prints_neither_the_qr_code_nor_the_key(page, alice, next_code, secret_from_page, log_in):
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


@pytest.mark.django_db(transaction=True)
def test_printing_new_recovery_codes_prints_only_them(page, alice, enable_two_factor, next_code, log_in):
    key, _ = enable_two_factor(alice)
    log_in(page, next_code(key, alice))
    page.goto("/account/security/")
    page.fill("#id_regenerate-code", next_code(key, alice))
    page.click("button:has-text('Make new recovery codes')")
    codes = page.locator("ul.codes code").all_inner_texts()
    assert len(codes) == 10
    assert_prints_only_the_codes(page, codes)


def test_wrong_codes_while_setting_up_do_not_lock_the_members_logins(alice_client, alice, settings, client):
    settings.THROTTLE_ACCOUNT_FAILURES = 3
    alice_client.post(reverse("two_factor_setup"))
    for _ in range(5):
        response = alice_client.post(reverse("two_factor_check"), {"check-code": "000000"}, follow=True)
        assert twofactor.WRONG_SETUP_CODE in response.content.decode()
    # The set-up checks the member's own new secret: the login is not locked by it.
    assert login(client).status_code == 302


def test_after_a_right_code_the_next_login_is_not_held_back(client, alice, settings, enable_two_factor, next_code):
    """A right code ends its attempt: left "in flight", it held the right password back
    ("try again in 1 second") for as long as the member kept trying."""
    from django.test import Client

    settings.THROTTLE_ACCOUNT_FAILURES = 3
    key, _codes = enable_two_factor(alice)
    client.force_login(alice)
    for _ in range(2):
        assert client.post(reverse("two_factor_disable"), {"disable-code": "000000"}).status_code == 400
    response = client.post(reverse("two_factor_disable"), {"disable-code": next_code(key, alice)})
    assert response.status_code == 302 and not twofactor.two_factor_enabled(alice)
    assert login(Client()).status_code == 302


@pytest.mark.django_db(transaction=True)
def test_the_print_button_prints_through_the_sites_own_script(page, alice, next_code, secret_from_page, log_in):
    """No inline onclick (the Content-Security-Policy forbids it): static/js/duckmail.js prints."""
    page.add_init_script("window.print = () => { window.__printed = (window.__printed || 0) + 1; };")
    violations = []
    page.on("console", lambda msg: violations.append(msg.text) if "Content Security Policy" in msg.text else None)
    log_in(page)
    page.click("header >> text=Settings")
    page.click("button:has-text('Setup all fields (needs Save)')")
    page.fill("#id_check-code", next_code(secret_from_page(page.content()), alice))
    page.click("button:has-text('Validate code')")
    page.click("button:has-text('Show recovery codes')")
    page.click("button:has-text('Print')")
    assert page.evaluate("window.__printed") == 1
    assert violations == []
