"""A script the form editor did not write (here Roundcube's), opened in the form editor through the
pages on the real Dovecot: its rules and raw blocks shown in place, saved without edits byte for
byte, and an edited rule accepted by Dovecot and filing mail delivered over LMTP as it now says."""

import uuid
from pathlib import Path

import pytest
from django.urls import reverse

from filters.models import FilterSettings, Rule
from filters.services import editor, scripts
from tests.filters.test_delivery import where
from tests.helpers import lmtp_send, make_mail

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("shipped_rules")]

ROUNDCUBE = (Path(__file__).parent / "fixtures" / "roundcube.sieve").read_text()
HAND_RAW = (Path(__file__).parent / "fixtures" / "handwritten_raw.sieve").read_text()


def boss_post(folder: str) -> dict:
    """The rule form for Roundcube's "Boss" rule as the page shows it, with its folder."""
    return {
        "rule-name": "Boss", "rule-enabled": "on", "rule-match": "any",
        "cond-TOTAL_FORMS": "2", "cond-INITIAL_FORMS": "2",
        "cond-0-field": "from", "cond-0-op": "contains", "cond-0-value": "boss@example.org", "cond-0-header": "",
        "cond-0-part": "",
        "cond-1-field": "subject", "cond-1-op": "contains", "cond-1-value": "urgent", "cond-1-header": "",
        "cond-1-part": "",
        "act-TOTAL_FORMS": "3", "act-INITIAL_FORMS": "3",
        "act-0-kind": "flag", "act-0-folder": "", "act-0-address": "", "act-0-text": "", "act-0-flags": "",
        "act-1-kind": "fileinto", "act-1-folder": folder, "act-1-create": "on", "act-1-address": "", "act-1-text": "",
        "act-1-flags": "",
        "act-2-kind": "stop", "act-2-folder": "", "act-2-address": "", "act-2-text": "", "act-2-flags": "",
    }


def test_a_roundcube_script_opens_in_the_form_editor_and_saves_back_unchanged_or_as_edited(owner_client, owner):
    scripts.save_script(owner, "roundcube", ROUNDCUBE, activate=True)
    page = owner_client.get(reverse("filters:index")).content.decode()
    assert f'action="{reverse("filters:script_open", args=["roundcube"])}"' in page

    response = owner_client.post(reverse("filters:script_open", args=["roundcube"]))
    assert response.status_code == 302
    assert FilterSettings.objects.get(member=owner).script_name == "roundcube"
    page = owner_client.get(reverse("filters:index")).content.decode()
    rules_card = page.split('id="rules"')[1].split("</section>")[0]
    for name in ("Boss", "Old newsletter", "Archive copy", "Spam"):
        assert f">{name}</a>" in rules_card, name
    assert "(disabled)" in rules_card and "Automatic reply" in rules_card
    assert "The form editor shows your script “roundcube”" in page
    # The automatic reply of the script is the vacation card's.
    fs = FilterSettings.objects.get(member=owner)
    assert fs.vacation_enabled and fs.vacation_subject == "Away until 14 July"

    boss = Rule.objects.get(member=owner, name="Boss")
    form = owner_client.get(reverse("filters:rule_edit", args=[boss.id]))
    assert form.context["act_fs"].forms[1].initial == {"kind": "fileinto", "folder": "Work", "address": "", "text": "",
                                                         "flags": "", "create": True}

    # Saving the rule as shown changes nothing on the server, byte for byte.
    response = owner_client.post(reverse("filters:rule_edit", args=[boss.id]), boss_post("Work"))
    assert response.status_code == 302, response.content.decode()[:3000]
    assert scripts.get_script(owner, "roundcube") == ROUNDCUBE

    # Changing its folder: only that rule's text changes; Dovecot took it (PUTSCRIPT) and runs it.
    response = owner_client.post(reverse("filters:rule_edit", args=[boss.id]), boss_post("Lists/Dev"))
    assert response.status_code == 302, response.content.decode()[:3000]
    text = scripts.get_script(owner, "roundcube")
    head, rest = ROUNDCUBE.split("# rule:[Old newsletter]")
    assert text.endswith("# rule:[Old newsletter]" + rest)
    assert 'fileinto :create "Lists/Dev";' in text and '"Work"' not in text
    assert scripts.list_scripts(owner).active == "roundcube"
    t = uuid.uuid4().hex[:10]
    assert not lmtp_send(owner.email, make_mail(owner.email, subject=f"report {t}", sender="boss@example.org"),
                         sender="boss@example.org")
    found = where(owner.email, f"report {t}")
    assert set(found) == {"Lists/Dev"} and "\\Flagged" in found["Lists/Dev"]


def test_raw_blocks_are_shown_in_place_read_only_with_a_link_to_the_raw_editor(owner_client, owner):
    scripts.save_script(owner, "handmade", HAND_RAW)
    owner_client.post(reverse("filters:script_open", args=["handmade"]))
    page = owner_client.get(reverse("filters:index")).content.decode()
    rules_card = page.split('id="rules"')[1].split("</section>")[0]
    assert rules_card.count('class="raw-block"') == 4
    assert "foreverypart {" in rules_card and "kept as written" in rules_card
    assert reverse("filters:script_edit", args=["handmade"]) in rules_card
    # A raw block is not a rule: it can not be edited, toggled or deleted as one.
    raw = Rule.objects.filter(member=owner, kind=Rule.Kind.RAW).first()
    assert owner_client.get(reverse("filters:rule_edit", args=[raw.id])).status_code == 404
    assert owner_client.post(reverse("filters:rule_delete", args=[raw.id])).status_code == 404
    # Deleting a rule next to them keeps them byte for byte.
    size_rule = Rule.objects.get(member=owner, name="Rule 1")
    assert owner_client.post(reverse("filters:rule_delete", args=[size_rule.id])).status_code == 302
    text = scripts.get_script(owner, "handmade")
    assert text == HAND_RAW.replace('\nif size :over 5M { fileinto "Big"; } # big mail\n', "")  # with the blank line before it


def test_back_to_the_editors_own_script(owner_client, owner, rule_post):
    owner_client.post(reverse("filters:rule_new"), rule_post("Mine"))
    scripts.save_script(owner, "roundcube", ROUNDCUBE)
    owner_client.post(reverse("filters:script_open", args=["roundcube"]))
    assert not Rule.objects.filter(member=owner, name="Mine").exists()
    assert owner_client.post(reverse("filters:script_close")).status_code == 302
    assert [r.name for r in Rule.objects.filter(member=owner)] == ["Mine"]
    assert FilterSettings.objects.get(member=owner).script_name == ""
    assert scripts.get_script(owner, "roundcube") == ROUNDCUBE
    assert editor.bound_script(FilterSettings.objects.get(member=owner)) == editor.EDITOR_SCRIPT


def test_a_stranger_can_not_open_someone_elses_script(client, owner, make_member):
    scripts.save_script(owner, "private", ROUNDCUBE)
    stranger = make_member(f"x{uuid.uuid4().hex[:10]}")
    client.force_login(stranger)
    assert client.post(reverse("filters:script_open", args=["private"])).status_code == 404
    assert not Rule.objects.filter(member=stranger).exists()
