"""Fixtures the webmail tests share: mail put into a member's folders over IMAP APPEND (as
the member, with their own password), and the member's own IMAP view to check what the
web did."""

from __future__ import annotations

import datetime as dt
from email.message import EmailMessage

import pytest
from django.conf import settings
from imapclient import IMAPClient

from tests.helpers import PASSWORD


def own_imap(member) -> IMAPClient:
    """An IMAP login of `member` with their password, as a mail program would have (the caller logs out)."""
    client = IMAPClient("127.0.0.1", port=settings.IMAP_PORT, ssl=False, timeout=20)
    client.login(member.email, PASSWORD)
    return client


def seen(member, uid: int) -> bool:
    """Whether the INBOX message `uid` is \\Seen, in the member's own IMAP view."""
    client = own_imap(member)
    try:
        client.select_folder("INBOX", readonly=True)
        return b"\\Seen" in client.get_flags([uid])[uid]
    finally:
        client.logout()


def log_in(page, username: str) -> None:
    """Log `username` in through the login page of the browser `page` (Playwright)."""
    page.goto("/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url("**/account/")


def mail(subject: str = "Hello", *, sender: str = "Friend <friend@example.org>", to: str = "alice@duckmail.test",
         body: str = "Hi there.\n", date: dt.datetime | None = None, html: str | None = None,
         attachments: tuple = (), related: tuple = ()) -> bytes:
    """A message: text (and HTML) body, attachments (filename, type, bytes), and cid images
    in a multipart/related HTML part (content_id, type, bytes)."""
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = (date or dt.datetime(2024, 3, 5, 10, 30, tzinfo=dt.UTC)).strftime("%a, %d %b %Y %H:%M:%S %z")
    msg["Message-ID"] = f"<{abs(hash((subject, date)))}@example.org>"
    msg.set_content(body)
    if html is not None:
        msg.add_alternative(html, subtype="html")
        html_part = msg.get_payload()[1]
        for content_id, ctype, data in related:
            maintype, subtype = ctype.split("/")
            html_part.add_related(data, maintype=maintype, subtype=subtype, cid=f"<{content_id}>")
    for filename, ctype, data in attachments:
        maintype, subtype = ctype.split("/")
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    return msg.as_bytes()


@pytest.fixture
def put(mail_stack):
    """put(member, raw, folder="INBOX", flags=(), when=None) -> uid: APPEND as the member."""

    def put(member, raw: bytes, folder: str = "INBOX", flags=(), when: dt.datetime | None = None) -> int:
        client = own_imap(member)
        try:
            response = client.append(folder, raw, flags=flags, msg_time=when)
        finally:
            client.logout()
        # "[APPENDUID <uidvalidity> <uid>] Append completed."
        return int(response.split(b"]")[0].split()[-1])

    return put


@pytest.fixture
def mail_client(mail_stack, alice_client):
    """alice's browser, logged in, with the throwaway Dovecot running."""
    return alice_client


@pytest.fixture
def put_many(mail_stack):
    """put_many(member, [raw or {"msg", "flags", "date"}], folder="INBOX"): one MULTIAPPEND, one login."""

    def put_many(member, messages, folder: str = "INBOX") -> None:
        client = own_imap(member)
        try:
            client.multiappend(folder, messages)
        finally:
            client.logout()

    return put_many


@pytest.fixture
def imap_commands(monkeypatch):
    """Counts the SELECT and SORT commands the web sends (the real ones still go to Dovecot)."""
    counts = {"select": 0, "sort": 0}
    real_select, real_sort = IMAPClient.select_folder, IMAPClient.sort

    def select_folder(self, *args, **kwargs):
        counts["select"] += 1
        return real_select(self, *args, **kwargs)

    def sort(self, *args, **kwargs):
        counts["sort"] += 1
        return real_sort(self, *args, **kwargs)

    monkeypatch.setattr(IMAPClient, "select_folder", select_folder)
    monkeypatch.setattr(IMAPClient, "sort", sort)
    return counts
