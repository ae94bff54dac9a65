"""Mail reaches the right mailbox through the real Postfix maps, Postfix and Dovecot LMTP."""

import smtplib

import pytest

from accounts import services
from tests.helpers import PASSWORD, lmtp_send, make_mail, postmap, subjects

pytestmark = pytest.mark.django_db(transaction=True)

BIG = 21 * 1024 * 1024


def test_lmtp_delivers_to_the_mailbox_and_to_an_alias_resolved_by_the_postfix_map(mail_stack, alice):
    services.add_alias(alice, "ally")
    assert lmtp_send("alice@duckmail.test", make_mail("alice@duckmail.test", "Direct")) == {}
    destination = postmap(mail_stack, "virtual_aliases.cf", "ally@duckmail.test")
    assert destination == "alice@duckmail.test"
    assert lmtp_send(destination, make_mail("ally@duckmail.test", "Via alias")) == {}
    assert sorted(subjects("alice@duckmail.test", PASSWORD)) == ["Direct", "Via alias"]


def test_lmtp_refuses_an_unknown_or_disabled_recipient(mail_stack, alice):
    with pytest.raises(smtplib.SMTPRecipientsRefused) as exc:
        lmtp_send("nobody@duckmail.test", make_mail("nobody@duckmail.test"))
    assert exc.value.recipients["nobody@duckmail.test"][0] == 550
    services.set_member_active(alice, False, actor=None)
    with pytest.raises(smtplib.SMTPRecipientsRefused):
        lmtp_send("alice@duckmail.test", make_mail("alice@duckmail.test"))


def test_lmtp_refuses_mail_over_20_mb_with_a_clear_error(mail_stack, alice):
    data = make_mail("alice@duckmail.test", "Huge", "x" * 76 + "\n") + b"x" * BIG
    with pytest.raises(smtplib.SMTPDataError) as exc:
        lmtp_send("alice@duckmail.test", data)
    assert b"too large" in exc.value.smtp_error.lower() or b"size" in exc.value.smtp_error.lower()
    assert subjects("alice@duckmail.test", PASSWORD) == []


def test_postfix_delivers_to_mailbox_alias_and_redirection_copy(postfix, relay_sink, alice):
    services.add_alias(alice, "ally")
    services.add_redirection(alice, "fwd", ["friend@example.org"], keep_copy=True)
    with smtplib.SMTP("127.0.0.1", postfix.ports.smtp) as smtp:
        smtp.sendmail("sender@example.net", ["alice@duckmail.test"], make_mail("alice@duckmail.test", "One"))
        smtp.sendmail("sender@example.net", ["ally@duckmail.test"], make_mail("ally@duckmail.test", "Two"))
        smtp.sendmail("sender@example.net", ["fwd@duckmail.test"], make_mail("fwd@duckmail.test", "Three"))
    # The redirection forwards outside (to the relay sink) and keeps a copy.
    relayed = relay_sink.wait_for(1)
    assert [m[1] for m in relayed] == [["friend@example.org"]]
    assert b"Subject: Three" in relayed[0][2]
    import time

    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and len(subjects("alice@duckmail.test", PASSWORD)) < 3:
        time.sleep(0.1)
    assert sorted(subjects("alice@duckmail.test", PASSWORD)) == ["One", "Three", "Two"]


def test_postfix_refuses_unknown_recipients_and_mail_over_20_mb(postfix, alice):
    with smtplib.SMTP("127.0.0.1", postfix.ports.smtp) as smtp:
        code, caps = smtp.ehlo()
        assert smtp.esmtp_features["size"] == "20971520"
        with pytest.raises(smtplib.SMTPRecipientsRefused) as exc:
            smtp.sendmail("s@example.net", ["nobody@duckmail.test"], make_mail("nobody@duckmail.test"))
        assert exc.value.recipients["nobody@duckmail.test"][0] == 550
        with pytest.raises(smtplib.SMTPSenderRefused) as exc:
            smtp.sendmail("s@example.net", ["alice@duckmail.test"], b"Subject: x\r\n\r\nx\r\n",
                          mail_options=[f"SIZE={BIG}"])
        assert exc.value.smtp_code == 552
        assert b"exceeds" in exc.value.smtp_error


def test_submission_needs_a_login_and_sends_only_as_own_addresses(postfix, relay_sink, alice, bob):
    services.add_alias(alice, "ally")
    with smtplib.SMTP("127.0.0.1", postfix.ports.submission) as smtp:
        with pytest.raises(smtplib.SMTPException):
            smtp.sendmail("alice@duckmail.test", ["x@example.org"], b"Subject: x\r\n\r\nx\r\n")
    with smtplib.SMTP("127.0.0.1", postfix.ports.submission) as smtp:
        smtp.login("alice@duckmail.test", PASSWORD)
        with pytest.raises(smtplib.SMTPRecipientsRefused) as exc:
            smtp.sendmail("bob@duckmail.test", ["x@example.org"], b"Subject: spoof\r\n\r\nx\r\n")
        assert b"not owned by user" in exc.value.recipients["x@example.org"][1]
        smtp.sendmail("ally@duckmail.test", ["x@example.org"],
                      make_mail("x@example.org", "From my alias", sender="Ally <ally@duckmail.test>"))
    relayed = relay_sink.wait_for(1)
    assert relayed[0][0] == "ally@duckmail.test" and relayed[0][1] == ["x@example.org"]


def test_a_disabled_member_can_not_send(postfix, alice):
    services.set_member_active(alice, False, actor=None)
    with smtplib.SMTP("127.0.0.1", postfix.ports.submission) as smtp:
        with pytest.raises(smtplib.SMTPAuthenticationError) as exc:
            smtp.login("alice@duckmail.test", PASSWORD)
    assert exc.value.smtp_code == 535


def test_a_disabled_member_can_not_send_with_an_app_password_either(postfix, alice):
    from accounts import app_passwords

    _token, secret = app_passwords.create_app_password(alice, "Laptop")
    with smtplib.SMTP("127.0.0.1", postfix.ports.submission) as smtp:
        smtp.login("alice@duckmail.test", secret)
    services.set_member_active(alice, False, actor=None)
    with smtplib.SMTP("127.0.0.1", postfix.ports.submission) as smtp:
        with pytest.raises(smtplib.SMTPAuthenticationError):
            smtp.login("alice@duckmail.test", secret)


def test_a_detail_after_plus_reaches_the_mailbox_and_aliases(postfix, alice):
    services.add_alias(alice, "ally")
    with smtplib.SMTP("127.0.0.1", postfix.ports.smtp) as smtp:
        smtp.sendmail("s@example.net", ["alice+shop@duckmail.test"], make_mail("alice+shop@duckmail.test", "Shop"))
        smtp.sendmail("s@example.net", ["ally+list@duckmail.test"], make_mail("ally+list@duckmail.test", "List"))
    import time

    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and len(subjects("alice@duckmail.test", PASSWORD)) < 2:
        time.sleep(0.1)
    assert sorted(subjects("alice@duckmail.test", PASSWORD)) == ["List", "Shop"]
    assert lmtp_send("alice+direct@duckmail.test", make_mail("alice@duckmail.test", "Direct")) == {}


def test_submission_refuses_a_null_sender(postfix, alice):
    with smtplib.SMTP("127.0.0.1", postfix.ports.submission) as smtp:
        smtp.login("alice@duckmail.test", PASSWORD)
        with pytest.raises(smtplib.SMTPRecipientsRefused) as exc:
            smtp.sendmail("", ["bob@duckmail.test"], b"From: DuckMail <postmaster@duckmail.test>\r\n\r\nx\r\n")
        assert b"null sender" in exc.value.recipients["bob@duckmail.test"][1]


def test_a_senders_own_spam_verdict_is_dropped(postfix, alice):
    data = make_mail("alice@duckmail.test", "Trust me", X_Spam_Status="No, score=0", X_Spam_Score="0")
    with smtplib.SMTP("127.0.0.1", postfix.ports.smtp) as smtp:
        smtp.sendmail("s@example.net", ["alice@duckmail.test"], data)
    import time

    from tests.helpers import imap_login

    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and not subjects("alice@duckmail.test", PASSWORD):
        time.sleep(0.1)
    imap = imap_login("alice@duckmail.test", PASSWORD)
    imap.select("INBOX", readonly=True)
    _, msg = imap.fetch("1", "(BODY.PEEK[HEADER])")
    imap.logout()
    assert b"Subject: Trust me" in msg[0][1]
    assert b"X-Spam" not in msg[0][1]


def test_port_25_relays_for_nobody_not_even_loopback(postfix, relay_sink, alice):
    """Any local process could otherwise send as anyone to anywhere: mail for outside goes
    through submission (members) or the loopback reinjection service (Dovecot's own)."""
    with smtplib.SMTP("127.0.0.1", postfix.ports.smtp) as smtp:
        with pytest.raises(smtplib.SMTPRecipientsRefused) as exc:
            smtp.sendmail("postmaster@duckmail.test", ["victim@example.org"], make_mail("victim@example.org", "Forged"))
        assert exc.value.recipients["victim@example.org"][0] == 554
        # Mail for our own members is still welcome.
        assert smtp.sendmail("s@example.net", ["alice@duckmail.test"], make_mail("alice@duckmail.test", "Hi")) == {}
    assert relay_sink.messages == []
