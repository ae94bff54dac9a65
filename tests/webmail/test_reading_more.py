"""The reading view's downloads and attached messages: every attachment in one zip (names
made safe and unique), attached messages (message/rfc822) read like messages, nested ones
too, each with its own attachments; and another member never reaches any of it."""

import io
import re
import zipfile
from email.message import EmailMessage

import pytest
from django.urls import reverse

from tests.webmail.conftest import mail, own_imap, seen
from webmail.services import _unique, zip_entry_name

pytestmark = pytest.mark.django_db(transaction=True)

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64


def unzip(response) -> zipfile.ZipFile:
    return zipfile.ZipFile(io.BytesIO(response.content))


# --- All attachments as a zip ----------------------------------------------------------------

@pytest.fixture
def reports(alice, put):
    return put(alice, mail("Quarterly reports", attachments=(
        ("report.pdf", "application/pdf", b"%PDF first"),
        ("Prüfbericht März.pdf", "application/pdf", b"%PDF pruef"),
        ("report.pdf", "application/pdf", b"%PDF second"),
        ("REPORT.pdf", "application/pdf", b"%PDF third"),
        ("photo.png", "image/png", PNG))))


def test_all_attachments_download_as_one_zip_with_unique_names(mail_client, reports):
    page = mail_client.get(reverse("webmail:message", args=["INBOX", reports])).content.decode()
    zip_url = reverse("webmail:zip", args=["INBOX", reports])
    assert f'<a href="{zip_url}" download>Download all (zip)</a>' in page
    response = mail_client.get(zip_url)
    assert response.status_code == 200 and response["Content-Type"] == "application/zip"
    assert response["Content-Disposition"] == 'attachment; filename="Quarterly reports - attachments.zip"'
    assert response["X-Content-Type-Options"] == "nosniff" and response["Content-Security-Policy"] == "sandbox"
    assert response["Cache-Control"] == "private, no-store"
    archive = unzip(response)
    assert archive.testzip() is None
    assert archive.namelist() == ["report.pdf", "Prüfbericht März.pdf", "report (2).pdf", "REPORT (3).pdf",
                                  "photo.png"]
    assert [archive.read(n) for n in archive.namelist()] == [b"%PDF first", b"%PDF pruef", b"%PDF second",
                                                             b"%PDF third", PNG]
    flags = {info.filename: info.flag_bits & 0x800 for info in archive.infolist()}
    assert flags["Prüfbericht März.pdf"] and not flags["report.pdf"]  # the UTF-8 name flag, where it matters
    assert archive.getinfo("report.pdf").date_time == (2024, 3, 5, 10, 30, 0)  # the message's date


HOSTILE = (b"From: x@example.org\r\nTo: alice@duckmail.test\r\nSubject: Hostile names\r\nMIME-Version: 1.0\r\n"
           b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nsee\r\n'
           + b"".join(b"--b\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; "
                      + disposition + b"\r\n\r\n" + body + b"\r\n"
                      for disposition, body in (
                          (b'filename="../../etc/passwd"', b"one"),
                          (b'filename="a/b"', b"two"),
                          (b'filename="..\\\\..\\\\boot.ini"', b"three"),
                          (b"filename*=utf-8''evil%0D%0Aname.txt", b"four"),
                          (b'filename=".bashrc"', b"five"),
                          (b'filename="CON.txt"', b"six"),
                          (b"filename*=utf-8''%E2%80%AEgpj.exe", b"seven")))
           + b"--b--\r\n")


def test_hostile_attachment_names_unpack_safely(mail_client, alice, put):
    uid = put(alice, HOSTILE)
    archive = unzip(mail_client.get(reverse("webmail:zip", args=["INBOX", uid])))
    names = archive.namelist()
    assert len(names) == 7 and [archive.read(n) for n in names] == [
        b"one", b"two", b"three", b"four", b"five", b"six", b"seven"]
    for name in names:
        assert not re.search(r'[/\\\x00-\x1f\x7f\u202e:*?"<>|]', name) and ".." not in name, name
        assert not name.startswith(".") and name.strip() == name, name
    assert "_CON.txt" in names  # a name Windows refuses to create


def test_zip_entry_names_are_one_safe_file_name():
    assert zip_entry_name("../../etc/passwd") == "_._etc_passwd"
    assert zip_entry_name("a/b\\c") == "a_b_c"
    assert zip_entry_name("evil\r\nname.txt") == "evil__name.txt"
    assert zip_entry_name("...hidden..txt") == "hidden.txt"
    assert zip_entry_name("\u202egpj.exe") == "gpj.exe"
    assert zip_entry_name("nul") == "_nul" and zip_entry_name("lpt1.doc") == "_lpt1.doc"
    assert zip_entry_name(" . ") == "" and zip_entry_name("") == ""
    long = zip_entry_name("x" * 300 + ".pdf")
    assert len(long) == 180 and long.endswith(".pdf")
    used: set[str] = set()
    assert [_unique(n, used) for n in ("a.pdf", "A.PDF", "a.pdf", "a (2).pdf", "notes")] == [
        "a.pdf", "A (2).PDF", "a (3).pdf", "a (2) (2).pdf", "notes"]


def test_no_zip_link_for_one_attachment_and_no_zip_without_any(mail_client, alice, put):
    one = put(alice, mail("One file", attachments=(("only.pdf", "application/pdf", b"%PDF"),)))
    assert "Download all (zip)" not in mail_client.get(reverse("webmail:message", args=["INBOX", one])).content.decode()
    none = put(alice, mail("No files"))
    response = mail_client.get(reverse("webmail:zip", args=["INBOX", none]))
    assert response.status_code == 404 and "no attachments" in response.content.decode()


def test_attachments_too_big_to_pack_are_refused_with_a_page(mail_client, reports, monkeypatch):
    from webmail import services

    monkeypatch.setattr(services, "MAX_ZIP_BYTES", 20)
    response = mail_client.get(reverse("webmail:zip", args=["INBOX", reports]))
    assert response.status_code == 413 and "download them one by one" in response.content.decode()


# --- Attached messages -----------------------------------------------------------------------

def message(subject: str, sender: str, body: str, *, html: str | None = None, files=(), attached=()) -> EmailMessage:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, "alice@duckmail.test", subject
    msg["Date"] = "Mon, 04 Mar 2024 09:00:00 +0000"
    msg.set_content(body)
    if html is not None:
        msg.add_alternative(html, subtype="html")
    for filename, ctype, data in files:
        maintype, subtype = ctype.split("/")
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    for inner in attached:
        msg.add_attachment(inner)  # an EmailMessage becomes a message/rfc822 part
    return msg


@pytest.fixture
def forwarded(alice, put):
    """Parts: 1 text, 2 outer.pdf, 3 the attached message (3.1 its text and HTML, 3.2
    inner.pdf, 3.3 inner2.txt, 3.4 a message attached to it: 3.4.1 text, 3.4.2 deep.pdf)."""
    deepest = message("Deepest", "Carol <carol@example.net>", "Deep text.", files=(
        ("deep.pdf", "application/pdf", b"%PDF deep"),))
    inner = message("Inner räkning", "Björn <bjorn@example.se>", "Inner text.",
                    html='<p>Inner <b>HTML</b><img src="https://tracker.example/i.gif"></p>',
                    files=(("inner.pdf", "application/pdf", b"%PDF inner"), ("inner2.txt", "text/plain", b"two")),
                    attached=(deepest,))
    outer = message("Fwd: Inner räkning", "Dan <dan@example.org>", "See below.",
                    files=(("outer.pdf", "application/pdf", b"%PDF outer"),), attached=(inner,))
    return put(alice, outer.as_bytes())


def test_an_attached_message_opens_like_a_message(mail_client, alice, forwarded):
    outer_url = reverse("webmail:message", args=["INBOX", forwarded])
    attached_url = reverse("webmail:attached", args=["INBOX", forwarded, "3"])
    assert f'<a href="{attached_url}">Open</a>' in mail_client.get(outer_url).content.decode()
    client = own_imap(alice)
    client.select_folder("INBOX")
    client.remove_flags([forwarded], [b"\\Seen"])
    client.logout()

    page = mail_client.get(attached_url).content.decode()
    assert '<h1 class="mail-subject">Inner räkning</h1>' in page
    assert "Björn &lt;bjorn@example.se&gt;" in page and "Mon, 4 Mar 2024 09:00" in page
    assert f'<a href="{outer_url}">The message it is attached to</a>' in page  # the way back
    body_url = reverse("webmail:attached_body", args=["INBOX", forwarded, "3"])
    assert f'src="{body_url}"' in re.search(r"<iframe[^>]*>", page).group(0)
    assert f'href="{body_url}?remote=1" target="dm-body"' in page  # remote content held back here too
    assert "Always show remote content" not in page and "Mark as read" not in page
    document = mail_client.get(body_url)
    assert "Inner <b>HTML</b>" in document.content.decode() and "tracker.example" not in document.content.decode()
    assert "script-src 'none'" in document["Content-Security-Policy"]

    # Its own attachments download by their sections inside the outer message.
    inner_pdf = reverse("webmail:part", args=["INBOX", forwarded, "3.2"])
    assert f'<a href="{inner_pdf}" download>inner.pdf</a>' in page and "outer.pdf" not in page
    assert mail_client.get(inner_pdf).content == b"%PDF inner"
    archive = unzip(mail_client.get(reverse("webmail:attached_zip", args=["INBOX", forwarded, "3"])))
    assert archive.namelist() == ["inner.pdf", "inner2.txt", "Deepest.eml"]
    # The attached message as .eml, and opening it did not mark the outer message read.
    eml = mail_client.get(reverse("webmail:part", args=["INBOX", forwarded, "3"]))
    assert eml.content.startswith(b"From: ") and b"Subject: Inner" in eml.content
    assert not seen(alice, forwarded)


def test_a_nested_attached_message_opens_with_the_way_back(mail_client, forwarded):
    page = mail_client.get(reverse("webmail:attached", args=["INBOX", forwarded, "3.4"])).content.decode()
    assert '<h1 class="mail-subject">Deepest</h1>' in page and "Deep text." in page
    assert f'<a href="{reverse("webmail:attached", args=["INBOX", forwarded, "3"])}">Inner räkning</a>' in page
    assert f'href="{reverse("webmail:message", args=["INBOX", forwarded])}"' in page
    deep = reverse("webmail:part", args=["INBOX", forwarded, "3.4.2"])
    assert f'<a href="{deep}" download>deep.pdf</a>' in page
    assert mail_client.get(deep).content == b"%PDF deep"
    # A text-only message has no HTML document.
    assert mail_client.get(reverse("webmail:attached_body", args=["INBOX", forwarded, "3.4"])).status_code == 404


def test_a_section_that_is_no_message_is_a_404_page(mail_client, forwarded):
    for section in ("2", "1", "3.2", "9", "3.9"):
        response = mail_client.get(reverse("webmail:attached", args=["INBOX", forwarded, section]))
        assert response.status_code == 404 and "no attached message there" in response.content.decode(), section
        assert mail_client.get(reverse("webmail:attached_body", args=["INBOX", forwarded, section])).status_code == 404
    assert mail_client.get(f"/mail/INBOX/{forwarded}/attached/x/").status_code == 404


def test_the_way_back_also_leads_through_a_base64_encoded_attached_message(mail_client, alice, put):
    import base64

    from webmail.render import message_path

    inner = message("Inside", "x@example.org", "Inside text.",
                    attached=(message("Innermost", "y@example.org", "Innermost text."),)).as_bytes()
    raw = (b"From: z@example.org\r\nSubject: Encoded\r\nMIME-Version: 1.0\r\n"
           b'Content-Type: multipart/mixed; boundary="e"\r\n\r\n--e\r\nContent-Type: text/plain\r\n\r\nsee\r\n'
           b"--e\r\nContent-Type: message/rfc822\r\nContent-Transfer-Encoding: base64\r\n\r\n"
           + base64.encodebytes(inner) + b"\r\n--e--\r\n")
    assert [(m.section, m.subject) for m in message_path(raw, "2~2")] == [("2", "Inside"), ("2~2", "Innermost")]
    assert message_path(raw, "1") == [] and message_path(raw, "not a section") == []
    uid = put(alice, raw)
    page = mail_client.get(reverse("webmail:attached", args=["INBOX", uid, "2~2"])).content.decode()
    assert '<h1 class="mail-subject">Innermost</h1>' in page and "Innermost text." in page
    assert f'<a href="{reverse("webmail:attached", args=["INBOX", uid, "2"])}">Inside</a>' in page


# --- Single-message actions ------------------------------------------------------------------

def test_the_reading_view_offers_the_actions_on_this_message(mail_client, alice, put):
    uid = put(alice, mail("Act on me"))
    page = mail_client.get(reverse("webmail:message", args=["INBOX", uid])).content.decode()
    form = re.search(r'<form method="post" action="([^"]+)" class="mail-actions">(.*?)</form>', page, re.S)
    assert form and form.group(1) == reverse("webmail:actions", args=["INBOX"])
    fields = dict(re.findall(r'<input type="hidden" name="(uid|next)" value="([^"]*)">', form.group(2)))
    assert fields == {"uid": str(uid), "next": reverse("webmail:folder", args=["INBOX"])}
    buttons = re.findall(r'<button type="submit" name="action" value="(\w+)"', form.group(2))
    assert buttons == ["delete", "archive", "spam", "unread", "flag"]
    response = mail_client.post(form.group(1), {**fields, "action": "flag"})
    assert response.status_code == 302 and response["Location"] == fields["next"]
    client = own_imap(alice)
    client.select_folder("INBOX", readonly=True)
    assert b"\\Flagged" in client.get_flags([uid])[uid]
    client.logout()
    assert actions(mail_client, "INBOX", uid) == ["delete", "archive", "spam", "unread", "unflag"]
    junk = put(alice, mail("Cheap pills"), folder="Junk")
    assert actions(mail_client, "Junk", junk) == ["delete", "archive", "notspam", "unread", "flag"]


def actions(client, folder: str, uid: int) -> list[str]:
    page = client.get(reverse("webmail:message", args=[folder, uid])).content.decode()
    return re.findall(r'<button type="submit" name="action" value="(\w+)"', page)


# --- Another member --------------------------------------------------------------------------

def test_another_member_never_reaches_these_views_of_alices_mail(client, alice, bob, put, forwarded, reports):
    bobs = put(bob, mail("Bob's own", to="bob@duckmail.test", attachments=(
        ("b1.pdf", "application/pdf", b"%PDF b1"), ("b2.pdf", "application/pdf", b"%PDF b2"))))
    client.force_login(bob)
    # alice's UIDs are just numbers in bob's own INBOX: the one he does not have is gone...
    alices = max(forwarded, reports)
    assert alices != bobs
    for name, args in (("webmail:zip", []), ("webmail:attached", ["3"]), ("webmail:attached_body", ["3"]),
                       ("webmail:attached_zip", ["3"])):
        response = client.get(reverse(name, args=["INBOX", alices, *args]))
        assert response.status_code == 404 and "This message no longer exists" in response.content.decode(), name
    for name in ("webmail:seen", "webmail:trust_sender"):
        assert client.post(reverse(name, args=["INBOX", alices])).status_code == 404, name
    # ...and the one he has is his own message, never alice's.
    assert unzip(client.get(reverse("webmail:zip", args=["INBOX", bobs]))).namelist() == ["b1.pdf", "b2.pdf"]
    assert not seen(alice, alices)
    client.logout()
    assert client.get(reverse("webmail:zip", args=["INBOX", alices])).status_code == 302  # to the login page
