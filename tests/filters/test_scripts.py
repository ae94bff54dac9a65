"""Raw Sieve scripts on the Filters pages: writing, uploading, downloading and choosing the active one,
and an invalid script refused at its line while the active one stays."""

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from filters.services import scripts

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("shipped_rules")]

HAND = 'require "fileinto";\nfileinto "Work";\n'


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


def test_a_refused_raw_script_points_at_its_line(owner_client, owner):
    bad = 'require "fileinto";\n\nif header :contains "subject" "x" {\n  fileintoo "Lists";\n}\n'
    response = owner_client.post(reverse("filters:script_new"), {"name": "mine", "text": bad})
    assert response.status_code == 400
    body = response.content.decode()
    assert 'data-error-line="4"' in body  # filters.js selects that line in the text area
    excerpt = body.split('id="error-excerpt"')[1].split("</div>")[0]
    assert "Line 4 of your script" in excerpt
    assert '<span class="error-line"><span class="line-no">4</span>  fileintoo &quot;Lists&quot;;</span>' in excerpt
    assert '<span class="line-no">2</span>' in excerpt and '<span class="line-no">5</span>' in excerpt


def test_an_include_of_a_missing_global_rule_says_where(owner_client, owner):
    text = 'require "include";\ninclude :global "incoming_spam";\ninclude :global "nope";\n'
    response = owner_client.post(reverse("filters:script_new"), {"name": "mine", "text": text})
    assert response.status_code == 400
    body = response.content.decode()
    assert "The server refused the script: line 3: included global script &#x27;nope&#x27; does not exist" in body
    assert 'data-error-line="3"' in body


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


@pytest.mark.parametrize("script", [
    b'require ["fileinto"];\n# LF, with a final newline\nfileinto "Work";\n',
    b'require ["fileinto"];\r\n# CRLF, as Windows editors write it\r\nfileinto "Work";\r\n',
    b'# no final newline\nkeep;',
], ids=["lf", "crlf", "no-final-newline"])
def test_an_uploaded_script_is_stored_and_downloaded_byte_for_byte(owner_client, owner, script):
    upload = SimpleUploadedFile("exact.sieve", script, content_type="application/sieve")
    assert owner_client.post(reverse("filters:script_upload"), {"file": upload}).status_code == 302
    assert owner_client.get(reverse("filters:script_download", args=["exact"])).content == script
    # And the raw editor shows it with its own line endings (a hidden field remembers them).
    form = owner_client.get(reverse("filters:script_edit", args=["exact"])).context["form"]
    assert form["text"].value() == script.decode()
    assert form["line_endings"].value() == ("crlf" if b"\r\n" in script else "lf")


@pytest.mark.parametrize("line_endings", ["lf", "crlf"])
def test_saving_from_the_text_area_keeps_the_scripts_own_line_endings(owner_client, owner, settings, line_endings):
    """A text area always sends CRLF: the script keeps the line endings it had."""
    newline = "\r\n" if line_endings == "crlf" else "\n"
    original = newline.join(['require ["fileinto"];', 'fileinto "Work";', ""])
    scripts.save_script(owner, "mine", original)
    edited = 'require ["fileinto"];\r\n# edited\r\nfileinto "Work";\r\n'  # as the browser sends it
    response = owner_client.post(reverse("filters:script_edit", args=["mine"]),
                                 {"name": "mine", "text": edited, "line_endings": line_endings})
    assert response.status_code == 302
    assert scripts.get_script(owner, "mine") == newline.join(['require ["fileinto"];', "# edited", 'fileinto "Work";', ""])


def test_an_invalid_upload_is_refused_next_to_the_file_field(owner_client, owner):
    upload = SimpleUploadedFile("broken.sieve", b'keep\nstop;\n')
    response = owner_client.post(reverse("filters:script_upload"), {"file": upload, "activate": "on"})
    assert response.status_code == 400
    body = response.content.decode()
    assert 'id="id_file_error"' in body and "line " in body
    assert "broken" not in scripts.list_scripts(owner).names


def test_the_raw_script_page_says_whether_the_script_is_active(owner_client, owner):
    scripts.save_script(owner, "handmade", HAND, activate=True)
    scripts.save_script(owner, "spare", HAND)
    active = owner_client.get(reverse("filters:script_edit", args=["handmade"])).content.decode()
    assert re.search(r"<h1>Script “handmade” <span class=\"badge active\">active</span></h1>", active)
    spare = owner_client.get(reverse("filters:script_edit", args=["spare"])).content.decode()
    assert re.search(r"<h1>Script “spare” <span class=\"badge\">not active</span></h1>", spare)
    assert "stored but not in use" in spare


def test_a_reply_or_notification_from_someone_elses_address_is_refused_at_its_line(owner_client, owner):
    forged = ('require ["vacation", "enotify"];\n# away\nvacation :days 1 :from "Boss <postmaster@duckmail.test>" "Away.";\n'
              'notify :from "other@duckmail.test" "mailto:me@example.org";\n')
    response = owner_client.post(reverse("filters:script_new"), {"name": "away", "text": forged, "activate": "on"})
    assert response.status_code == 400
    body = response.content.decode()
    assert "Line 3: vacation :from" in body and "is not one of your addresses" in body
    assert "away" not in scripts.list_scripts(owner).names
    upload = SimpleUploadedFile("away.sieve", forged.replace("postmaster", owner.email.split("@")[0]).encode())
    response = owner_client.post(reverse("filters:script_upload"), {"file": upload})
    assert response.status_code == 400
    assert "Line 4: notify :from" in response.content.decode()


def test_a_reply_from_the_members_own_address_or_a_variable_is_stored(owner_client, owner):
    own = (f'require ["vacation", "variables"];\nvacation :from "Me <{owner.email.upper()}>" "Away.";\n'
           '# vacation :from "postmaster@duckmail.test" in a comment is no command\n'
           'set "me" "x";\nvacation :from "${me}" :subject "the :from \\"boss@duckmail.test\\" part" "Away.";\n')
    response = owner_client.post(reverse("filters:script_new"), {"name": "away", "text": own})
    assert response.status_code == 302, response.content.decode()[:3000]
    assert "away" in scripts.list_scripts(owner).names
