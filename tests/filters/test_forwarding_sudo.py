"""Forwarding mail elsewhere through filters needs a recently typed password, like a redirection:
forwarding rules, raw scripts, and changes that wake dormant forwarding rules up."""

import uuid

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from filters.models import Rule
from filters.services import editor, scripts

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def stale_client(client, make_member, mail_stack, settings):
    """A session whose password was typed long ago (sudo mode expired)."""
    member = make_member(f"s{uuid.uuid4().hex[:10]}")
    client.force_login(member)
    client.get(reverse("filters:index"))  # the session reaches Dovecot once
    settings.SUDO_MODE_SECONDS = 0
    client.member = member
    return client


@pytest.mark.parametrize("kind", ["redirect", "redirect_copy"])
def test_a_forwarding_rule_needs_the_password_again(stale_client, kind, rule_doing):
    response = stale_client.post(reverse("filters:rule_new"), rule_doing(kind))
    assert response.status_code == 302 and response.url.startswith(reverse("sudo"))
    assert not Rule.objects.filter(member=stale_client.member).exists()


def test_other_rules_do_not(stale_client, rule_doing):
    response = stale_client.post(reverse("filters:rule_new"), rule_doing("fileinto"))
    assert response.status_code == 302 and response.url == reverse("filters:index")


def test_re_enabling_a_forwarding_rule_needs_the_password_again(stale_client):
    member = stale_client.member
    saved = editor.save_rule(member, None, name="fwd", enabled=False, match="all",
                               conditions=[{"field": "subject", "op": "contains", "value": "x", "header": ""}],
                               actions=[{"kind": "redirect", "arg": "elsewhere@example.org"}])
    response = stale_client.post(reverse("filters:rule_toggle", args=[saved.id]))
    assert response.url.startswith(reverse("sudo"))
    assert not Rule.objects.get(pk=saved.id).enabled


def test_raw_scripts_need_the_password_again(stale_client):
    script = 'redirect "elsewhere@example.org";\n'
    response = stale_client.post(reverse("filters:script_new"), {"name": "out", "text": script, "activate": "on"})
    assert response.url.startswith(reverse("sudo"))
    upload = SimpleUploadedFile("out.sieve", script.encode())
    response = stale_client.post(reverse("filters:script_upload"), {"file": upload, "activate": "on"})
    assert response.url.startswith(reverse("sudo"))
    response = stale_client.post(reverse("filters:script_activate"), {"name": "out"})
    assert response.url.startswith(reverse("sudo"))
    assert scripts.list_scripts(stale_client.member).names == []


def test_waking_up_dormant_forwarding_rules_needs_the_password_again(stale_client, settings, rule_doing):
    member = stale_client.member
    editor.save_rule(member, None, name="fwd", enabled=True, match="all",
                       conditions=[{"field": "subject", "op": "contains", "value": "x", "header": ""}],
                       actions=[{"kind": "redirect", "arg": "elsewhere@example.org"}])
    scripts.save_script(member, "handmade", "keep;\n", activate=True)  # the forwarding rule sleeps
    for url, data in ((reverse("filters:options"), {"spam_threshold": "40"}),
                      (reverse("filters:vacation"), {"enabled": "on", "subject": "Away", "body": "x",
                                                     "addresses": [member.email], "days": "5"}),
                      (reverse("filters:rule_new"), rule_doing("fileinto"))):
        response = stale_client.post(url, data)
        assert response.status_code == 302 and response.url.startswith(reverse("sudo")), url
    assert scripts.list_scripts(member).active == "handmade"
