"""The form editor's pages on the real Dovecot (the filters page, rules, spam options, the automatic
reply, loading a changed script back): what they save, the errors next to their fields, what they
say while a hand-written script runs instead, and the same in a real browser on a phone."""

import datetime
import os
import re
import uuid

import pytest
from django.urls import reverse
from django.utils import timezone

from filters.forms import FIELD_CHOICES, OP_CHOICES
from filters.models import FilterSettings, Rule
from filters.services import editor, scripts
from tests.helpers import PASSWORD, imap_login

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("shipped_rules")]
SHOTS = os.environ.get("DUCKMAIL_SCREENSHOTS")

HAND = 'require "fileinto";\nfileinto "Work";\n'


@pytest.fixture
def intruder(make_member, mail_stack):
    return make_member(f"x{uuid.uuid4().hex[:10]}")


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


def shot(pg, name: str) -> None:
    if SHOTS:
        pg.screenshot(path=f"{SHOTS}/{name}.png", full_page=True)


def log_in(pg, member) -> None:
    pg.goto("/login/")
    pg.fill("#id_username", member.email)
    pg.fill("#id_password", PASSWORD)
    pg.click("button[type=submit]")
    pg.wait_for_url("**/account/**")


def enabled_options(pg, selector: str) -> list[str]:
    return pg.eval_on_selector(selector, "s => [...s.options].filter(o => !o.disabled).map(o => o.value)")


def no_sideways_scrolling(pg) -> bool:
    return pg.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_the_filters_page_shows_the_default_rules_and_the_nav_link(owner_client):
    response = owner_client.get(reverse("filters:index"))
    assert response.status_code == 200
    body = response.content.decode()
    assert "default rules" in body
    assert f'href="{reverse("filters:index")}"' in body
    assert 'type="checkbox" name="includes" value="incoming_spam" id="id_includes_0" checked' in body


def test_the_filters_page_shows_members_what_a_global_rule_does_not_its_internal_name(owner_client):
    body = owner_client.get(reverse("filters:index")).content.decode()
    text = re.sub(r"<[^>]+>", " ", body)  # what a member reads, without the form's values
    assert "Spam goes to the Junk folder and is flagged important." in text
    assert "incoming_spam" not in text


def test_the_logo_needs_no_emoji_font(owner_client):
    body = owner_client.get(reverse("filters:index")).content.decode()
    header = body.split('<header class="top">')[1].split("</header>")[0]
    assert "🦆" not in header and "img/duck.svg" in header


def test_pages_need_a_login(client):
    response = client.get(reverse("filters:index"))
    assert response.status_code == 302 and reverse("login") in response["Location"]


def test_the_rule_editor_lists_real_folders_and_saves_an_active_rule(owner_client, owner, rule_post):
    response = owner_client.get(reverse("filters:rule_new"))
    assert response.status_code == 200
    body = response.content.decode()
    for folder in ("INBOX", "Work", "Lists/Dev", "Junk"):
        assert f'<option value="{folder}"' in body
    response = owner_client.post(reverse("filters:rule_new"), rule_post())
    assert response.status_code == 302, response.content.decode()[:2000]
    listing = scripts.list_scripts(owner)
    assert listing.active == editor.EDITOR_SCRIPT
    text = scripts.get_script(owner, editor.EDITOR_SCRIPT)
    assert 'header :contains "from" "boss@example.org"' in text and 'fileinto "Work";' in text
    assert 'include :global "incoming_spam";' in text
    page = owner_client.get(reverse("filters:index")).content.decode()
    assert "Work mail" in page and "Your filters below are active" in page


def test_whatever_is_posted_ends_up_in_the_script_as_typed(owner_client, owner, rule_post):
    from filters import sieve

    name = 'Boss" } discard; # \r\n stop; /* x */ ${hex:41}'
    value = 'a"b\\c\r\n} redirect "evil@example.org"; if true {'
    response = owner_client.post(reverse("filters:rule_new"), rule_post(name, **{"cond-0-value": value}))
    assert response.status_code == 302
    parsed = sieve.parse(scripts.get_script(owner, editor.EDITOR_SCRIPT))
    assert [r.name for r in parsed.rules] == [name]
    assert parsed.rules[0].conditions[0].value == value
    assert [a.kind for a in parsed.rules[0].actions] == ["fileinto"]


def test_form_errors_show_next_to_their_fields(owner_client, owner, rule_post):
    data = rule_post(**{"cond-0-field": "header", "cond-0-header": "Bad Header:", "act-0-folder": "",
                        "cond-1-field": "size", "cond-1-op": "over", "cond-1-value": "lots"})
    response = owner_client.post(reverse("filters:rule_new"), data)
    assert response.status_code == 400
    body = response.content.decode()
    assert 'id="id_cond-0-header_error"' in body
    assert 'id="id_cond-1-value_error"' in body
    assert 'id="id_act-0-folder_error"' in body
    # What was typed is still there.
    assert 'value="Bad Header:"' in body
    assert not Rule.objects.filter(member=owner).exists()


def test_a_regular_expression_the_server_refuses_is_reported_at_its_field(owner_client, owner, rule_post):
    data = rule_post(**{"cond-1-field": "subject", "cond-1-op": "regex", "cond-1-value": "a(b"})
    response = owner_client.post(reverse("filters:rule_new"), data)
    assert response.status_code == 400
    body = response.content.decode()
    # (Whatever markup includes/field.html gives the error: its text, up to the next tag end.)
    error = body.split('id="id_cond-1-value_error"')[1].split("</div>")[0]
    assert "invalid regular expression" in error and "line " in error
    assert not Rule.objects.filter(member=owner).exists()
    assert scripts.list_scripts(owner).default_active  # nothing replaced the default rules


def test_reject_can_not_be_combined_with_delivering_the_mail(owner_client, owner, rule_post):
    data = rule_post(**{"act-1-kind": "reject", "act-1-text": "Go away"})
    response = owner_client.post(reverse("filters:rule_new"), data)
    assert response.status_code == 400
    assert 'id="id_act-1-kind_error"' in response.content.decode()
    assert not Rule.objects.filter(member=owner).exists()


def test_add_a_condition_row_keeps_what_was_typed_and_saves_nothing(owner_client, owner, rule_post):
    response = owner_client.post(reverse("filters:rule_new"), {**rule_post("Not yet"), "add_condition": "1"})
    assert response.status_code == 200
    body = response.content.decode()
    assert 'name="cond-TOTAL_FORMS" value="3"' in body
    assert 'name="cond-2-field"' in body and 'value="Not yet"' in body
    assert not Rule.objects.filter(member=owner).exists()


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
    values = {"from": "boss", "to": "me", "subject": "hi", "header": "x", "size": "2M", "spam": "50", "spam_level": "5",
              "env_from": "boss", "env_to": "me", "duplicate": ""}
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
    assert outcomes["spam", "under"] == outcomes["spam_level", "at_least"] == outcomes["env_to", "is"] == 302
    assert outcomes["size", "contains"] == outcomes["spam", "yes"] == outcomes["subject", "over"] == 400


@pytest.mark.parametrize("extra, status", [
    ({"cond-0-field": "spam", "cond-0-op": "over", "cond-0-value": "²"}, 400),
    ({"cond-0-field": "spam", "cond-0-op": "over", "cond-0-value": "٣"}, 400),
    ({"cond-TOTAL_FORMS": "x", "add_condition": "1"}, 200),  # the form again, one row more
])
def test_odd_input_is_a_form_error_not_a_crash(client, make_member, mail_stack, extra, status, rule_doing):
    member = make_member(f"o{uuid.uuid4().hex[:10]}")
    client.force_login(member)
    response = client.post(reverse("filters:rule_new"), rule_doing("fileinto", **extra))
    assert response.status_code == status
    assert not Rule.objects.filter(member=member).exists()


def test_the_rule_form_refuses_question_mark_with_star():
    from filters.forms import ConditionForm

    form = ConditionForm({"field": "subject", "op": "matches", "value": "a? b*"})
    assert not form.is_valid() and "value" in form.errors
    for ok in ("a*b", "a?c", "a\\?*", "what\\? *"):
        assert ConditionForm({"field": "subject", "op": "matches", "value": ok}).is_valid(), ok


def test_the_rule_editor_has_no_inline_style_and_loads_its_script(owner_client, owner):
    body = owner_client.get(reverse("filters:rule_new")).content.decode()
    assert "<style" not in body
    assert 'src="/static/js/filters.js"' in body
    # The rows JavaScript adds come from the formsets' empty forms.
    assert 'name="cond-__prefix__-field"' in body and 'name="act-__prefix__-kind"' in body


def test_reorder_disable_and_delete(owner_client, owner, rule_post):
    owner_client.post(reverse("filters:rule_new"), rule_post("first"))
    owner_client.post(reverse("filters:rule_new"), rule_post("second"))
    first, second = Rule.objects.filter(member=owner)
    assert owner_client.post(reverse("filters:rule_move", args=[first.id, "down"])).status_code == 302
    assert [r.name for r in Rule.objects.filter(member=owner)] == ["second", "first"]
    text = scripts.get_script(owner, editor.EDITOR_SCRIPT)
    assert text.index('# rule: "second"') < text.index('# rule: "first"')
    owner_client.post(reverse("filters:rule_toggle", args=[second.id]))
    assert "if allof (false, " in scripts.get_script(owner, editor.EDITOR_SCRIPT)
    owner_client.post(reverse("filters:rule_delete", args=[first.id]))
    assert [r.name for r in Rule.objects.filter(member=owner)] == ["second"]
    assert '# rule: "first"' not in scripts.get_script(owner, editor.EDITOR_SCRIPT)


def test_deleting_a_rule_or_a_script_asks_first_naming_it(owner_client, owner, rule_post):
    name = "Boss's <mail> \"now\""
    owner_client.post(reverse("filters:rule_new"), rule_post(name))
    scripts.save_script(owner, "olddraft", HAND)
    body = owner_client.get(reverse("filters:index")).content.decode()
    rule = Rule.objects.get(member=owner)
    rule_form = body.split(f'action="{reverse("filters:rule_delete", args=[rule.id])}"')[1].split(">")[0]
    # The question is an attribute that static/js/duckmail.js asks (no inline script): escaped as HTML.
    assert ('data-confirm="Delete the rule “Boss&#x27;s &lt;mail&gt; &quot;now&quot;”? '
            'This can not be undone."') in rule_form
    script_form = body.split(f'action="{reverse("filters:script_delete", args=["olddraft"])}"')[1].split(">")[0]
    assert 'data-confirm="Delete the script “olddraft”? This can not be undone;' in script_form


def test_a_stranger_gets_404_for_someone_elses_rules_and_scripts(owner_client, owner, intruder, client, rule_post):
    owner_client.post(reverse("filters:rule_new"), rule_post())
    scripts.save_script(owner, "private", "keep;\n")
    rule = Rule.objects.get(member=owner)
    client.force_login(intruder)
    for url in (reverse("filters:rule_edit", args=[rule.id]),
                reverse("filters:script_edit", args=["private"]),
                reverse("filters:script_download", args=["private"])):
        assert client.get(url).status_code == 404, url
    for url in (reverse("filters:rule_toggle", args=[rule.id]), reverse("filters:rule_delete", args=[rule.id]),
                reverse("filters:rule_move", args=[rule.id, "up"]), reverse("filters:rule_edit", args=[rule.id]),
                reverse("filters:script_delete", args=["private"])):
        assert client.post(url, rule_post("hijack")).status_code == 404, url
    assert client.post(reverse("filters:script_activate"), {"name": "private"}).status_code == 404
    rule.refresh_from_db()
    assert rule.enabled and rule.name == "Work mail"
    assert "private" in scripts.list_scripts(owner).names
    assert "private" not in scripts.list_scripts(intruder).names


def test_the_web_reaches_dovecot_with_its_session_token_not_the_master_user(owner_client, owner, rule_post):
    from accounts.models import MailToken

    response = owner_client.get(reverse("filters:rule_new"))  # IMAP (folders)
    assert response.status_code == 200
    assert owner_client.post(reverse("filters:rule_new"), rule_post()).status_code == 302  # ManageSieve
    token = MailToken.objects.get(member=owner, kind=MailToken.Kind.WEB_SESSION)
    # Dovecot's token passdb stamps the token it accepted (a master-user login never looks it up).
    assert token.last_used_at is not None


def test_a_script_the_editor_can_not_represent_opens_in_the_raw_editor_with_a_note(owner_client, owner, rule_post):
    owner_client.post(reverse("filters:rule_new"), rule_post())
    hand = 'require ["fileinto", "duplicate"];\nif duplicate { discard; }\nfileinto "Work";\n'
    scripts.save_script(owner, editor.EDITOR_SCRIPT, hand)
    page = owner_client.get(reverse("filters:index")).content.decode()
    assert "can not represent" in page
    assert "Your filters below are active" not in page and "as changed outside the form editor" in page
    assert reverse("filters:script_edit", args=[editor.EDITOR_SCRIPT]) in page
    raw = owner_client.get(reverse("filters:script_edit", args=[editor.EDITOR_SCRIPT])).content.decode()
    assert "if duplicate { discard; }" in raw  # shown unchanged, never garbled
    # Loading it into the form editor is refused and sends the member to the raw editor.
    response = owner_client.post(reverse("filters:editor_import"))
    assert response.status_code == 302 and response["Location"].endswith(f"/scripts/{editor.EDITOR_SCRIPT}/")
    assert scripts.get_script(owner, editor.EDITOR_SCRIPT).strip() == hand.strip()


def test_an_editor_script_changed_elsewhere_can_be_loaded_into_the_form_editor(owner_client, owner, rule_post):
    owner_client.post(reverse("filters:rule_new"), rule_post())
    text = scripts.get_script(owner, editor.EDITOR_SCRIPT).replace('fileinto "Work";', 'fileinto "Lists/Dev";')
    scripts.save_script(owner, editor.EDITOR_SCRIPT, text)
    page = owner_client.get(reverse("filters:index")).content.decode()
    assert "Load it into the form editor" in page
    owner_client.post(reverse("filters:editor_import"))
    assert Rule.objects.get(member=owner).actions == [{"kind": "fileinto", "arg": "Lists/Dev"}]
    assert "Load it into the form editor" not in owner_client.get(reverse("filters:index")).content.decode()


def test_spam_threshold_and_vacation_forms(owner_client, owner):
    response = owner_client.post(reverse("filters:options"), {"includes": ["incoming_spam"], "spam_threshold": "150"})
    assert response.status_code == 400
    assert 'id="id_spam_threshold_error"' in response.content.decode()
    response = owner_client.post(reverse("filters:options"), {"spam_threshold": "40"})
    assert response.status_code == 302
    text = scripts.get_script(owner, editor.EDITOR_SCRIPT)
    assert '"40"' in text and "incoming_spam" not in text

    response = owner_client.get(reverse("filters:vacation"))
    assert owner.email in response.content.decode()
    response = owner_client.post(reverse("filters:vacation"), {
        "enabled": "on", "subject": "", "body": "Away", "addresses": [owner.email], "days": "7",
        "start": "2030-01-10", "end": "2030-01-01",
    })
    assert response.status_code == 400
    body = response.content.decode()
    assert 'id="id_subject_error"' in body and 'id="id_end_error"' in body
    response = owner_client.post(reverse("filters:vacation"), {
        "enabled": "on", "subject": "Away", "body": "On holiday.\r\nBack soon.", "addresses": [owner.email],
        "days": "5", "start": "2030-01-01", "end": "2030-01-10",
    })
    assert response.status_code == 302
    text = scripts.get_script(owner, editor.EDITOR_SCRIPT)
    assert "vacation :subject \"Away\" :days 5" in text and "2030-01-10" in text
    # Only the member's own addresses.
    response = owner_client.post(reverse("filters:vacation"), {
        "enabled": "on", "subject": "Away", "body": "x", "addresses": ["someone@else.org"], "days": "5",
    })
    assert response.status_code == 400


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


def test_dovecot_down_gives_a_clear_page_and_keeps_what_was_typed(owner_client, owner, settings, rule_post):
    from tests.servers import free_port

    settings.MANAGESIEVE_PORT = free_port()
    settings.IMAP_PORT = free_port()
    response = owner_client.get(reverse("filters:index"))
    assert response.status_code == 503
    assert "can not be reached" in response.content.decode()
    response = owner_client.post(reverse("filters:rule_new"), rule_post("Typed while down"))
    assert response.status_code == 503
    body = response.content.decode()
    assert "nothing was saved" in body and 'value="Typed while down"' in body and 'value="boss@example.org"' in body
    assert not Rule.objects.filter(member=owner).exists()
    response = owner_client.post(reverse("filters:script_new"), {"name": "draft", "text": "keep; # my work"})
    assert response.status_code == 503 and "keep; # my work" in response.content.decode()


def test_the_filters_page_makes_a_fixed_number_of_queries(owner_client, owner, django_assert_max_num_queries):
    for i in range(5):
        editor.save_rule(owner, None, name=f"r{i}", enabled=True, match="all",
                           conditions=[{"field": "subject", "op": "contains", "value": str(i), "header": ""}],
                           actions=[{"kind": "fileinto", "arg": "Work"}])
    # 14: the first visit also mints the web session's Dovecot token (revoking any stale one, in a
    # transaction) and saves the session.
    with django_assert_max_num_queries(14):
        response = owner_client.get(reverse("filters:index"))
    assert response.status_code == 200 and "r4" in response.content.decode()


def test_a_member_builds_a_rule_and_sees_a_bad_script_refused_in_place(page, make_member, mail_stack):
    member = make_member(f"b{uuid.uuid4().hex[:10]}")
    imap = imap_login(member.email, PASSWORD)
    imap.create("Work")
    imap.logout()

    page.goto("/login/")
    page.fill("#id_username", member.email)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.click("nav >> text=Filters")
    assert "default rules" in page.inner_text("#status")
    shot(page, "index-default")

    page.click("text=Add a rule")
    page.fill("#id_rule-name", "From the boss")
    page.select_option("#id_cond-0-field", "from")
    page.select_option("#id_cond-0-op", "contains")
    page.fill("#id_cond-0-value", "boss@example.org")
    page.click("text=Add a condition")
    page.select_option("#id_cond-1-field", "size")
    page.select_option("#id_cond-1-op", "over")
    page.fill("#id_cond-1-value", "lots")
    page.select_option("#id_act-0-kind", "fileinto")
    page.select_option("#id_act-0-folder", "Work")
    page.click("#save-rule")
    assert page.inner_text("#id_cond-1-value_error") == "Enter a size such as 500K, 2M or 1048576."
    assert page.input_value("#id_cond-0-value") == "boss@example.org"
    shot(page, "rule-error")
    page.fill("#id_cond-1-value", "2M")
    page.press("#id_cond-1-value", "Enter")  # Enter saves (it does not add a row)
    page.wait_for_url("**/filters/")
    assert "From the boss" in page.inner_text("#rules")
    assert "Your filters below are active" in page.inner_text("#status")
    shot(page, "index-rules")

    page.click("text=New script")
    page.fill("#id_name", "handmade")
    page.fill("#id_text", 'require "fileinto";\nfileintoo "Work";\n')
    page.click("#script-form button[type=submit]")
    assert "line 2" in page.inner_text("#id_text_error")
    assert "fileintoo" in page.input_value("#id_text")
    shot(page, "raw-error")
    assert scripts.list_scripts(member).active == editor.EDITOR_SCRIPT


def test_on_a_phone_the_rule_editor_shows_only_what_applies_and_adds_rows_in_the_page(page, make_member, mail_stack):
    from filters.models import Rule
    from filters.sieve import SPAM_OPS, TEXT_OPS

    member = make_member(f"p{uuid.uuid4().hex[:10]}")
    imap = imap_login(member.email, PASSWORD)
    imap.create("Work")
    imap.logout()
    page.set_viewport_size({"width": 390, "height": 844})
    log_in(page, member)
    page.goto("/filters/rules/new/")
    # Nothing chosen yet: only "When".
    assert page.is_visible("#id_cond-0-field")
    for hidden in ("#id_cond-0-header", "#id_cond-0-op", "#id_cond-0-value",
                   "#id_act-0-folder", "#id_act-0-address", "#id_act-0-text"):
        assert not page.is_visible(hidden), hidden

    page.select_option("#id_cond-0-field", "subject")
    assert page.is_visible("#id_cond-0-op") and page.is_visible("#id_cond-0-value")
    assert not page.is_visible("#id_cond-0-header")
    assert enabled_options(page, "#id_cond-0-op") == list(TEXT_OPS)
    page.select_option("#id_cond-0-field", "header")
    assert page.is_visible("#id_cond-0-header")
    page.select_option("#id_cond-0-field", "size")
    assert enabled_options(page, "#id_cond-0-op") == ["over", "under"]
    assert page.input_value("#id_cond-0-op") == "over" and not page.is_visible("#id_cond-0-header")
    page.select_option("#id_cond-0-field", "spam")
    assert enabled_options(page, "#id_cond-0-op") == list(SPAM_OPS)

    for kind, shown in (("stop", None), ("fileinto", "folder"), ("copyto", "folder"), ("redirect", "address"),
                        ("redirect_copy", "address"), ("reject", "text"), ("discard", None)):
        page.select_option("#id_act-0-kind", kind)
        for arg in ("folder", "address", "text"):
            assert page.is_visible(f"#id_act-0-{arg}") == (arg == shown), (kind, arg)

    # The rows stack on a phone, and nothing needs sideways scrolling.
    field_box, op_box = page.locator("#id_cond-0-field").bounding_box(), page.locator("#id_cond-0-op").bounding_box()
    assert op_box["y"] > field_box["y"] + field_box["height"] - 1
    assert field_box["width"] > 250
    assert no_sideways_scrolling(page)
    shot(page, "rule-form-phone")

    # "Add a condition" adds a row here, without a round trip to the server.
    requests = []
    page.on("request", lambda r: requests.append(r.url))
    page.fill("#id_rule-name", "Big spam")
    page.fill("#id_cond-0-value", "80")
    page.click("text=Add a condition")
    assert page.input_value("#id_cond-TOTAL_FORMS") == "2" and requests == []
    assert page.evaluate("document.activeElement.id") == "id_cond-1-field"
    page.select_option("#id_cond-1-field", "size")
    page.fill("#id_cond-1-value", "2M")
    page.click("text=Add an action")
    assert page.input_value("#id_act-TOTAL_FORMS") == "2" and requests == []
    page.select_option("#id_act-0-kind", "fileinto")
    page.select_option("#id_act-0-folder", "Work")
    page.select_option("#id_act-1-kind", "stop")
    page.click("#save-rule")
    page.wait_for_url("**/filters/")
    rule = Rule.objects.get(member=member)
    assert rule.conditions == [{"field": "spam", "op": "over", "value": "80", "header": ""},
                               {"field": "size", "op": "over", "value": "2M", "header": ""}]
    assert rule.actions == [{"kind": "fileinto", "arg": "Work"}, {"kind": "stop", "arg": ""}]


def test_on_a_phone_the_filters_page_fits_and_deleting_asks_first(page, make_member, mail_stack):
    from filters.models import Rule

    member = make_member(f"q{uuid.uuid4().hex[:10]}")
    for name in ("Newsletters from the very long list of things", "Second rule"):
        editor.save_rule(member, None, name=name, enabled=True, match="all",
                           conditions=[{"field": "subject", "op": "contains", "value": "a-rather-long-word-" * 3,
                                        "header": ""}],
                           actions=[{"kind": "fileinto", "arg": "INBOX"}])
    scripts.save_script(member, "handmade", 'require "fileinto";\nfileinto "INBOX";\n', activate=True)
    page.set_viewport_size({"width": 390, "height": 844})
    log_in(page, member)
    page.goto("/filters/")
    assert no_sideways_scrolling(page)
    assert "Saved but not in use — your script “handmade” is active." in page.inner_text("#rules")
    # The row's buttons stay one group on one line.
    first = page.locator("#rules tbody tr").nth(1)
    boxes = [first.locator(f"button:has-text('{label}')").bounding_box() for label in ("↑", "Disable", "Delete")]
    assert len({round(b["y"]) for b in boxes}) == 1
    # The spam threshold is as wide as a number.
    assert page.locator("#id_spam_threshold").bounding_box()["width"] < 150
    shot(page, "index-phone")

    dialogs = []

    def answer(accept: bool):
        def handler(dialog):
            dialogs.append(dialog.message)
            dialog.accept() if accept else dialog.dismiss()
        return handler

    page.once("dialog", answer(False))
    first.locator("button:has-text('Delete')").click()
    assert dialogs == ["Delete the rule “Second rule”? This can not be undone."]
    assert Rule.objects.filter(member=member).count() == 2
    page.once("dialog", answer(True))
    first.locator("button:has-text('Delete')").click()
    page.wait_for_selector(".messages")
    assert [r.name for r in Rule.objects.filter(member=member)] == ["Newsletters from the very long list of things"]
    # Deleting a rule published the editor's rules again, so "handmade" is no longer active.
    assert scripts.list_scripts(member).active == editor.EDITOR_SCRIPT
    page.once("dialog", answer(False))
    page.locator("#scripts tr:has-text('handmade') button:has-text('Delete')").click()
    assert dialogs[-1].startswith("Delete the script “handmade”? This can not be undone")
    assert "handmade" in scripts.list_scripts(member).names

    scripts.activate_script(member, "handmade")
    page.goto("/filters/vacation/")
    assert "instead of “handmade”" in page.inner_text("#vacation-form")
    for date_input in ("#id_start", "#id_end"):
        assert page.locator(date_input).bounding_box()["width"] < 300
    assert no_sideways_scrolling(page)
    shot(page, "vacation-phone")
