"""Forwarding mail elsewhere through filters needs a recently typed password, like a redirection."""

import uuid

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from filters.models import Rule
from filters.services import editor, scripts

# Set-up calls services directly, as a worker would (the pages themselves act as the web member).
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("as_worker")]


@pytest.fixture
def stale_client(client, make_member, mail_stack, settings):
    """A session whose password was typed long ago (sudo mode expired)."""
    member = make_member(f"s{uuid.uuid4().hex[:10]}")
    client.force_login(member)
    client.get(reverse("filters:index"))  # the session reaches Dovecot once
    settings.SUDO_MODE_SECONDS = 0
    client.member = member
    return client


def rule(kind: str, **extra) -> dict:
    data = {
        "rule-name": "Out", "rule-enabled": "on", "rule-match": "all",
        "cond-TOTAL_FORMS": "1", "cond-INITIAL_FORMS": "0",
        "cond-0-field": "subject", "cond-0-op": "contains", "cond-0-value": "x", "cond-0-header": "",
        "act-TOTAL_FORMS": "1", "act-INITIAL_FORMS": "0",
        "act-0-kind": kind, "act-0-folder": "Junk" if kind == "fileinto" else "",
        "act-0-address": "elsewhere@example.org" if kind.startswith("redirect") else "", "act-0-text": "",
    }
    data.update(extra)
    return data


@pytest.mark.parametrize("kind", ["redirect", "redirect_copy"])
def test_a_forwarding_rule_needs_the_password_again(stale_client, kind):
    response = stale_client.post(reverse("filters:rule_new"), rule(kind))
    assert response.status_code == 302 and response.url.startswith(reverse("sudo"))
    assert not Rule.objects.filter(member=stale_client.member).exists()


def test_other_rules_do_not(stale_client):
    response = stale_client.post(reverse("filters:rule_new"), rule("fileinto"))
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


@pytest.mark.parametrize("extra, status", [
    ({"cond-0-field": "spam", "cond-0-op": "over", "cond-0-value": "²"}, 400),
    ({"cond-0-field": "spam", "cond-0-op": "over", "cond-0-value": "٣"}, 400),
    ({"cond-TOTAL_FORMS": "x", "add_condition": "1"}, 200),  # the form again, one row more
])
def test_odd_input_is_a_form_error_not_a_crash(client, make_member, mail_stack, extra, status):
    member = make_member(f"o{uuid.uuid4().hex[:10]}")
    client.force_login(member)
    response = client.post(reverse("filters:rule_new"), rule("fileinto", **extra))
    assert response.status_code == status
    assert not Rule.objects.filter(member=member).exists()


def test_waking_up_dormant_forwarding_rules_needs_the_password_again(stale_client, settings):
    member = stale_client.member
    editor.save_rule(member, None, name="fwd", enabled=True, match="all",
                       conditions=[{"field": "subject", "op": "contains", "value": "x", "header": ""}],
                       actions=[{"kind": "redirect", "arg": "elsewhere@example.org"}])
    scripts.save_script(member, "handmade", "keep;\n", activate=True)  # the forwarding rule sleeps
    for url, data in ((reverse("filters:options"), {"spam_threshold": "40"}),
                      (reverse("filters:vacation"), {"enabled": "on", "subject": "Away", "body": "x",
                                                     "addresses": [member.email], "days": "5"}),
                      (reverse("filters:rule_new"), rule("fileinto"))):
        response = stale_client.post(url, data)
        assert response.status_code == 302 and response.url.startswith(reverse("sudo")), url
    assert scripts.list_scripts(member).active == "handmade"
