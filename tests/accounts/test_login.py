"""Logging in and out on the web: by full address or name, what a refused login says, pages behind
the login, and where the next URL may lead."""

import pytest
from django.urls import reverse

from tests.helpers import PASSWORD


def test_members_log_in_with_their_full_address_or_name_and_log_out(client, alice):
    response = client.post(reverse("login"), {"username": "Alice@DuckMail.test", "password": PASSWORD})
    assert response.status_code == 302
    client.post(reverse("logout"))
    response = client.post(reverse("login"), {"username": "alice", "password": PASSWORD})
    assert response.status_code == 302
    assert client.get(reverse("account")).status_code == 200
    client.post(reverse("logout"))
    assert client.get(reverse("account")).status_code == 302


def test_a_wrong_password_says_so_on_the_form(client, alice):
    response = client.post(reverse("login"), {"username": "alice@duckmail.test", "password": "nope"})
    assert response.status_code == 200
    assert response.context["form"].non_field_errors()
    assert b'class="error form-error"' in response.content


def test_a_failed_login_says_the_address_and_password_do_not_match(client, alice):
    for username in ("alice", "ALICE@DuckMail.test", "nobody"):
        response = client.post(reverse("login"), {"username": username, "password": "wrong-password"})
        page = response.content.decode()
        assert "That address and password do not match." in page
        assert "case-sensitive" not in page and "Please enter a correct" not in page
    # The address is indeed not case-sensitive.
    response = client.post(reverse("login"), {"username": "ALICE@DuckMail.test", "password": PASSWORD})
    assert response.status_code == 302 and response.url == reverse("account")


def test_a_disabled_member_can_not_log_in_on_the_web(client, alice):
    from accounts import services

    services.set_member_active(alice, False, actor=None)
    response = client.post(reverse("login"), {"username": "alice@duckmail.test", "password": PASSWORD})
    assert response.status_code == 200
    assert client.get(reverse("account")).status_code == 302


def test_pages_need_a_login(client, db):
    for name in ("account", "password_change"):
        response = client.get(reverse(name))
        assert response.status_code == 302 and response.url.startswith(reverse("login"))


@pytest.mark.parametrize("next_url", ["inbox", "account", "//evil.example/", "https://evil.example/", "javascript:x"])
def test_a_crafted_next_after_login_lands_on_the_account_page(client, alice, next_url):
    response = client.post(reverse("login"), {"username": "alice@duckmail.test", "password": PASSWORD,
                                              "next": next_url})
    assert response.status_code == 302 and response.url == reverse("account")


def test_the_login_page_says_where_to_ask_for_a_forgotten_password(client, db):
    page = client.get(reverse("login")).content.decode()
    assert "Forgot your password" in page and 'href="mailto:postmaster@duckmail.test"' in page


def test_logging_out_says_so_on_the_login_page(alice_client):
    response = alice_client.post(reverse("logout"), follow=True)
    assert response.redirect_chain[-1][0] == reverse("login")
    assert '<li class="info" role="status">You are logged out.</li>' in response.content.decode()
    assert alice_client.get(reverse("account")).status_code == 302


def test_the_front_page_says_what_the_service_is_before_asking_to_log_in(client, alice):
    response = client.get(reverse("home"))
    assert response.status_code == 200
    body = response.content.decode()
    assert "a mail service run for its members" in body and "duckmail.test" in body
    assert f'href="{reverse("login")}"' in body and f'href="{reverse("signup")}"' in body
    client.force_login(alice)
    assert client.get(reverse("home")).url == reverse("account")
