"""The Settings page: the menu and its tabs, the Password tab, what the page costs in queries,
which pages autofocus, and how warning messages look."""

import re

import pytest
from django.urls import reverse

from accounts import app_passwords
from accounts.models import AuditLog
from tests.helpers import PASSWORD


def header(html: str) -> str:
    return re.search(r'<header class="top">(.*?)</header>', html, re.S).group(1)


def test_the_menu_says_settings_with_the_documented_tabs(alice_client):
    page = alice_client.get(reverse("account")).content.decode()
    nav = header(page)
    assert f'href="{reverse("security")}">Settings</a>' in nav
    assert ">Security<" not in nav and ">Password<" not in nav

    for url, current in ((reverse("security"), "2-Factor Authentication"),
                         (reverse("app_passwords"), "App passwords"), (reverse("password_change"), "Password")):
        page = alice_client.get(url).content.decode()
        tabs = re.search(r'<nav class="tabs"[^>]*>(.*?)</nav>', page, re.S).group(1)
        assert re.findall(r">([^<]+)</a>", tabs) == ["2-Factor Authentication", "App passwords", "Password"]
        assert "<h1>Settings</h1>" in page
        # Each tab is a page of its own, and the tab of the page is the highlighted one.
        assert re.findall(r'aria-current="page">([^<]+)</a>', tabs) == [current]
    assert 'id="app-passwords"' not in alice_client.get(reverse("security")).content.decode()
    assert 'id="two-factor"' not in alice_client.get(reverse("app_passwords")).content.decode()


def test_changing_the_password_needs_the_old_one(alice_client, alice):
    url = reverse("password_change")
    response = alice_client.post(url, {"old_password": "wrong", "new_password1": "New-Passw0rd-here",
                                       "new_password2": "New-Passw0rd-here"})
    assert "old_password" in response.context["form"].errors
    response = alice_client.post(url, {"old_password": PASSWORD, "new_password1": "New-Passw0rd-here",
                                       "new_password2": "New-Passw0rd-here"})
    assert response.status_code == 302
    alice.refresh_from_db()
    assert alice.check_password("New-Passw0rd-here")
    assert AuditLog.objects.filter(action="member.password_changed", member=alice).exists()


@pytest.mark.django_db(transaction=True)
def test_the_security_page_costs_the_same_queries_for_one_or_many_app_passwords(alice_client, alice,
                                                                               django_assert_max_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    app_passwords.create_app_password(alice, "One")
    with CaptureQueriesContext(connection) as one:
        assert alice_client.get(reverse("app_passwords")).status_code == 200
    for n in range(5):
        app_passwords.create_app_password(alice, f"Phone {n}")
    with django_assert_max_num_queries(len(one.captured_queries)):
        page = alice_client.get(reverse("app_passwords"))
    assert page.content.decode().count(">Revoke</a>") == 6


def test_only_the_code_step_and_the_sudo_page_autofocus(client, alice, settings, enable_two_factor):
    enable_two_factor(alice)
    client.force_login(alice)
    assert "autofocus" not in client.get(reverse("security")).content.decode()
    assert "autofocus" not in client.get(reverse("password_change")).content.decode()
    assert re.search(r'<input type="password" name="password"[^>]*autofocus', client.get(reverse("sudo")).content.decode())
    client.post(reverse("logout"))
    client.post(reverse("login"), {"username": "alice", "password": PASSWORD})
    page = client.get(reverse("login_code")).content.decode()
    assert re.search(r'<input type="text" name="code"[^>]*autofocus', page)


def test_the_warning_message_style_exists():
    from django.conf import settings as django_settings

    css = (django_settings.BASE_DIR / "static" / "css" / "duckmail.css").read_text()
    assert re.search(r"\.messages li\.warning\s*\{[^}]*background", css)


@pytest.mark.django_db(transaction=True)
def test_a_warning_message_is_shown_in_the_warning_colour(page, alice, enable_two_factor, log_in):
    _, codes = enable_two_factor(alice)
    log_in(page, codes[0])
    warning = page.locator(".messages li.warning")
    assert "recovery code" in warning.inner_text()
    colour = warning.evaluate("e => getComputedStyle(e).backgroundColor")
    info = page.evaluate("""() => { const li = document.createElement('li'); li.className = 'info';
        document.querySelector('.messages').append(li); return getComputedStyle(li).backgroundColor; }""")
    assert colour == "rgb(255, 244, 229)" and colour != info
