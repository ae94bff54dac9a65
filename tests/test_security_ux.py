"""The security, login and sudo pages after the UX review: the service page's words, a set-up
that says it is not active yet and can be cancelled, sudo mode only for changes, a confirmed
revoke, POST-redirect-GET for one-time secrets, and the admin's password change."""

import re
import time

import pytest
from django.urls import reverse
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts import app_passwords, sudo, twofactor
from accounts.models import AuditLog, MailToken
from tests.conftest import PASSWORD
from tests.twofactor_helpers import enable_two_factor, next_code, recovery_codes_from_page, secret_from_page


def age_session(client, seconds: int) -> None:
    session = client.session
    session[sudo.AUTH_AT_KEY] = int(time.time()) - seconds
    session.save()


def stale(client, settings) -> None:
    age_session(client, settings.SUDO_MODE_SECONDS + 5)


def header(html: str) -> str:
    return re.search(r'<header class="top">(.*?)</header>', html, re.S).group(1)


def start_and_check(client, member) -> bytes:
    """ "Setup all fields (needs Save)" and a right "Check code", through the pages."""
    client.post(reverse("two_factor_setup"))
    key = secret_from_page(client.get(reverse("security")).content.decode())
    assert client.post(reverse("two_factor_check"), {"check-code": next_code(key, member)}).status_code == 302
    return key


# 2. The service page's words --------------------------------------------------------------


def test_the_menu_says_settings_with_the_documented_tabs(alice_client):
    page = alice_client.get(reverse("account")).content.decode()
    nav = header(page)
    assert f'href="{reverse("security")}">Settings</a>' in nav
    assert ">Security<" not in nav and ">Password<" not in nav

    for url in (reverse("security"), reverse("password_change")):
        page = alice_client.get(url).content.decode()
        tabs = re.search(r'<nav class="tabs"[^>]*>(.*?)</nav>', page, re.S).group(1)
        assert re.findall(r">([^<]+)</a>", tabs) == ["2-Factor Authentication", "App passwords", "Password"]
        assert "<h1>Settings</h1>" in page


def test_the_set_up_uses_the_documented_button_and_field_names(alice_client, alice):
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


# 3. A half-finished set-up says so, and can be cancelled ----------------------------------


def test_a_half_finished_set_up_says_2fa_is_still_off(alice_client):
    assert "Not active yet" not in alice_client.get(reverse("security")).content.decode()
    alice_client.post(reverse("two_factor_setup"))
    page = alice_client.get(reverse("security")).content.decode()
    assert "Not active yet:</strong>" in page and "two-factor authentication is off until you press Save." in page
    assert ">Cancel set-up</button>" in page


def test_cancel_set_up_deletes_the_unconfirmed_devices_and_is_audited(alice_client, alice):
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


def test_cancel_set_up_never_turns_an_active_2fa_off(alice_client, alice):
    enable_two_factor(alice)
    alice_client.force_login(alice)
    alice_client.post(reverse("two_factor_cancel"))
    assert twofactor.two_factor_enabled(alice) and twofactor.recovery_codes_left(alice) == 10


# 4. Sudo mode only for changes --------------------------------------------------------------


def test_looking_at_settings_and_changing_the_password_need_no_sudo(alice_client, alice, settings):
    stale(alice_client, settings)
    assert alice_client.get(reverse("security")).status_code == 200
    assert alice_client.get(reverse("password_change")).status_code == 200
    response = alice_client.post(reverse("password_change"), {
        "old_password": PASSWORD, "new_password1": "New-Passw0rd-here", "new_password2": "New-Passw0rd-here"})
    assert response.status_code == 302 and not response.url.startswith(reverse("sudo"))
    alice.refresh_from_db()
    assert alice.check_password("New-Passw0rd-here")


def test_every_security_change_still_needs_sudo(alice_client, alice, settings):
    token, _ = app_passwords.create_app_password(alice, "Phone")
    stale(alice_client, settings)
    changes = {
        "two_factor_setup": {}, "two_factor_check": {"check-code": "123456"}, "two_factor_recovery_codes": {},
        "two_factor_save": {}, "two_factor_cancel": {}, "two_factor_disable": {"disable-code": "123456"},
        "two_factor_regenerate": {"regenerate-code": "123456"}, "app_password_create": {"name": "Laptop"},
    }
    for name, data in changes.items():
        response = alice_client.post(reverse(name), data)
        assert response.status_code == 302 and response.url.startswith(reverse("sudo")), name
    for method in (alice_client.get, alice_client.post):
        response = method(reverse("app_password_revoke", args=[token.pk]))
        assert response.status_code == 302 and response.url.startswith(reverse("sudo"))
    assert not TOTPDevice.objects.filter(user=alice).exists()
    assert list(MailToken.objects.filter(member=alice, kind="app").values_list("name", flat=True)) == ["Phone"]


def test_a_set_up_key_is_only_shown_in_sudo_mode(alice_client, alice, settings):
    alice_client.post(reverse("two_factor_setup"))
    stale(alice_client, settings)
    page = alice_client.get(reverse("security")).content.decode()
    assert 'id="totp-secret"' not in page and "<svg" not in page
    assert "Confirm it&#x27;s you</a> to see them again" in page or "Confirm it's you</a> to see them again" in page


def test_the_sudo_page_says_confirm_its_you_and_cancels_back(alice_client, settings):
    stale(alice_client, settings)
    came_from = "http://testserver" + reverse("security")
    response = alice_client.post(reverse("app_password_create"), {"name": "Phone"}, HTTP_REFERER=came_from)
    page = alice_client.get(response.url).content.decode()
    assert "<h1>Confirm it&#x27;s you</h1>" in page or "<h1>Confirm it's you</h1>" in page
    assert f'<a class="button secondary" href="{came_from}">Cancel</a>' in page
    # Without a page to go back to, Cancel leads to the account page, never off-site.
    page = alice_client.get(reverse("sudo") + "?cancel=https://evil.example/").content.decode()
    assert f'href="{reverse("account")}">Cancel</a>' in page and "evil.example" not in page


# 5. Revoking asks first ---------------------------------------------------------------------


def test_revoking_an_app_password_asks_first_naming_it(alice_client, alice):
    token, _ = app_passwords.create_app_password(alice, "Laptop Thunderbird")
    page = alice_client.get(reverse("security")).content.decode()
    assert f'href="{reverse("app_password_revoke", args=[token.pk])}"' in page
    response = alice_client.get(reverse("app_password_revoke", args=[token.pk]))
    assert response.status_code == 200
    page = response.content.decode()
    assert "Revoke “Laptop Thunderbird”?" in page and "Revoke “Laptop Thunderbird”</button>" in page
    assert f'href="{reverse("security")}#app-passwords">Cancel</a>' in page
    assert MailToken.objects.filter(pk=token.pk).exists()
    response = alice_client.post(reverse("app_password_revoke", args=[token.pk]))
    assert response.status_code == 302 and not MailToken.objects.filter(pk=token.pk).exists()


# 6. Login wording ---------------------------------------------------------------------------


def test_a_failed_login_says_the_address_and_password_do_not_match(client, alice):
    for username in ("alice", "ALICE@DuckMail.test", "nobody"):
        response = client.post(reverse("login"), {"username": username, "password": "wrong-password"})
        page = response.content.decode()
        assert "That address and password do not match." in page
        assert "case-sensitive" not in page and "Please enter a correct" not in page
    # The address is indeed not case-sensitive.
    response = client.post(reverse("login"), {"username": "ALICE@DuckMail.test", "password": PASSWORD})
    assert response.status_code == 302 and response.url == reverse("account")


# 7. One-time secrets survive no reload --------------------------------------------------------


def test_creating_an_app_password_redirects_and_shows_the_secret_once(alice_client, alice):
    response = alice_client.post(reverse("app_password_create"), {"name": "Phone"})
    assert response.status_code == 302 and response.url == reverse("security") + "#new-app-password"
    page = alice_client.get(response.url).content.decode()
    secret = re.search(r'<code class="secret">([a-z ]+)</code>', page).group(1)
    token = MailToken.objects.get(member=alice, kind="app")
    assert (token.token_hash, token.grouped_hash) == app_passwords.token_hashes(secret)
    assert "App password for <strong>Phone</strong>" in page
    # A reload is a GET: no second app password, and the secret is gone.
    page = alice_client.get(reverse("security")).content.decode()
    assert secret not in page and 'id="new-app-password"' not in page
    assert MailToken.objects.filter(member=alice, kind="app").count() == 1


def test_show_recovery_codes_redirects_and_a_reload_makes_no_new_ones(alice_client, alice):
    start_and_check(alice_client, alice)
    response = alice_client.post(reverse("two_factor_recovery_codes"))
    assert response.status_code == 302 and response.url == reverse("security") + "#recovery-codes"
    codes = recovery_codes_from_page(alice_client.get(response.url).content.decode())
    stored = set(StaticDevice.objects.get(user=alice).token_set.values_list("token", flat=True))
    assert len(codes) == 10 and set(codes) == stored
    assert not recovery_codes_from_page(alice_client.get(reverse("security")).content.decode())
    assert set(StaticDevice.objects.get(user=alice).token_set.values_list("token", flat=True)) == stored


def test_new_recovery_codes_redirect_too(alice_client, alice):
    key, _ = enable_two_factor(alice)
    alice_client.force_login(alice)
    response = alice_client.post(reverse("two_factor_regenerate"), {"regenerate-code": next_code(key, alice)})
    assert response.status_code == 302
    assert len(recovery_codes_from_page(alice_client.get(response.url).content.decode())) == 10
    assert not recovery_codes_from_page(alice_client.get(reverse("security")).content.decode())


# 8. Autofocus and the app password name ---------------------------------------------------------


def test_only_the_code_step_and_the_sudo_page_autofocus(client, alice, settings):
    enable_two_factor(alice)
    client.force_login(alice)
    assert "autofocus" not in client.get(reverse("security")).content.decode()
    assert "autofocus" not in client.get(reverse("password_change")).content.decode()
    assert re.search(r'<input type="password" name="password"[^>]*autofocus', client.get(reverse("sudo")).content.decode())
    client.post(reverse("logout"))
    client.post(reverse("login"), {"username": "alice", "password": PASSWORD})
    page = client.get(reverse("login_code")).content.decode()
    assert re.search(r'<input type="text" name="code"[^>]*autofocus', page)


@pytest.mark.parametrize("name", ["", "   ", "\t \n"])
def test_a_blank_app_password_name_gets_the_custom_message(alice_client, name):
    response = alice_client.post(reverse("app_password_create"), {"name": name})
    assert response.status_code == 400
    assert response.context["app_password_form"].errors["name"] == ["Give the app password a name, e.g. “Phone”."]
    assert "This field is required" not in response.content.decode()


# 9. Logging out says so ------------------------------------------------------------------------


def test_logging_out_says_so_on_the_login_page(alice_client):
    response = alice_client.post(reverse("logout"), follow=True)
    assert response.redirect_chain[-1][0] == reverse("login")
    assert '<li class="info" role="status">You are logged out.</li>' in response.content.decode()
    assert alice_client.get(reverse("account")).status_code == 302


def test_the_warning_message_style_exists():
    from django.conf import settings as django_settings

    css = (django_settings.BASE_DIR / "static" / "css" / "duckmail.css").read_text()
    assert re.search(r"\.messages li\.warning\s*\{[^}]*background", css)


# 10. The admin's own password change is the member's -------------------------------------------


def test_the_admin_change_password_goes_to_the_member_password_page(client, make_member):
    admin_member = make_member("boss", is_staff=True, is_superuser=True)
    client.force_login(admin_member)
    response = client.get(reverse("admin:password_change"))
    assert response.status_code == 302 and response.url == reverse("password_change")
    response = client.post(reverse("admin:password_change"), {
        "old_password": PASSWORD, "new_password1": "New-Passw0rd-here", "new_password2": "New-Passw0rd-here"})
    admin_member.refresh_from_db()
    assert admin_member.check_password(PASSWORD)  # nothing changed behind the member flow's back
    # Through the member page the change is audited.
    client.post(reverse("password_change"), {
        "old_password": PASSWORD, "new_password1": "New-Passw0rd-here", "new_password2": "New-Passw0rd-here"})
    assert AuditLog.objects.filter(action="member.password_changed", member=admin_member).exists()
