import pytest
from django.urls import reverse

from accounts.models import Address, AuditLog, Member
from tests.conftest import PASSWORD


def signup(client, local_part="carol", password=PASSWORD, password2=None, **extra):
    return client.post(reverse("signup"), {
        "local_part": local_part, "display_name": "Carol", "password1": password,
        "password2": password if password2 is None else password2, **extra,
    })


def test_it_creates_a_member_with_a_mailbox_and_logs_them_in(client, db):
    response = signup(client)
    assert response.status_code == 302 and response.url == reverse("account")
    member = Member.objects.get(email="carol@duckmail.test")
    assert member.password.startswith("argon2$argon2id$")
    assert Address.objects.get(owner=member).kind == "mailbox"
    assert AuditLog.objects.filter(action="member.created", member=member).exists()
    page = client.get(reverse("account"))
    assert b"carol@duckmail.test" in page.content


@pytest.mark.parametrize("name", ["postmaster", "Abuse", "root", "admin", "hostmaster", "webmaster", "noreply",
                                  "mailer-daemon"])
def test_it_refuses_reserved_names_next_to_the_field(client, db, name):
    response = signup(client, name)
    assert response.status_code == 200
    assert response.context["form"].errors["local_part"][0].endswith("is reserved for the service. Please choose another name.")
    assert b'id_local_part_error' in response.content
    assert not Member.objects.exists()


def test_it_refuses_a_taken_address_even_if_an_alias(client, alice):
    from accounts import services

    services.add_alias(alice, "taken")
    for name in ("alice", "ALICE", "taken"):
        response = signup(client, name)
        assert "is already taken" in response.context["form"].errors["local_part"][0]


def test_it_refuses_weak_and_mismatched_passwords(client, db):
    response = signup(client, password="password123")
    assert "password1" in response.context["form"].errors
    response = signup(client, password="Carol@duckmail.test7")
    assert any("too similar" in e for e in response.context["form"].errors["password1"])
    response = signup(client, password="lowercaseonly")
    assert any("three of" in e for e in response.context["form"].errors["password1"])
    response = signup(client, password2="Something-else-9")
    assert response.context["form"].errors["password2"] == ["The two passwords differ."]
    assert not Member.objects.exists()


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


def test_a_disabled_member_can_not_log_in_on_the_web(client, alice):
    from accounts import services

    services.set_member_active(alice, False, actor=None)
    response = client.post(reverse("login"), {"username": "alice@duckmail.test", "password": PASSWORD})
    assert response.status_code == 200
    assert client.get(reverse("account")).status_code == 302


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


def test_pages_need_a_login(client, db):
    for name in ("account", "password_change"):
        response = client.get(reverse(name))
        assert response.status_code == 302 and response.url.startswith(reverse("login"))


def test_disabling_a_member_ends_their_open_web_session(alice_client, alice):
    from accounts import services

    assert alice_client.get(reverse("account")).status_code == 200
    services.set_member_active(alice, False, actor=None)
    response = alice_client.get(reverse("account"))
    assert response.status_code == 302 and response.url.startswith(reverse("login"))


def test_one_address_can_not_create_accounts_in_bulk(client, db, settings):
    settings.SIGNUP_PER_ADDRESS_PER_HOUR = 2
    assert signup(client, "one").status_code == 302
    client.post(reverse("logout"))
    assert signup(client, "two").status_code == 302
    client.post(reverse("logout"))
    response = signup(client, "three")
    assert response.status_code == 429
    assert "Too many new accounts from your address" in response.content.decode()
    assert not Member.objects.filter(email="three@duckmail.test").exists()
    # Another address is not affected.
    response = client.post(reverse("signup"), {"local_part": "four", "password1": PASSWORD, "password2": PASSWORD},
                           REMOTE_ADDR="192.0.2.9")
    assert response.status_code == 302


@pytest.mark.parametrize("next_url", ["inbox", "account", "//evil.example/", "https://evil.example/", "javascript:x"])
def test_a_crafted_next_after_login_lands_on_the_account_page(client, alice, next_url):
    response = client.post(reverse("login"), {"username": "alice@duckmail.test", "password": PASSWORD,
                                              "next": next_url})
    assert response.status_code == 302 and response.url == reverse("account")


def test_the_login_page_says_where_to_ask_for_a_forgotten_password(client, db):
    page = client.get(reverse("login")).content.decode()
    assert "Forgot your password" in page and 'href="mailto:postmaster@duckmail.test"' in page


def test_ipv6_clients_are_counted_by_their_slash_64(client, db, settings):
    settings.SIGNUP_PER_ADDRESS_PER_HOUR = 2
    statuses = []
    for n in range(1, 4):
        client.post(reverse("logout"))
        response = client.post(reverse("signup"), {"local_part": f"six{n}", "password1": PASSWORD,
                                                   "password2": PASSWORD}, REMOTE_ADDR=f"2001:db8:1:2::{n}")
        statuses.append(response.status_code)
    assert statuses == [302, 302, 429]
