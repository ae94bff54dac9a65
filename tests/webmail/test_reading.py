"""The reading view: headers, the HTML body in its sandboxed document (remote content held
back, shown once on request), plain text with clickable links, cid images through signed
links, attachments as downloads, and reading marks the message read (downloads do not)."""

import re
import time

import pytest
from django.core import signing
from django.urls import reverse

from tests.webmail.conftest import mail, own_imap, seen

pytestmark = pytest.mark.django_db(transaction=True)

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64
NEWSLETTER = ('<html><body><p>Dear member, <b>news</b>.</p><img src="https://tracker.example/p.gif">'
              '<img src="cid:logo@x" alt="logo"><a href="https://example.org/more">more</a></body></html>')


@pytest.fixture
def newsletter(alice, put):
    return put(alice, mail("Newsletter", body="Dear member, see https://example.org/more?a=1&b=2.\n<script>x</script>\n",
                           html=NEWSLETTER, related=(("logo@x", "image/png", PNG),),
                           attachments=(("Prüfbericht März.pdf", "application/pdf", b"%PDF-1.4"),
                                        ("photo.png", "image/png", PNG), ("drawing.svg", "image/svg+xml", b"<svg/>"))))


def test_the_headers_and_the_sandboxed_body_are_shown(mail_client, newsletter):
    page = mail_client.get(reverse("webmail:message", args=["INBOX", newsletter])).content.decode()
    assert '<h1 class="mail-subject">Newsletter</h1>' in page
    assert "Friend &lt;friend@example.org&gt;" in page and "alice@duckmail.test" in page
    assert "Tue, 5 Mar 2024 10:30" in page
    frame = re.search(r"<iframe[^>]*>", page).group(0)
    body_url = reverse("webmail:body", args=["INBOX", newsletter])
    assert f'src="{body_url}"' in frame and 'sandbox="allow-popups allow-popups-to-escape-sandbox"' in frame
    assert 'name="dm-body"' in frame
    # The banner reloads only the frame, with remote content for that one answer.
    assert f'href="{body_url}?remote=1" target="dm-body"' in page and "Show remote content once" in page
    assert "Prüfbericht März.pdf" in page and "Preview" in page


def test_the_body_document_holds_nothing_remote_until_asked_once(mail_client, newsletter):
    url = reverse("webmail:body", args=["INBOX", newsletter])
    blocked = mail_client.get(url)
    assert blocked["X-Frame-Options"] == "SAMEORIGIN" and blocked["Referrer-Policy"] == "no-referrer"
    policy = blocked["Content-Security-Policy"]
    assert "script-src 'none'" in policy and "sandbox allow-popups" in policy
    assert "img-src data: http://testserver/mail/cid/;" in policy
    assert "tracker.example" not in blocked.content.decode()
    shown = mail_client.get(url + "?remote=1")
    assert 'src="https://tracker.example/p.gif"' in shown.content.decode()
    assert "https:" in shown["Content-Security-Policy"]
    assert "tracker.example" not in mail_client.get(url).content.decode()


def test_the_plain_text_view_is_escaped_with_clickable_links(mail_client, newsletter):
    page = mail_client.get(reverse("webmail:message", args=["INBOX", newsletter]) + "?view=text").content.decode()
    assert "<iframe" not in page and "HTML</a>" in page
    assert ('<a href="https://example.org/more?a=1&amp;b=2" target="_blank" rel="noopener noreferrer">'
            'https://example.org/more?a=1&amp;b=2</a>.') in page
    assert "&lt;script&gt;x&lt;/script&gt;" in page and "<script>x" not in page


def test_all_headers_on_request(mail_client, newsletter):
    url = reverse("webmail:message", args=["INBOX", newsletter])
    assert "Message-ID" not in mail_client.get(url).content.decode()
    page = mail_client.get(url + "?headers=all").content.decode()
    assert ">Message-ID</th>" in page and ">MIME-Version</th>" in page


def cid_link(client, uid) -> str:
    document = client.get(reverse("webmail:body", args=["INBOX", uid])).content.decode()
    return re.search(r'src="(/mail/cid/[^"]+)"', document).group(1)


def test_a_cid_image_comes_through_its_signed_link_without_the_session(mail_client, client, newsletter):
    link = cid_link(mail_client, newsletter)
    client.logout()  # as the sandboxed frame asks: no cookie at all
    image = client.get(link)
    assert image.status_code == 200 and image.content == PNG and image["Content-Type"] == "image/png"
    assert image["X-Content-Type-Options"] == "nosniff"


def test_a_cid_link_with_a_bad_or_expired_signature_is_refused(mail_client, alice, newsletter):
    link = cid_link(mail_client, newsletter)
    token = link.split("/")[3]
    payload = signing.loads(token, salt="webmail.cid")
    forged = signing.dumps(payload, salt="webmail.cid", key="not-our-secret-key-at-all-0123456789")
    assert mail_client.get(reverse("webmail:cid", args=[forged])).status_code == 403
    assert mail_client.get(reverse("webmail:cid", args=["abc:def"])).status_code == 403

    class Yesterday(signing.TimestampSigner):
        def timestamp(self):
            return signing.b62_encode(int(time.time()) - 86400)

    expired = Yesterday(salt="webmail.cid").sign_object(payload, compress=True)
    assert mail_client.get(reverse("webmail:cid", args=[expired])).status_code == 403


def test_attachments_download_with_safe_headers_and_raster_images_may_preview(mail_client, newsletter):
    pdf = mail_client.get(reverse("webmail:part", args=["INBOX", newsletter, "2"]))
    assert pdf.content == b"%PDF-1.4"
    assert pdf["Content-Disposition"] == "attachment; filename*=utf-8''Pr%C3%BCfbericht%20M%C3%A4rz.pdf"
    assert pdf["X-Content-Type-Options"] == "nosniff" and pdf["Content-Security-Policy"] == "sandbox"
    preview = mail_client.get(reverse("webmail:part", args=["INBOX", newsletter, "3"]) + "?inline=1")
    assert preview["Content-Type"] == "image/png" and preview["Content-Disposition"].startswith("inline;")
    svg = mail_client.get(reverse("webmail:part", args=["INBOX", newsletter, "4"]) + "?inline=1")
    assert svg["Content-Disposition"].startswith("attachment;") and svg["Content-Type"] == "application/octet-stream"
    assert mail_client.get(reverse("webmail:part", args=["INBOX", newsletter, "9"])).status_code == 404


def test_the_source_downloads_as_eml_or_shows_as_plain_text_that_nothing_interprets(mail_client, newsletter):
    page = mail_client.get(reverse("webmail:message", args=["INBOX", newsletter])).content.decode()
    source = reverse("webmail:source", args=["INBOX", newsletter])
    assert f'href="{source}?view=text"' in page and f'href="{source}"' in page
    eml = mail_client.get(source)
    assert eml["Content-Disposition"].startswith("attachment;") and eml["Content-Type"] == "message/rfc822"
    shown = mail_client.get(source + "?view=text")
    assert shown["Content-Type"] == "text/plain; charset=utf-8" and shown["Content-Disposition"].startswith("inline;")
    assert shown["X-Content-Type-Options"] == "nosniff" and shown["Content-Security-Policy"] == "sandbox"
    assert b"Content-Type: text/html" in shown.content and b"<html>" in shown.content  # the markup, as text


def test_opening_marks_read_but_the_frame_and_downloads_do_not(mail_client, alice, newsletter):
    for name, args in (("webmail:body", []), ("webmail:source", []), ("webmail:part", ["2"])):
        assert mail_client.get(reverse(name, args=["INBOX", newsletter, *args])).status_code == 200
    assert not seen(alice, newsletter)
    mail_client.get(reverse("webmail:message", args=["INBOX", newsletter]))
    assert seen(alice, newsletter)
    unread_mark = mail_client.get(reverse("webmail:folder", args=["INBOX"])).content.decode()
    assert 'title="Unread"' not in unread_mark


def test_a_message_deleted_meanwhile_no_longer_exists(mail_client, alice, put):
    uid = put(alice, mail("Short-lived"))
    url = reverse("webmail:message", args=["INBOX", uid])
    assert mail_client.get(url).status_code == 200
    client = own_imap(alice)
    client.select_folder("INBOX")
    client.delete_messages([uid])
    client.expunge()
    client.logout()
    for gone in (url, reverse("webmail:body", args=["INBOX", uid]), reverse("webmail:part", args=["INBOX", uid, "1"])):
        response = mail_client.get(gone)
        assert response.status_code == 404 and "This message no longer exists" in response.content.decode(), gone


def test_a_message_delivered_after_the_list_was_shown_opens_by_its_deep_link(mail_client, alice, put):
    mail_client.get(reverse("webmail:folder", args=["INBOX"]))  # INBOX stays selected on the kept connection
    uid = put(alice, mail("Just arrived"))
    response = mail_client.get(reverse("webmail:message", args=["INBOX", uid]))
    assert response.status_code == 200 and "Just arrived" in response.content.decode()
