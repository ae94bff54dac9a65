"""The form editor's pages while a hand-written script runs instead, operators that can not apply,
and deleting that asks first."""

import datetime
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from filters.forms import FIELD_CHOICES, OP_CHOICES
from filters.models import FilterSettings, Rule
from filters.services import editor, scripts

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("shipped_rules")]

HAND = 'require "fileinto";\nfileinto "Work";\n'


def section(body: str, id_: str) -> str:
    """The HTML of <section id="…"> on a page."""
    return body.split(f'id="{id_}"')[1].split("</section>")[0]


def messages_of(response) -> list[str]:
    return [str(m) for m in response.wsgi_request._messages]


def vacation_post(member, **extra) -> dict:
    data = {"enabled": "on", "subject": "Away", "body": "On holiday.", "addresses": [member.email], "days": "7",
            "start": "", "end": ""}
    data.update(extra)
    return data


def test_a_size_with_a_text_operator_is_a_form_error_that_says_what_to_pick(owner_client, owner, rule_post):
    data = rule_post(**{"cond-1-field": "size", "cond-1-op": "contains", "cond-1-value": "2M"})
    response = owner_client.post(reverse("filters:rule_new"), data)
    assert response.status_code == 400
    error = response.content.decode().split('id="id_cond-1-op_error"')[1].split("</div>")[0]
    assert "“over” or “under”" in error
    assert not Rule.objects.filter(member=owner).exists()


def test_a_spam_score_with_the_default_text_operator_means_over(owner_client, owner, rule_post):
    data = rule_post(**{"cond-1-field": "spam", "cond-1-op": "contains", "cond-1-value": "80"})
    response = owner_client.post(reverse("filters:rule_new"), data)
    assert response.status_code == 302
    assert Rule.objects.get(member=owner).conditions[1] == {"field": "spam", "op": "over", "value": "80", "header": ""}
    text = scripts.get_script(owner, editor.EDITOR_SCRIPT)
    assert 'spamtest :percent :value "gt" :comparator "i;ascii-numeric" "80"' in text


def test_every_field_with_every_operator_is_saved_or_refused_never_a_server_error(owner_client, owner, rule_post):
    values = {"from": "boss", "to": "me", "subject": "hi", "header": "x", "size": "2M", "spam": "50"}
    outcomes = {}
    for fld, _label in FIELD_CHOICES[1:]:
        for op, _label in OP_CHOICES:
            data = rule_post(f"{fld} {op}", **{"cond-0-field": fld, "cond-0-op": op, "cond-0-value": values[fld],
                                               "cond-0-header": "X-Test" if fld == "header" else ""})
            response = owner_client.post(reverse("filters:rule_new"), data)  # a crash would raise here
            assert response.status_code in (302, 400), (fld, op, response.status_code)
            if response.status_code == 400:
                assert re.search(r'id="id_cond-0-op_error"', response.content.decode()), (fld, op)
            outcomes[fld, op] = response.status_code
    assert outcomes["size", "over"] == outcomes["size", "under"] == outcomes["spam", "over"] == 302
    assert outcomes["size", "contains"] == outcomes["spam", "under"] == outcomes["subject", "over"] == 400


def test_the_rule_editor_has_no_inline_style_and_loads_its_script(owner_client, owner):
    body = owner_client.get(reverse("filters:rule_new")).content.decode()
    assert "<style" not in body
    assert 'src="/static/js/filters.js"' in body
    # The rows JavaScript adds come from the formsets' empty forms.
    assert 'name="cond-__prefix__-field"' in body and 'name="act-__prefix__-kind"' in body


def test_deleting_a_rule_or_a_script_asks_first_naming_it(owner_client, owner, rule_post):
    name = "Boss's <mail> \"now\""
    owner_client.post(reverse("filters:rule_new"), rule_post(name))
    scripts.save_script(owner, "olddraft", HAND)
    body = owner_client.get(reverse("filters:index")).content.decode()
    rule = Rule.objects.get(member=owner)
    rule_form = body.split(f'action="{reverse("filters:rule_delete", args=[rule.id])}"')[1].split(">")[0]
    assert ("onsubmit=\"return confirm('Delete the rule “Boss\\u0027s \\u003Cmail\\u003E \\u0022now\\u0022”? "
            "This can not be undone.')\"") in rule_form
    script_form = body.split(f'action="{reverse("filters:script_delete", args=["olddraft"])}"')[1].split(">")[0]
    assert "return confirm('Delete the script “olddraft”? This can not be undone;" in script_form


def test_with_a_hand_written_script_active_the_editors_cards_say_they_are_not_in_use(owner_client, owner, rule_post):
    owner_client.post(reverse("filters:rule_new"), rule_post())
    owner_client.post(reverse("filters:options"), {"includes": ["incoming_spam"], "spam_threshold": "40"})
    assert owner_client.post(reverse("filters:vacation"), vacation_post(owner)).status_code == 302
    body = owner_client.get(reverse("filters:index")).content.decode()
    assert "not in use" not in body  # the editor's own script runs: nothing to warn about

    scripts.save_script(owner, "handmade", HAND, activate=True)
    body = owner_client.get(reverse("filters:index")).content.decode()
    for id_ in ("rules", "spam", "vacation"):
        card = section(body, id_)
        assert "Saved but not in use" in card and "your script “handmade” is active" in card, id_
        assert f'class="card not-in-use" id="{id_}"' in body
    assert "Saving makes the form editor's rules active instead of “handmade”." in section(body, "spam")
    assert "Saved but not in use" not in section(body, "scripts")

    page = owner_client.get(reverse("filters:vacation")).content.decode()
    assert "Saving makes the form editor's rules active instead of “handmade”." in page

    response = owner_client.post(reverse("filters:vacation"), vacation_post(owner))
    assert response.status_code == 302
    assert messages_of(response) == ["Automatic reply is on. “handmade” is no longer active."]
    assert scripts.list_scripts(owner).active == editor.EDITOR_SCRIPT
    assert "Saved but not in use" not in owner_client.get(reverse("filters:index")).content.decode()
    # Once the editor's rules run again, saving says nothing about "handmade".
    response = owner_client.post(reverse("filters:vacation"), vacation_post(owner))
    assert messages_of(response) == ["Automatic reply is on."]


def test_saving_the_spam_setting_over_a_hand_written_script_says_it_is_no_longer_active(owner_client, owner):
    scripts.save_script(owner, "handmade", HAND, activate=True)
    assert "Saving makes" in owner_client.get(reverse("filters:index")).content.decode()  # as in a browser: page first
    response = owner_client.post(reverse("filters:options"), {"includes": ["incoming_spam"], "spam_threshold": "40"})
    assert response.status_code == 302
    assert messages_of(response) == ["Spam settings saved and active. “handmade” is no longer active."]
    assert scripts.list_scripts(owner).active == editor.EDITOR_SCRIPT


def test_the_default_rules_are_not_a_hand_written_script(owner_client, owner):
    body = owner_client.get(reverse("filters:index")).content.decode()
    assert "not in use" not in body and "instead of" not in body
    assert "instead of" not in owner_client.get(reverse("filters:vacation")).content.decode()


def test_an_automatic_reply_that_starts_later_is_scheduled_not_on(owner_client, owner):
    start = timezone.localdate() + datetime.timedelta(days=10)
    assert owner_client.get(reverse("filters:index")).status_code == 200  # as in a browser: page first
    response = owner_client.post(reverse("filters:vacation"), vacation_post(owner, start=start.isoformat()))
    assert response.status_code == 302
    shown = f"{start.day} {start:%b %Y}"
    assert messages_of(response) == [f"Automatic reply is scheduled from {shown}."]
    card = section(owner_client.get(reverse("filters:index")).content.decode(), "vacation")
    assert f"Scheduled from {shown}" in card and "On:" not in card


def test_the_automatic_reply_state_follows_its_dates():
    today = datetime.date(2030, 6, 15)
    fs = FilterSettings(vacation_enabled=True)
    assert fs.vacation_state(today) == "on"
    fs.vacation_start = datetime.date(2030, 6, 16)
    assert fs.vacation_state(today) == "scheduled"
    fs.vacation_start = today  # Sieve: currentdate "ge" start, so it answers from that day on
    assert fs.vacation_state(today) == "on"
    fs.vacation_end = datetime.date(2030, 6, 14)
    assert fs.vacation_state(today) == "ended"
    fs.vacation_enabled = False
    assert fs.vacation_state(today) == "off"
