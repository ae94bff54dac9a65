"""Helpers the tests of several apps share: the test members' password, clients of the throwaway mail
servers (IMAP, POP3, ManageSieve, LMTP, postmap), and the shipped global rules restored."""

import imaplib
import poplib
import smtplib
import subprocess
from email.header import decode_header, make_header
from email.message import EmailMessage

from django.conf import settings

PASSWORD = "Correct-Horse-7-battery"  # every test member's password (make_member)


def imap_login(user: str, password: str) -> imaplib.IMAP4:
    client = imaplib.IMAP4("127.0.0.1", settings.IMAP_PORT)
    client.login(user, password)
    return client


def pop3_login(user: str, password: str) -> poplib.POP3:
    client = poplib.POP3("127.0.0.1", settings.POP3_PORT)
    client.user(user)
    client.pass_(password)
    return client


def managesieve_login(user: str, password: str) -> bool:
    from sievelib.managesieve import Client

    client = Client("127.0.0.1", settings.MANAGESIEVE_PORT)
    ok = client.connect(user, password, starttls=False, authmech="PLAIN")
    if ok:
        client.logout()
    return bool(ok)


def make_mail(to: str, subject: str = "Hello", body: str = "Hi there.\n", sender: str = "friend@example.org",
              **headers) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    msg.set_content(body)
    return msg.as_bytes()


def lmtp_send(recipient: str, data: bytes, sender: str = "friend@example.org"):
    with smtplib.LMTP("127.0.0.1", settings.LMTP_PORT) as lmtp:
        return lmtp.sendmail(sender, [recipient], data)


def postmap(stack, map_name: str, key: str) -> str | None:
    result = subprocess.run(
        ["postmap", "-c", str(stack.postfix_dir), "-q", key, f"pgsql:{stack.postfix_dir / map_name}"],
        capture_output=True, text=True, timeout=20,
    )
    if result.returncode == 1:
        return None
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def subjects(user: str, password: str, folder: str = "INBOX") -> list[str]:
    client = imap_login(user, password)
    try:
        typ, _ = client.select(f'"{folder}"', readonly=True)
        assert typ == "OK", folder
        typ, data = client.search(None, "ALL")
        found = []
        for num in data[0].split():
            _, msg = client.fetch(num, "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
            raw = msg[0][1].decode().split(":", 1)[1].strip()
            found.append(str(make_header(decode_header(raw))))
        return found
    finally:
        client.logout()


def bodies(user: str, password: str, folder: str = "INBOX") -> list[str]:
    """The decoded text body of every message in the folder."""
    import email
    from email import policy

    client = imap_login(user, password)
    try:
        client.select(f'"{folder}"', readonly=True)
        _, data = client.search(None, "ALL")
        texts = []
        for num in data[0].split():
            _, msg = client.fetch(num, "(BODY.PEEK[])")
            parsed = email.message_from_bytes(msg[0][1], policy=policy.default)
            texts.append(parsed.get_body(preferencelist=("plain",)).get_content())
        return texts
    finally:
        client.logout()


def restore_shipped_global_rules():
    """The global rules the data migration creates, by the migration's own code (a
    transactional test's flush deletes them); returns them."""
    import importlib

    from django.apps import apps

    from filters.models import GlobalRule

    importlib.import_module("filters.migrations.0002_incoming_spam").create(apps, None)
    return list(GlobalRule.objects.filter(name="incoming_spam"))
