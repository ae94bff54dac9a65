"""Global rules in the admin: checked by sievec (whose messages lose the server's paths), installed in
the global Sieve directory also when the mail config is regenerated, offered to members, and run by
Dovecot at delivery."""

import html
import uuid

import pytest
from django.urls import reverse

from filters.models import GlobalRule
from filters.services import editor, global_rules, scripts
from tests.helpers import PASSWORD, imap_login, lmtp_send, make_mail, subjects

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("shipped_rules")]


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


def test_the_global_rule_admin_shows_sievecs_error_without_server_paths(client, make_member, mail_stack):
    admin = make_member(f"a{uuid.uuid4().hex[:10]}", is_staff=True, is_superuser=True)
    client.force_login(admin)
    url = reverse("admin:filters_globalrule_add")
    page = client.get(url).content.decode()
    textarea = page.split("<textarea")[1].split(">")[0]
    assert 'name="script"' in textarea and "monospace" in textarea
    bad = {"name": "lists", "description": "Lists", "script": 'require "fileinto";\nfileintoo "Lists";\n',
           "offered": "on"}
    body = client.post(url, bad).content.decode()
    errors = html.unescape(body.split('class="errorlist')[1].split("</ul>")[0])
    assert "line 2: unknown command 'fileintoo'" in errors
    for leak in ("/tmp", "sieve-global", ".lists.new", "sievec", "Fatal"):
        assert leak not in errors, leak


def test_sievec_messages_lose_file_names_and_paths():
    out = (".x.new: line 3: error: unknown command 'fileintoo'.\n.x.new: error: validation failed.\n"
           "sievec: Fatal: failed to compile sieve script '/var/lib/duckmail/dovecot/sieve-global/.x.new.sieve'")
    assert global_rules.sievec_message(out) == "line 3: unknown command 'fileintoo'."
    assert "/" not in global_rules.sievec_message("sievec: Fatal: failed to compile sieve script '/tmp/a/.x.sieve'")


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
