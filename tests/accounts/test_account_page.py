"""The account page: adding and removing aliases and redirections, the address limit, and asking for more space."""

import pytest
from django.urls import reverse

from accounts import services
from accounts.models import Address, QuotaRequest


def test_it_adds_and_removes_an_alias(alice_client, alice):
    response = alice_client.post(reverse("alias_add"), {"alias-local_part": "Ally"})
    assert response.status_code == 302
    alias = Address.objects.get(local_part="ally")
    assert alias.owner == alice and alias.kind == "alias"
    page = alice_client.get(reverse("account"))
    assert b"ally@duckmail.test" in page.content
    alice_client.post(reverse("address_remove", args=[alias.id]))
    assert not Address.objects.filter(local_part="ally").exists()


def test_alias_errors_show_next_to_the_field(alice_client, bob):
    response = alice_client.post(reverse("alias_add"), {"alias-local_part": "bob"})
    assert response.status_code == 400
    assert response.context["alias_form"].errors["local_part"] == [
        "bob@duckmail.test is already taken. Please choose another name."]
    assert b'id="id_alias-local_part_error"' in response.content
    response = alice_client.post(reverse("alias_add"), {"alias-local_part": "no way"})
    assert "local_part" in response.context["alias_form"].errors


def test_the_address_limit_is_enforced(alice_client, alice):
    alice.max_addresses = 1
    alice.save()
    assert alice_client.post(reverse("alias_add"), {"alias-local_part": "one"}).status_code == 302
    response = alice_client.post(reverse("alias_add"), {"alias-local_part": "two"})
    assert "limit of 1" in response.context["alias_form"].errors["local_part"][0]
    assert not Address.objects.filter(local_part="two").exists()


def test_it_adds_and_edits_a_redirection(alice_client, alice):
    response = alice_client.post(reverse("redirection_add"), {
        "redirection-local_part": "fwd", "redirection-targets": "Jane@Example.ORG, joe@example.net",
        "redirection-keep_copy": "on"})
    assert response.status_code == 302
    fwd = Address.objects.get(local_part="fwd")
    assert fwd.keep_copy
    assert sorted(fwd.targets.values_list("target", flat=True)) == ["Jane@example.org", "joe@example.net"]
    response = alice_client.post(reverse("redirection_edit", args=[fwd.id]), {"targets": "only@example.com"})
    assert response.status_code == 302
    fwd.refresh_from_db()
    assert not fwd.keep_copy
    assert list(fwd.targets.values_list("target", flat=True)) == ["only@example.com"]


def test_redirection_errors_show_next_to_the_field(alice_client, alice):
    response = alice_client.post(reverse("redirection_add"), {"redirection-local_part": "fwd",
                                                              "redirection-targets": "not an address"})
    assert response.status_code == 400
    assert "targets" in response.context["redirection_form"].errors
    response = alice_client.post(reverse("redirection_add"), {"redirection-local_part": "fwd",
                                                              "redirection-targets": "fwd@duckmail.test"})
    assert "loop" in response.context["redirection_form"].errors["targets"][0]
    assert not Address.objects.filter(local_part="fwd").exists()


def test_the_mailbox_address_can_not_be_removed(alice_client, alice):
    mailbox = Address.objects.get(owner=alice, kind="mailbox")
    alice_client.post(reverse("address_remove", args=[mailbox.id]))
    assert Address.objects.filter(pk=mailbox.pk).exists()


def test_a_stranger_can_not_touch_alices_addresses(client, alice, stranger):
    alias = services.add_alias(alice, "ally")
    fwd = services.add_redirection(alice, "fwd", ["x@example.org"])
    client.force_login(stranger)
    assert client.post(reverse("address_remove", args=[alias.id])).status_code == 404
    assert client.get(reverse("redirection_edit", args=[fwd.id])).status_code == 404
    assert client.post(reverse("redirection_edit", args=[fwd.id]), {"targets": "evil@example.org"}).status_code == 404
    assert Address.objects.filter(pk=alias.pk).exists()
    assert list(fwd.targets.values_list("target", flat=True)) == ["x@example.org"]
    page = client.get(reverse("account"))
    assert b"ally@" not in page.content and b"fwd@" not in page.content


def test_it_files_a_quota_request_once(alice_client, alice):
    response = alice_client.post(reverse("quota_request"), {"requested_mb": "256", "reason": "more"})
    assert response.status_code == 400
    assert "more than your current 512 MB" in response.context["quota_form"].errors["requested_mb"][0]
    response = alice_client.post(reverse("quota_request"), {"requested_mb": "2048", "reason": "Photos of ducks"})
    assert response.status_code == 302
    assert QuotaRequest.objects.get(member=alice).status == "pending"
    page = alice_client.get(reverse("account"))
    assert b"You asked for 2048 MB" in page.content
    response = alice_client.post(reverse("quota_request"), {"requested_mb": "4096", "reason": "even more"})
    assert "already have a request" in response.context["quota_form"].errors["requested_mb"][0]


def test_forms_need_csrf(alice):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    assert client.post(reverse("alias_add"), {"alias-local_part": "x"}).status_code == 403


def test_a_pasted_full_address_on_the_service_domain_is_fine(alice_client, alice):
    assert alice_client.post(reverse("alias_add"), {"alias-local_part": "Ally@DuckMail.test"}).status_code == 302
    assert Address.objects.filter(local_part="ally", owner=alice).exists()
    response = alice_client.post(reverse("alias_add"), {"alias-local_part": "ally@example.org"})
    assert response.context["alias_form"].errors["local_part"] == ["Only addresses on duckmail.test can be added here."]


def test_the_account_page_has_no_duplicate_ids(alice_client):
    import re

    page = alice_client.get(reverse("account")).content.decode()
    ids = re.findall(r'\bid="([^"]+)"', page)
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)


def _fits(page, selector: str) -> None:
    """Every control and cell of `selector` lies inside the phone's screen: nothing to scroll to."""
    width = page.evaluate("window.innerWidth")
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    for box in page.eval_on_selector_all(f"{selector} td, {selector} button, {selector} .button",
                                         "els => els.filter(e => e.offsetParent).map(e => e.getBoundingClientRect().right)"):
        assert box <= width + 0.5, selector


@pytest.mark.django_db(transaction=True)
def test_on_a_phone_the_addresses_and_mail_program_settings_fit_the_screen(page, alice, log_in):
    from accounts import app_passwords

    services.add_alias(alice, "a-rather-long-alias-for-newsletters")
    services.add_redirection(alice, "forwarding", ["someone.with.a.long.address@example.org"], keep_copy=True)
    app_passwords.create_app_password(alice, "Thunderbird-on-the-laptop-in-the-study-upstairs-by-the-door")
    page.set_viewport_size({"width": 360, "height": 780})
    log_in(page)
    _fits(page, "#address-list")
    _fits(page, "#mail-settings")
    assert page.is_visible("#address-list button:has-text('Remove')")
    assert page.is_visible("#mail-settings td[data-label='Port']") and page.is_visible("#mail-settings td[data-label='Security']")
    page.goto("/account/security/app-passwords/")
    _fits(page, "table.app-passwords")
    assert page.is_visible("table.app-passwords .button:has-text('Revoke')")
