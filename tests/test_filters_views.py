"""The Filters pages, on the real Dovecot: the form editor, raw scripts, upload/download,
global rules in the admin, a stranger refused, and a clear page when Dovecot is down."""

import uuid

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from filters.models import GlobalRule, Rule
from filters.services import editor, scripts
from tests.conftest import PASSWORD
from tests.helpers import imap_login, lmtp_send, make_mail, restore_shipped_global_rules, subjects

# Set-up calls services directly, as a worker would (the pages themselves act as the web member).
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("as_worker")]


@pytest.fixture(autouse=True)
def shipped_rules(db):
    restore_shipped_global_rules()


@pytest.fixture
def owner(make_member, mail_stack):
    m = make_member(f"o{uuid.uuid4().hex[:10]}")
    client = imap_login(m.email, PASSWORD)
    client.create("Work")
    client.create("Lists/Dev")
    client.logout()
    return m


@pytest.fixture
def owner_client(client, owner):
    client.force_login(owner)
    return client


@pytest.fixture
def intruder(make_member, mail_stack):
    return make_member(f"x{uuid.uuid4().hex[:10]}")


def rule_post(name="Work mail", **extra):
    data = {
        "rule-name": name, "rule-enabled": "on", "rule-match": "all",
        "cond-TOTAL_FORMS": "2", "cond-INITIAL_FORMS": "0",
        "cond-0-field": "from", "cond-0-op": "contains", "cond-0-value": "boss@example.org", "cond-0-header": "",
        "cond-1-field": "", "cond-1-op": "contains", "cond-1-value": "", "cond-1-header": "",
        "act-TOTAL_FORMS": "2", "act-INITIAL_FORMS": "0",
        "act-0-kind": "fileinto", "act-0-folder": "Work", "act-0-address": "", "act-0-text": "",
        "act-1-kind": "", "act-1-folder": "", "act-1-address": "", "act-1-text": "",
    }
    data.update(extra)
    return data


def test_the_filters_page_shows_the_default_rules_and_the_nav_link(owner_client):
    response = owner_client.get(reverse("filters:index"))
    assert response.status_code == 200
    body = response.content.decode()
    assert "default rules" in body
    assert f'href="{reverse("filters:index")}"' in body
    assert 'type="checkbox" name="includes" value="incoming_spam" id="id_includes_0" checked' in body


def test_the_rule_editor_lists_real_folders_and_saves_an_active_rule(owner_client, owner):
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


def test_whatever_is_posted_ends_up_in_the_script_as_typed(owner_client, owner):
    from filters import sieve

    name = 'Boss" } discard; # \r\n stop; /* x */ ${hex:41}'
    value = 'a"b\\c\r\n} redirect "evil@example.org"; if true {'
    response = owner_client.post(reverse("filters:rule_new"), rule_post(name, **{"cond-0-value": value}))
    assert response.status_code == 302
    parsed = sieve.parse(scripts.get_script(owner, editor.EDITOR_SCRIPT))
    assert [r.name for r in parsed.rules] == [name]
    assert parsed.rules[0].conditions[0].value == value
    assert [a.kind for a in parsed.rules[0].actions] == ["fileinto"]


def test_form_errors_show_next_to_their_fields(owner_client, owner):
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


def test_a_regular_expression_the_server_refuses_is_reported_at_its_field(owner_client, owner):
    data = rule_post(**{"cond-1-field": "subject", "cond-1-op": "regex", "cond-1-value": "a(b"})
    response = owner_client.post(reverse("filters:rule_new"), data)
    assert response.status_code == 400
    body = response.content.decode()
    # (Whatever markup includes/field.html gives the error: its text, up to the next tag end.)
    error = body.split('id="id_cond-1-value_error"')[1].split("</div>")[0]
    assert "invalid regular expression" in error and "line " in error
    assert not Rule.objects.filter(member=owner).exists()
    assert scripts.list_scripts(owner).default_active  # nothing replaced the default rules


def test_reject_can_not_be_combined_with_delivering_the_mail(owner_client, owner):
    data = rule_post(**{"act-1-kind": "reject", "act-1-text": "Go away"})
    response = owner_client.post(reverse("filters:rule_new"), data)
    assert response.status_code == 400
    assert 'id="id_act-1-kind_error"' in response.content.decode()
    assert not Rule.objects.filter(member=owner).exists()


def test_reorder_disable_and_delete(owner_client, owner):
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


def test_a_stranger_gets_404_for_someone_elses_rules_and_scripts(owner_client, owner, intruder, client):
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


def test_the_web_reaches_dovecot_with_its_session_token_not_the_master_user(owner_client, owner):
    from accounts.models import MailToken

    response = owner_client.get(reverse("filters:rule_new"))  # IMAP (folders)
    assert response.status_code == 200
    assert owner_client.post(reverse("filters:rule_new"), rule_post()).status_code == 302  # ManageSieve
    token = MailToken.objects.get(member=owner, kind=MailToken.Kind.WEB_SESSION)
    # Dovecot's token passdb stamps the token it accepted (a master-user login never looks it up).
    assert token.last_used_at is not None


def test_pages_need_a_login(client):
    response = client.get(reverse("filters:index"))
    assert response.status_code == 302 and reverse("login") in response["Location"]


def test_raw_editor_refuses_an_invalid_script_with_line_and_keeps_the_active_one(owner_client, owner):
    good = 'require "fileinto";\nfileinto "Work";\n'
    response = owner_client.post(reverse("filters:script_new"), {"name": "mine", "text": good, "activate": "on"})
    assert response.status_code == 302
    bad = 'require "fileinto";\n\nif header :contains "subject" "x" {\n  fileintoo "Lists";\n}\n'
    response = owner_client.post(reverse("filters:script_edit", args=["mine"]),
                                 {"name": "mine", "text": bad, "activate": "on"})
    assert response.status_code == 400
    body = response.content.decode()
    assert 'id="id_text_error"' in body
    assert "line 4" in body and "unknown command" in body and "fileintoo" in body
    assert "fileintoo" in body.split("<textarea")[1]  # the typed script is still in the form
    listing = scripts.list_scripts(owner)
    assert listing.active == "mine"
    assert scripts.get_script(owner, "mine").strip() == good.strip()


def test_upload_download_and_choose_the_active_script(owner_client, owner):
    script = 'require ["fileinto"];\n# uploaded\nfileinto "Work";\n'
    upload = SimpleUploadedFile("holiday.sieve", script.encode(), content_type="application/sieve")
    response = owner_client.post(reverse("filters:script_upload"), {"file": upload})
    assert response.status_code == 302
    response = owner_client.get(reverse("filters:script_download", args=["holiday"]))
    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="holiday.sieve"'
    assert response.content.decode().strip() == script.strip()
    assert scripts.list_scripts(owner).default_active  # uploaded, not activated
    owner_client.post(reverse("filters:script_activate"), {"name": "holiday"})
    assert scripts.list_scripts(owner).active == "holiday"
    # Back to the default rules.
    owner_client.post(reverse("filters:script_activate"), {"name": ""})
    assert scripts.list_scripts(owner).default_active
    owner_client.post(reverse("filters:script_delete", args=["holiday"]))
    assert "holiday" not in scripts.list_scripts(owner).names
    # The service's default rules are listed apart (Dovecot always lists them) and can be read.
    assert scripts.list_scripts(owner).names == []
    response = owner_client.get(reverse("filters:script_download", args=["default"]))
    assert 'include :global "incoming_spam";' in response.content.decode()


def test_an_invalid_upload_is_refused_next_to_the_file_field(owner_client, owner):
    upload = SimpleUploadedFile("broken.sieve", b'keep\nstop;\n')
    response = owner_client.post(reverse("filters:script_upload"), {"file": upload, "activate": "on"})
    assert response.status_code == 400
    body = response.content.decode()
    assert 'id="id_file_error"' in body and "line " in body
    assert "broken" not in scripts.list_scripts(owner).names


def test_a_script_the_editor_can_not_represent_opens_in_the_raw_editor_with_a_note(owner_client, owner):
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


def test_an_editor_script_changed_elsewhere_can_be_loaded_into_the_form_editor(owner_client, owner):
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


def test_dovecot_down_gives_a_clear_page_and_keeps_what_was_typed(owner_client, owner, settings):
    from tests.mailstack import free_port

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


def test_admins_manage_global_rules_checked_by_sievec(client, make_member, mail_stack):
    admin = make_member(f"a{uuid.uuid4().hex[:10]}", is_staff=True, is_superuser=True)
    client.force_login(admin)
    url = reverse("admin:filters_globalrule_add")
    bad = {"name": "lists", "description": "Lists", "script": 'require "fileinto";\nfileintoo "Lists";\n',
           "offered": "on"}
    response = client.post(url, bad)
    assert response.status_code == 200
    assert "fileintoo" in response.content.decode() and "errorlist" in response.content.decode()
    assert not GlobalRule.objects.filter(name="lists").exists()
    good = dict(bad, script='require "fileinto";\nif exists "List-Id" { fileinto "Lists"; stop; }\n')
    # "default" would overwrite the default rules' file.
    response = client.post(url, dict(good, name="default"))
    assert response.status_code == 200 and "default rules" in response.content.decode()
    assert not GlobalRule.objects.filter(name="default").exists()
    response = client.post(url, good)
    assert response.status_code == 302
    from mailstack import globalsieve

    installed = globalsieve.directory() / "lists.sieve"
    assert installed.read_text().strip() == good["script"].strip()
    assert installed.with_suffix(".svbin").exists()
    # Offered to members as a checkbox, and usable by their scripts.
    member = make_member(f"m{uuid.uuid4().hex[:10]}")
    client.force_login(member)
    assert 'value="lists"' in client.get(reverse("filters:index")).content.decode()
    editor.save_options(member, includes=["incoming_spam", "lists"], spam_threshold=None)
    assert 'include :global "lists";' in scripts.get_script(member, editor.EDITOR_SCRIPT)
    # And Dovecot runs it at delivery.
    imap = imap_login(member.email, PASSWORD)
    imap.create("Lists")
    imap.logout()
    lmtp_send(member.email, make_mail(member.email, subject="from a list", List_Id="<dev.example.org>"))
    lmtp_send(member.email, make_mail(member.email, subject="from a friend"))
    assert subjects(member.email, PASSWORD, "Lists") == ["from a list"]
    assert subjects(member.email, PASSWORD, "INBOX") == ["from a friend"]


def test_add_a_condition_row_keeps_what_was_typed_and_saves_nothing(owner_client, owner):
    response = owner_client.post(reverse("filters:rule_new"), {**rule_post("Not yet"), "add_condition": "1"})
    assert response.status_code == 200
    body = response.content.decode()
    assert 'name="cond-TOTAL_FORMS" value="3"' in body
    assert 'name="cond-2-field"' in body and 'value="Not yet"' in body
    assert not Rule.objects.filter(member=owner).exists()


def test_the_filters_page_makes_a_fixed_number_of_queries(owner_client, owner, django_assert_max_num_queries):
    for i in range(5):
        editor.save_rule(owner, None, name=f"r{i}", enabled=True, match="all",
                           conditions=[{"field": "subject", "op": "contains", "value": str(i), "header": ""}],
                           actions=[{"kind": "fileinto", "arg": "Work"}])
    # 13: the first visit also mints the web session's Dovecot token (and saves the session).
    with django_assert_max_num_queries(13):
        response = owner_client.get(reverse("filters:index"))
    assert response.status_code == 200 and "r4" in response.content.decode()


def test_regenerating_the_mail_config_installs_the_admins_global_rules(make_member, mail_stack, tmp_path):
    import os
    import tempfile

    from mailstack import config, globalsieve

    rule = GlobalRule.objects.get(name="incoming_spam")
    rule.script = rule.script.replace('require ["fileinto", "imap4flags"];', 'require ["fileinto", "imap4flags"];\n# edited in the admin')
    rule.save()
    out = tempfile.mkdtemp(prefix="duckmail-gen-", dir="/tmp")
    os.chmod(out, 0o755)
    try:
        config.generate(out, variant="test", ports=mail_stack.ports, instance_name="duckmail-gen-test")
        installed = globalsieve.directory(out) / "incoming_spam.sieve"
        assert "# edited in the admin" in installed.read_text()
        assert installed.with_suffix(".svbin").exists()
    finally:
        import shutil

        shutil.rmtree(out, ignore_errors=True)
