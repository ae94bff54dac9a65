"""PostgreSQL down: logins and deliveries fail temporarily within seconds, work again within
seconds of its return, and no mail is lost (real Dovecot and Postfix over a PostgreSQL of the
test's own, stopped and frozen for real; see tests/private_postgres.py and mailstack/dbwatch.py).

Without the watcher, Dovecot 2.3 queued every lookup up to 60 s per passdb (a main-password
login answered after 120 s) and refused logins for ~115 s after the database came back."""

import imaplib
import smtplib
import subprocess
import time

import pytest

from tests.helpers import PASSWORD, make_mail

pytestmark = [pytest.mark.mailstack, pytest.mark.postfix]

# Well below the old 60-120 s; the watcher checks every second, a check gives up after 2 s.
FAST = 8.0
# Client timeouts: a test of the old behaviour fails here instead of waiting for Dovecot's 60 s.
CLIENT_TIMEOUT = 20.0


def imap_login(stack, password: str) -> str:
    """'OK', or the server's NO text; within CLIENT_TIMEOUT."""
    client = imaplib.IMAP4("127.0.0.1", stack.mail.ports.imap, timeout=CLIENT_TIMEOUT)
    try:
        client.login(stack.address("alice"), password)
        return "OK"
    except imaplib.IMAP4.error as exc:
        return str(exc)
    finally:
        client.shutdown()


def rcpt(port: int, recipient: str, lmtp: bool) -> int:
    """The reply code to RCPT TO (LMTP at Dovecot or SMTP at Postfix)."""
    try:
        with (smtplib.LMTP if lmtp else smtplib.SMTP)("127.0.0.1", port, timeout=CLIENT_TIMEOUT) as client:
            client.ehlo("test.example")
            client.mail("friend@example.org")
            code, _ = client.rcpt(recipient)
            return code
    except smtplib.SMTPResponseException as exc:  # 421 from a process ending at a reload
        return exc.smtp_code


def timed(fn, *args):
    started = time.monotonic()
    result = fn(*args)
    return result, time.monotonic() - started


def until(fn, ok, deadline: float):
    """Call fn until ok(result) or `deadline` seconds passed; (last result, seconds taken)."""
    started = time.monotonic()
    while True:
        result = fn()
        if ok(result) or time.monotonic() - started > deadline:
            return result, time.monotonic() - started
        time.sleep(0.3)


def test_with_the_database_stopped_logins_and_deliveries_fail_temporarily_within_seconds(outage_stack, database):
    stack = outage_stack
    assert imap_login(stack, PASSWORD) == "OK"
    database.stop()
    started = time.monotonic()

    # A login racing the watcher's switch may instead be cut with "BYE Shutting down"
    # (the reload ends the old login process): a temporary failure too, clients reconnect.
    answer, took = timed(imap_login, stack, PASSWORD)
    assert ("[UNAVAILABLE]" in answer or "Shutting down" in answer) and took < FAST, (answer, took)
    for password in (PASSWORD, stack.app_passwords["alice"]):
        answer, took = timed(imap_login, stack, password)
        assert "[UNAVAILABLE]" in answer and took < FAST, (answer, took)
    # Dovecot: 451, so whoever delivers keeps the mail; Postfix: its 451, bounded too.
    code, took = timed(rcpt, stack.mail.ports.lmtp, stack.address("alice"), True)
    assert 400 <= code < 500 and took < FAST, (code, took)
    code, took = timed(rcpt, stack.mail.ports.smtp, stack.address("alice"), False)
    assert code == 451 and took < FAST, (code, took)
    assert time.monotonic() - started < 2 * FAST


def test_logins_and_deliveries_work_again_within_seconds_of_the_database_returning(outage_stack, database):
    stack = outage_stack
    database.stop()
    # An outage long enough for Dovecot's reconnect delays to grow (1, 5, 25 s ...), with
    # logins and deliveries knocking meanwhile, as members' programs do.
    outage_ends = time.monotonic() + 9
    while time.monotonic() < outage_ends:
        imap_login(stack, stack.app_passwords["alice"])
        rcpt(stack.mail.ports.lmtp, stack.address("alice"), True)
        rcpt(stack.mail.ports.smtp, stack.address("alice"), False)
        time.sleep(0.5)
    database.start()

    answer, took = until(lambda: imap_login(stack, PASSWORD), lambda a: a == "OK", deadline=10)
    assert answer == "OK", (answer, took)
    assert imap_login(stack, stack.app_passwords["alice"]) == "OK"
    code, took = until(lambda: rcpt(stack.mail.ports.lmtp, stack.address("alice"), True), lambda c: c == 250, 5)
    assert code == 250, (code, took)
    code, took = until(lambda: rcpt(stack.mail.ports.smtp, stack.address("alice"), False), lambda c: c == 250, 5)
    assert code == 250, (code, took)


def test_a_database_that_hangs_is_a_temporary_failure_within_seconds_too(outage_stack, database):
    stack = outage_stack
    assert imap_login(stack, PASSWORD) == "OK"
    database.freeze()  # accepts connections, never answers
    # The first login waits on the frozen server until the watcher gives up on it (its 2 s
    # timeout) and reloads Dovecot, whose master lets the old auth process finish for 6 s
    # before it ends it, cutting that login ("BYE Shutting down"); the next is refused at once.
    answer, took = timed(imap_login, stack, PASSWORD)
    assert ("[UNAVAILABLE]" in answer or "Shutting down" in answer) and took < 2 * FAST, (answer, took)
    answer, took = timed(imap_login, stack, PASSWORD)
    assert "[UNAVAILABLE]" in answer and took < FAST, (answer, took)
    code, took = timed(rcpt, stack.mail.ports.lmtp, stack.address("alice"), True)
    assert 400 <= code < 500 and took < FAST, (code, took)
    database.thaw()
    answer, took = until(lambda: imap_login(stack, PASSWORD), lambda a: a == "OK", deadline=10)
    assert answer == "OK", (answer, took)


def postfix(stack, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(list(args), capture_output=True, text=True, timeout=30, check=True)


def delivered(stack, subject: str) -> bool:
    new = stack.mail.vmail / "duckmail.test" / "alice" / "Maildir" / "new"
    return new.exists() and any(subject.encode() in f.read_bytes() for f in new.iterdir())


def test_mail_postfix_holds_when_the_database_goes_down_is_delivered_after_it(outage_stack, database):
    stack = outage_stack
    pdir = str(stack.mail.postfix_dir)
    # Postfix accepts the mail while the database answers, and holds it back from Dovecot…
    postfix(stack, "postconf", "-c", pdir, "-e", "defer_transports = lmtp")
    postfix(stack, "postfix", "-c", pdir, "reload")
    try:
        with smtplib.SMTP("127.0.0.1", stack.mail.ports.smtp, timeout=CLIENT_TIMEOUT) as smtp:
            smtp.sendmail("friend@example.org", [stack.address("alice")],
                          make_mail(stack.address("alice"), subject="Sent during the outage"))
        # … until the database is down.
        database.stop()
        time.sleep(2)  # the watcher has seen it
    finally:
        postfix(stack, "postconf", "-c", pdir, "-e", "defer_transports =")
        postfix(stack, "postfix", "-c", pdir, "reload")
    postfix(stack, "postqueue", "-c", pdir, "-f")
    # Postfix itself needs the database to route the mail: it defers it (4.3.0), keeping it.
    log, took = until(lambda: stack.mail.log("postfix"), lambda text: "dsn=4.3.0, status=deferred" in text, FAST)
    assert "dsn=4.3.0, status=deferred" in log, (took, log[-2000:])
    assert not delivered(stack, "Sent during the outage")

    database.start()
    # Without a queue run of ours: Postfix alone would wait for its next one (minutes).
    got, took = until(lambda: delivered(stack, "Sent during the outage"), lambda d: d, FAST)
    assert got, (took, stack.mail.log("postfix")[-2000:])
    assert "Mail queue is empty" in postfix(stack, "postqueue", "-c", pdir, "-p").stdout
