"""The form editor's pages on the real Dovecot (the filters page, rules, spam options, the automatic
reply, loading a changed script back): what they save and the errors next to their fields."""

import uuid

import pytest
from django.urls import reverse

from filters.models import Rule
from filters.services import editor, scripts

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("shipped_rules")]


@pytest.fixture
def intruder(make_member, mail_stack):
    return make_member(f"x{uuid.uuid4().hex[:10]}")


def test_the_filters_page_shows_the_default_rules_and_the_nav_link(owner_client):
    response = owner_client.get(reverse("filters:index"))
    assert response.status_code == 200
    body = response.content.decode()
    assert "default rules" in body
    assert f'href="{reverse("filters:index")}"' in body
    assert 'type="checkbox" name="includes" value="incoming_spam" id="id_includes_0" checked' in body


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
    # 13: the first visit also mints the web session's Dovecot token (and saves the session).
    with django_assert_max_num_queries(13):
        response = owner_client.get(reverse("filters:index"))
    assert response.status_code == 200 and "r4" in response.content.decode()
