"""Body search comes from Dovecot's full-text index (dovecot-fts-xapian), which every mail
program's SEARCH uses: mail is indexed as it arrives, a search finds words in decoded bodies
(quoted-printable, base64, any charset) and headers, and mail that was never indexed is
indexed before the answer, so a result is never partial."""

import shutil
import time
from email.message import EmailMessage

import pytest
from imapclient import IMAPClient

from tests.helpers import PASSWORD, lmtp_send, make_mail

pytestmark = pytest.mark.django_db(transaction=True)


def imap(user: str) -> IMAPClient:
    from django.conf import settings

    client = IMAPClient("127.0.0.1", port=settings.IMAP_PORT, ssl=False, timeout=20)
    client.login(user, PASSWORD)
    return client


def index_dir(stack, user: str):
    local, domain = user.split("@")
    return stack.vmail / domain / local / "Maildir" / "xapian-indexes"


def indexed_soon(stack, user: str) -> bool:
    """Dovecot's indexer works behind the delivery: give it a moment."""
    deadline = time.monotonic() + 10
    while not any(index_dir(stack, user).glob("db_*")) and time.monotonic() < deadline:
        time.sleep(0.1)
    return any(index_dir(stack, user).glob("db_*"))


def encoded(to: str, subject: str, body: str, charset: str, cte: str) -> bytes:
    msg = EmailMessage()
    msg["From"] = "friend@example.org"
    msg["To"] = to
    msg["Subject"] = subject
    msg.set_content(body, charset=charset, cte=cte)
    return msg.as_bytes()


def test_delivered_mail_is_indexed_and_found_by_its_words(mail_stack, alice):
    lmtp_send(alice.email, make_mail(alice.email, "Garden", "The tomatoes are ripening nicely.\n"))
    lmtp_send(alice.email, encoded(alice.email, "Trip", "Wir fahren nach Zürich, Grüße!\n", "iso-8859-1",
                                   "quoted-printable"))
    lmtp_send(alice.email, encoded(alice.email, "Notes", "Кошка спит на диване.\n", "koi8-r", "base64"))
    lmtp_send(alice.email, make_mail(alice.email, "Other", "Nothing to see.\n", sender="Zoe Quartermain <zq@example.org>"))
    # The index is written at delivery: a search is never the first to read every message.
    assert indexed_soon(mail_stack, alice.email)
    client = imap(alice.email)
    try:
        client.select_folder("INBOX")
        subject_of = {uid: data[b"ENVELOPE"].subject.decode()
                      for uid, data in client.fetch(client.search(), ["ENVELOPE"]).items()}

        def found(*criteria):
            return sorted(subject_of[uid] for uid in client.search(list(criteria), charset="UTF-8"))

        assert found("BODY", "tomatoes") == ["Garden"]
        assert found("BODY", "Zürich") == ["Trip"]  # quoted-printable Latin-1, asked in UTF-8
        assert found("BODY", "диване") == ["Notes"]  # base64 KOI8-R
        assert found("TEXT", "Quartermain") == ["Other"]  # TEXT covers the headers too
        assert found("BODY", "bicycle") == []
    finally:
        client.logout()


def test_mail_from_before_the_index_is_found_all_the_same(mail_stack, alice):
    for n in range(5):
        lmtp_send(alice.email, make_mail(alice.email, f"Old {n}", f"Archive entry number{n} about lighthouses.\n"))
    # As after an upgrade, or an index lost with a restored backup.
    assert indexed_soon(mail_stack, alice.email)
    shutil.rmtree(index_dir(mail_stack, alice.email))
    client = imap(alice.email)
    try:
        client.select_folder("INBOX")
        assert len(client.search(["BODY", "lighthouses"])) == 5
        assert len(client.search(["BODY", "number3"])) == 1
    finally:
        client.logout()
    assert any(index_dir(mail_stack, alice.email).glob("db_*"))  # rebuilt by that search
