"""Sudo mode, sessions ending at a password change, and production cookie settings."""

import json
import os
import subprocess
import sys
import time

from django.conf import settings as django_settings
from django.test import Client
from django.urls import reverse

from accounts import app_passwords, sudo, twofactor
from accounts.models import Address
from tests.conftest import PASSWORD


def age_session(client, seconds: int) -> None:
    session = client.session
    session[sudo.AUTH_AT_KEY] = int(time.time()) - seconds
    session.save()


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


def test_changing_the_password_ends_the_other_sessions(alice, alice_client):
    other = Client()
    other.force_login(alice)
    assert other.get(reverse("account")).status_code == 200
    response = alice_client.post(reverse("password_change"), {
        "old_password": PASSWORD, "new_password1": "New-Passw0rd-here", "new_password2": "New-Passw0rd-here"})
    assert response.status_code == 302
    assert alice_client.get(reverse("account")).status_code == 200
    assert other.get(reverse("account")).status_code == 302


def test_production_cookies_are_secure_and_host_only():
    code = ("import json; from django.conf import settings as s; print(json.dumps([s.SESSION_COOKIE_SECURE, "
            "s.CSRF_COOKIE_SECURE, s.SESSION_COOKIE_HTTPONLY, s.SESSION_COOKIE_NAME, s.CSRF_COOKIE_NAME, "
            "s.SESSION_COOKIE_SAMESITE, s.DEBUG]))")
    env = {k: v for k, v in os.environ.items() if not k.startswith("DUCKMAIL_")}
    env.update(DJANGO_SETTINGS_MODULE="duckmail.settings", DUCKMAIL_SECRET_KEY="x" * 50)
    out = subprocess.run([sys.executable, "-c", "import django; django.setup(); " + code], env=env,
                         capture_output=True, text=True, cwd=django_settings.BASE_DIR, check=True).stdout
    assert json.loads(out) == [True, True, True, "__Host-sessionid", "__Host-csrftoken", "Lax", False]


def test_turning_2fa_on_or_off_ends_the_other_web_sessions(alice, alice_client):
    from tests.twofactor_helpers import enable_two_factor

    other = Client()
    other.force_login(alice)
    key, codes = enable_two_factor(alice)
    assert other.get(reverse("account")).status_code == 302

    alice_client.force_login(alice)
    other.force_login(alice)
    response = alice_client.post(reverse("two_factor_disable"), {"disable-code": codes[0]})
    assert response.status_code == 302
    assert alice_client.get(reverse("account")).status_code == 200
    assert other.get(reverse("account")).status_code == 302


def test_sessions_from_before_the_stamp_existed_stay_valid(alice):
    from django.contrib.auth.base_user import AbstractBaseUser

    assert alice.security_stamp == ""
    assert alice.get_session_auth_hash() == AbstractBaseUser._get_session_auth_hash(alice)


def test_with_2fa_sudo_mode_asks_for_a_code_too(alice, client, settings):
    from tests.twofactor_helpers import enable_two_factor, next_code

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
