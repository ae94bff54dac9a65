"""The webmail's first pages against the real Dovecot: the folder list with counts, the message
list sorted and paged on the server, the reading view with its sandboxed HTML body, downloads,
deep links that are gone or malformed, other members' mail, and Dovecot down."""

import datetime as dt
import re

import pytest
from django.urls import reverse

from tests.webmail.conftest import mail, own_imap

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_folder_list_shows_special_folders_first_with_unread_counts(mail_client, alice, put):
    client = own_imap(alice)
    client.create_folder("Aardvark")
    client.create_folder("Über")
    client.logout()
    put(alice, mail("one"))
    put(alice, mail("two"), flags=[b"\\Seen"])
    put(alice, mail("three"), folder="Über")
    body = mail_client.get(reverse("webmail:folder", args=["INBOX"])).content.decode()
    sidebar = body.split('class="mail-folders', 1)[1].split("</aside>")[0]
    names = re.findall(r'class="folder-name[^"]*"[^>]*>([^<]+)<', sidebar)
    assert names[:6] == ["Inbox", "Drafts", "Sent", "Archive", "Junk", "Trash"], names
    assert names.index("Aardvark") < names.index("Über")
    assert 'title="1 unread of 2"' in sidebar
    # The Unicode folder is reachable by its deep link (percent-encoded UTF-8 in the URL).
    response = mail_client.get(reverse("webmail:folder", args=["Über"]))
    assert response.status_code == 200 and "three" in response.content.decode()


def test_the_list_is_sorted_and_paged_on_the_server(mail_client, alice, put):
    start = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    for n in range(60):
        put(alice, mail(f"Subject {n:02d}", date=start + dt.timedelta(days=n)))
    first = mail_client.get(reverse("webmail:folder", args=["INBOX"])).content.decode()
    assert "Subject 59" in first and "Subject 10" in first and "Subject 09" not in first  # newest 50 first
    second = mail_client.get(reverse("webmail:folder", args=["INBOX"]) + "?page=2").content.decode()
    assert "Subject 09" in second and "Subject 00" in second and "Subject 10" not in second
    by_subject = mail_client.get(reverse("webmail:folder", args=["INBOX"]) + "?sort=subject&order=asc").content.decode()
    assert by_subject.index("Subject 00") < by_subject.index("Subject 01") and "Subject 55" not in by_subject
    bad = mail_client.get(reverse("webmail:folder", args=["INBOX"]) + "?sort=x%0d%0aA1%20LOGOUT")
    assert bad.status_code == 400 and "can not be sorted" in bad.content.decode()


def test_an_html_mail_is_shown_sanitised_in_a_sandboxed_frame_with_remote_content_blocked(mail_client, alice, put):
    html = ('<p onclick="steal()">Dear member <script>document.title="pwned"</script>'
            '<img src="https://tracker.example/pixel.png"> <a href="https://example.org/x">link</a></p>')
    uid = put(alice, mail("Newsletter", html=html))
    page = mail_client.get(reverse("webmail:message", args=["INBOX", uid])).content.decode()
    frame = re.search(r"<iframe[^>]*>", page).group(0)
    assert 'sandbox="' in frame and "allow-scripts" not in frame and "allow-same-origin" not in frame
    assert "pwned" not in page.split("<iframe")[0]
    document = mail_client.get(reverse("webmail:body", args=["INBOX", uid]))
    text = document.content.decode()
    assert "Dear member" in text
    assert "<script" not in text and "onclick" not in text and "tracker.example" not in text
    assert "default-src 'none'" in document["Content-Security-Policy"]
    assert "https:" not in document["Content-Security-Policy"].split("img-src")[1].split(";")[0]
    once = mail_client.get(reverse("webmail:body", args=["INBOX", uid]) + "?remote=1")
    assert "tracker.example/pixel.png" in once.content.decode()
    # Only that answer: the next one blocks again.
    assert "tracker.example" not in mail_client.get(reverse("webmail:body", args=["INBOX", uid])).content.decode()


def test_opening_a_message_marks_it_read(mail_client, alice, put):
    uid = put(alice, mail("Unread one"))
    assert mail_client.get(reverse("webmail:message", args=["INBOX", uid])).status_code == 200
    client = own_imap(alice)
    client.select_folder("INBOX", readonly=True)
    assert b"\\Seen" in client.get_flags([uid])[uid]
    client.logout()


def test_attachments_are_downloads_that_a_browser_never_renders(mail_client, alice, put):
    uid = put(alice, mail("Files", attachments=(("évil.html", "text/html", b"<script>alert(1)</script>"),
                                               ("report.pdf", "application/pdf", b"%PDF-1.4 x"))))
    page = mail_client.get(reverse("webmail:message", args=["INBOX", uid])).content.decode()
    assert "évil.html" in page and "report.pdf" in page
    response = mail_client.get(reverse("webmail:part", args=["INBOX", uid, "2"]))
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment;") and "filename*=utf-8''%C3%A9vil.html" in response[
        "Content-Disposition"]
    assert response["Content-Type"] == "application/octet-stream"  # never text/html
    assert response["X-Content-Type-Options"] == "nosniff" and response["Content-Security-Policy"] == "sandbox"
    source = mail_client.get(reverse("webmail:source", args=["INBOX", uid]))
    assert source["Content-Disposition"].startswith("attachment;") and b"Subject: Files" in source.content


def test_gone_and_malformed_deep_links_are_clean_404s(mail_client, alice, put):
    uid = put(alice, mail("Here"))
    gone = mail_client.get(reverse("webmail:message", args=["INBOX", uid + 100]))
    assert gone.status_code == 404 and "no longer exists" in gone.content.decode()
    missing = mail_client.get(reverse("webmail:folder", args=["Nowhere"]))
    assert missing.status_code == 404
    for path in ("/mail/INBOX%0D%0AA1%20DELETE%20INBOX/", "/mail/INBOX/1%20OR%201/", "/mail/INBOX/*/",
                 f"/mail/INBOX/{uid}/part/1..2/", "/mail/%7B5%7D%0D%0Aabcde/", f"/mail/INBOX/{uid}/part/1%0D%0A/"):
        assert mail_client.get(path).status_code in (400, 404), path
    client = own_imap(alice)
    assert client.folder_exists("INBOX")  # nothing was deleted
    client.logout()


def test_a_member_never_reaches_another_members_mail(client, mail_stack, alice, bob, put):
    uid = put(alice, mail("Alice's secret"))
    client.force_login(bob)
    for name in ("webmail:message", "webmail:body", "webmail:source"):
        response = client.get(reverse(name, args=["INBOX", uid]))
        assert response.status_code == 404, name
        assert "secret" not in response.content.decode()
    assert "secret" not in client.get(reverse("webmail:folder", args=["INBOX"])).content.decode()
    client.logout()
    # Logged out: the login page, not the mail.
    response = client.get(reverse("webmail:folder", args=["INBOX"]))
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_an_inline_image_link_needs_its_signature(mail_client, alice, put):
    png = b"\x89PNG\r\n\x1a\n" + b"\0" * 64
    uid = put(alice, mail("Logo", html='<p>Hi <img src="cid:logo@x"></p>', related=(("logo@x", "image/png", png),)))
    document = mail_client.get(reverse("webmail:body", args=["INBOX", uid])).content.decode()
    link = re.search(r'src="(/mail/cid/[^"]+)"', document).group(1)
    # From the sandboxed frame no cookie comes along: the signature alone lets it through.
    mail_client.logout()
    image = mail_client.get(link)
    assert image.status_code == 200 and image.content == png and image["X-Content-Type-Options"] == "nosniff"
    tampered = link.rstrip("/")[:-3] + "AAA/"
    assert mail_client.get(tampered).status_code in (403, 404)


def test_dovecot_down_is_a_clear_page(mail_client, alice, mail_stack, settings):
    from accounts import mailaccess

    mailaccess.web_pool.close_all()
    settings.IMAP_PORT = 1  # nothing listens there
    response = mail_client.get(reverse("webmail:folder", args=["INBOX"]))
    assert response.status_code == 503
    assert "Traceback" not in response.content.decode()
