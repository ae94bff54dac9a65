"""Signing up: a new member and mailbox, refused names and passwords next to their fields, the
limit per client address, and the whole walk in a real browser."""

import pytest
from django.urls import reverse

from accounts.models import Address, AuditLog, Member
from tests.helpers import PASSWORD


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


def test_an_over_long_name_is_refused_with_a_message_not_cut_short(client, db):
    page = client.get(reverse("signup")).content.decode()
    assert "maxlength" not in page  # a browser would cut the name without a word
    response = signup(client, local_part="a" * 65)
    assert response.status_code == 200
    assert "at most 64 characters (it has 65)" in " ".join(response.context["form"].errors["local_part"])
    assert not Member.objects.exclude(email__startswith="admin").exists()


def test_a_full_address_on_the_service_domain_signs_up_like_the_name(client, db):
    assert signup(client, local_part="Carol@DuckMail.test").status_code == 302
    assert Member.objects.filter(email="carol@duckmail.test").exists()
    from django.test import Client

    response = signup(Client(), local_part="dave@example.org")
    assert response.context["form"].errors["local_part"] == ["Only addresses on duckmail.test can be added here."]


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


def test_ipv6_clients_are_counted_by_their_slash_64(client, db, settings):
    settings.SIGNUP_PER_ADDRESS_PER_HOUR = 2
    statuses = []
    for n in range(1, 4):
        client.post(reverse("logout"))
        response = client.post(reverse("signup"), {"local_part": f"six{n}", "password1": PASSWORD,
                                                   "password2": PASSWORD}, REMOTE_ADDR=f"2001:db8:1:2::{n}")
        statuses.append(response.status_code)
    assert statuses == [302, 302, 429]


@pytest.mark.django_db(transaction=True)
def test_a_newcomer_signs_up_adds_an_alias_and_sees_mistakes_next_to_the_field(mail_stack, page, make_member):
    make_member("taken")
    page.goto("/signup/")
    page.fill("#id_local_part", "taken")
    page.fill("#id_password1", PASSWORD)
    page.fill("#id_password2", PASSWORD)
    page.click("button[type=submit]")
    assert page.inner_text("#id_local_part_error") == "taken@duckmail.test is already taken. Please choose another name."
    # What was typed is still there.
    assert page.input_value("#id_local_part") == "taken"

    page.fill("#id_local_part", "Frank")
    page.fill("#id_password1", PASSWORD)
    page.fill("#id_password2", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/account/")
    assert "Welcome! Your mailbox frank@duckmail.test is ready." in page.inner_text(".messages")
    assert "Your mailbox holds up to 512 MB" in page.inner_text("#quota")

    page.fill("#id_alias-local_part", "frankie")
    page.click("#alias-form button[type=submit]")
    assert "frankie@duckmail.test now delivers to your mailbox." in page.inner_text(".messages")
    assert Address.objects.get(local_part="frankie").owner == Member.objects.get(email="frank@duckmail.test")

    page.fill("#id_alias-local_part", "bad name")
    page.click("#alias-form button[type=submit]")
    assert "Use letters a–z" in page.inner_text("#alias-form .error")

    page.click("text=Log out")
    page.wait_for_url("**/login/")
