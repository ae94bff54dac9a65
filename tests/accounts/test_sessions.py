"""Web sessions end when the member changes the password, turns 2FA on or off, or is disabled;
sessions from before the security stamp stay valid."""

from django.test import Client
from django.urls import reverse

from tests.helpers import PASSWORD


def test_changing_the_password_ends_the_other_sessions(alice, alice_client):
    other = Client()
    other.force_login(alice)
    assert other.get(reverse("account")).status_code == 200
    response = alice_client.post(reverse("password_change"), {
        "old_password": PASSWORD, "new_password1": "New-Passw0rd-here", "new_password2": "New-Passw0rd-here"})
    assert response.status_code == 302
    assert alice_client.get(reverse("account")).status_code == 200
    assert other.get(reverse("account")).status_code == 302


def test_turning_2fa_on_or_off_ends_the_other_web_sessions(alice, alice_client, enable_two_factor):
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


def test_disabling_a_member_ends_their_open_web_session(alice_client, alice):
    from accounts import services

    assert alice_client.get(reverse("account")).status_code == 200
    services.set_member_active(alice, False, actor=None)
    response = alice_client.get(reverse("account"))
    assert response.status_code == 302 and response.url.startswith(reverse("login"))


def test_sessions_from_before_the_stamp_existed_stay_valid(alice):
    from django.contrib.auth.base_user import AbstractBaseUser

    assert alice.security_stamp == ""
    assert alice.get_session_auth_hash() == AbstractBaseUser._get_session_auth_hash(alice)
