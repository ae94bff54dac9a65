"""Sudo mode: changes to addresses and security settings ask for the password (and a code with
2FA) again after a while, looking needs none, and the confirmation page never leads off-site."""

import time

from django.urls import reverse
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts import app_passwords, sudo, twofactor
from accounts.models import Address, MailToken
from tests.helpers import PASSWORD


def age_session(client, seconds: int) -> None:
    session = client.session
    session[sudo.AUTH_AT_KEY] = int(time.time()) - seconds
    session.save()


def stale(client, settings) -> None:
    age_session(client, settings.SUDO_MODE_SECONDS + 5)


def test_sensitive_changes_ask_for_the_password_again_after_a_while(alice_client, alice, settings):
    fwd_page = reverse("account")
    age_session(alice_client, settings.SUDO_MODE_SECONDS + 5)
    # Looking needs no password (the password page asks for the old one on its own form).
    for name in ("security", "password_change"):
        assert alice_client.get(reverse(name)).status_code == 200
    # A POST is not replayed: it comes back to the page the form was on.
    response = alice_client.post(reverse("redirection_add"),
                                 {"redirection-local_part": "fwd", "redirection-targets": "x@example.org"},
                                 HTTP_REFERER="http://testserver" + fwd_page)
    assert response.status_code == 302 and response.url.startswith(reverse("sudo"))
    assert not Address.objects.filter(local_part="fwd").exists()
    response = alice_client.post(reverse("app_password_create"), {"name": "Phone"})
    assert response.url.startswith(reverse("sudo"))
    assert not app_passwords.app_passwords(alice).exists()

    sudo_url = reverse("sudo") + "?next=" + reverse("security")
    response = alice_client.post(sudo_url, {"password": "wrong", "next": reverse("security")})
    assert response.status_code == 400
    assert response.context["form"].errors["password"] == ["That is not your password."]
    response = alice_client.post(sudo_url, {"password": PASSWORD, "next": reverse("security")})
    assert response.status_code == 302 and response.url == reverse("security")
    assert alice_client.get(reverse("security")).status_code == 200
    response = alice_client.post(reverse("redirection_add"),
                                 {"redirection-local_part": "fwd", "redirection-targets": "x@example.org"})
    assert response.status_code == 302 and Address.objects.filter(local_part="fwd").exists()


def test_sudo_does_not_redirect_off_site(alice_client):
    response = alice_client.post(reverse("sudo"), {"password": PASSWORD, "next": "https://evil.example/"})
    assert response.status_code == 302 and response.url == reverse("account")


def test_a_fresh_login_counts_as_recent(client, alice):
    client.post(reverse("login"), {"username": "alice", "password": PASSWORD})
    response = client.post(reverse("app_password_create"), {"name": "Phone"})
    assert response.status_code == 302 and response.url.startswith(reverse("security"))


def test_with_2fa_sudo_mode_asks_for_a_code_too(alice, client, settings, enable_two_factor, next_code):
    key, codes = enable_two_factor(alice)
    client.force_login(alice)
    age_session(client, settings.SUDO_MODE_SECONDS + 5)
    url = reverse("sudo")
    page = client.get(url + "?next=" + reverse("security"))
    assert "code" in page.context["form"].fields
    response = client.post(url, {"password": PASSWORD, "code": "000000", "next": reverse("security")})
    assert response.status_code == 400
    assert "not right" in response.context["form"].errors["code"][0]
    assert client.post(reverse("app_password_create"), {"name": "Phone"}).url.startswith(url)
    # A wrong password does not use up the recovery code typed with it.
    response = client.post(url, {"password": "wrong", "code": codes[0], "next": reverse("security")})
    assert response.status_code == 400 and "password" in response.context["form"].errors
    assert twofactor.recovery_codes_left(alice) == 10
    response = client.post(url, {"password": PASSWORD, "code": next_code(key, alice), "next": reverse("security")})
    assert response.status_code == 302 and response.url == reverse("security")
    assert client.post(reverse("app_password_create"), {"name": "Phone"}).url.startswith(reverse("security"))


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
