"""The From: check through the real Postfix: members submit with app passwords, Dovecot's own mail
(vacation replies, notifications, redirects) comes through the reinjection service, and the
milter (manage.py run_sender_check) answers both; what is refused reaches nobody."""

import smtplib
import time
import uuid

import pytest

from accounts import app_passwords, mailaccess, services
from filters.services import scripts
from tests.helpers import PASSWORD, lmtp_send, make_mail, subjects
from tests.servers import free_port

pytestmark = pytest.mark.django_db(transaction=True)

ALICE = "alice@duckmail.test"


@pytest.fixture
def laptop(alice, bob):
    """Alice's app password (bob exists: his is the address she must not use)."""
    services.add_alias(alice, "ally")
    _token, secret = app_passwords.create_app_password(alice, "Laptop")
    return secret


def submit(port: int, secret: str, data: bytes, sender: str = ALICE,
           recipients: tuple[str, ...] = ("friend@example.org",)) -> dict:
    with smtplib.SMTP("127.0.0.1", port) as smtp:
        smtp.login(ALICE, secret)
        return smtp.sendmail(sender, list(recipients), data)


def test_a_member_sends_from_their_mailbox_and_their_alias_not_from_another_members(postfix, relay_sink, laptop):
    submit(postfix.ports.submission, laptop, make_mail("friend@example.org", "Mine", sender="Alice <alice@duckmail.test>"))
    submit(postfix.ports.submission, laptop, make_mail("friend@example.org", "Alias", sender="ally@duckmail.test"),
           sender="ally@duckmail.test")
    relayed = relay_sink.wait_for(2)
    assert sorted(m[0] for m in relayed) == ["alice@duckmail.test", "ally@duckmail.test"]
    assert any(b"From: Alice <alice@duckmail.test>" in m[2] for m in relayed)
    with pytest.raises(smtplib.SMTPDataError):
        submit(postfix.ports.submission, laptop, make_mail("friend@example.org", "Bob's", sender="bob@duckmail.test"))
    assert len(relay_sink.wait_for(3, timeout=1)) == 2


FORGED = [
    ("another member", "Bob <bob@duckmail.test>", "From: header address bob@duckmail.test is not one of your addresses"),
    ("the postmaster", "DuckMail <postmaster@duckmail.test>",
     "From: header address postmaster@duckmail.test is not one of your addresses"),
    ("display name trick", '"alice@duckmail.test" <bob@duckmail.test>', "bob@duckmail.test is not one of your addresses"),
    ("one of two foreign", "alice@duckmail.test, bob@duckmail.test", "bob@duckmail.test is not one of your addresses"),
    ("encoded word", "=?utf-8?q?alice=40duckmail=2Etest?= <bob@duckmail.test>", "bob@duckmail.test is not one of your"),
    ("encoded address", "=?utf-8?b?Qm9i?= <=?utf-8?q?bob?=@duckmail.test>", "From: header is malformed"),
    ("read two ways", "alice@duckmail.test <bob@duckmail.test>", "From: header is malformed"),
]


@pytest.mark.parametrize("from_header, says", [f[1:] for f in FORGED], ids=[f[0] for f in FORGED])
def test_a_forged_from_is_refused_at_end_of_data_and_reaches_nobody(postfix, relay_sink, laptop, bob, from_header,
                                                                    says):
    data = b"From: " + from_header.encode() + b"\r\nTo: friend@example.org\r\nSubject: Forged\r\n\r\nPay now.\r\n"
    with pytest.raises(smtplib.SMTPDataError) as exc:
        submit(postfix.ports.submission, laptop, data, recipients=("friend@example.org", "bob@duckmail.test"))
    assert exc.value.smtp_code == 550
    assert exc.value.smtp_error.decode().startswith("5.7.1 ") and says in exc.value.smtp_error.decode()
    assert relay_sink.wait_for(1, timeout=1) == []
    assert subjects("bob@duckmail.test", PASSWORD) == []


def test_two_from_headers_are_refused_a_missing_one_is_the_checked_envelope_sender(postfix, relay_sink, laptop):
    with pytest.raises(smtplib.SMTPDataError) as exc:
        submit(postfix.ports.submission, laptop, b"From: alice@duckmail.test\r\nFrom: ally@duckmail.test\r\n\r\nx\r\n")
    assert exc.value.smtp_code == 550 and b"more than one From: header" in exc.value.smtp_error
    assert relay_sink.wait_for(1, timeout=1) == []
    # Postfix writes a missing From: from the envelope sender, which reject_sender_login_mismatch checked.
    submit(postfix.ports.submission, laptop, b"To: friend@example.org\r\nSubject: x\r\n\r\nx\r\n")
    (_sender, _recipients, data), = relay_sink.wait_for(1)
    assert b"\nFrom: alice@duckmail.test" in data


@pytest.fixture
def member(make_member, mail_stack, as_worker):
    """A member with an alias and a fresh mailbox (mail homes outlive the per-test database flush)."""
    m = make_member(f"s{uuid.uuid4().hex[:10]}")
    m.alias = services.add_alias(m, f"al{uuid.uuid4().hex[:8]}").email
    return m


def deliver_to(member, subject: str, sender: str = "pal@example.com") -> None:
    assert lmtp_send(member.email, make_mail(member.email, subject, sender=sender), sender=sender) == {}


def wait_for_inbox(member, subject: str) -> None:
    deadline = time.monotonic() + 10
    while subject not in subjects(member.email, PASSWORD) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert subject in subjects(member.email, PASSWORD)


def put_over_managesieve(member, name: str, text: str) -> None:
    """As any mail program may (sieve-connect, Thunderbird): the web's own check is not asked."""
    with mailaccess.sieve(member) as s:
        s.put(name, text)
        s.activate(name)


def test_a_vacation_reply_is_sent_from_the_members_alias_never_from_someone_elses_address(postfix, relay_sink, member):
    put_over_managesieve(member, "away", 'require "vacation";\nvacation :days 1 :from "Boss <postmaster@duckmail.test>" '
                                         '"Away.";\n')
    deliver_to(member, "Hello there")
    assert relay_sink.wait_for(1, timeout=3) == []
    wait_for_inbox(member, "Hello there")  # the mail itself is delivered all the same
    scripts.save_script(member, "away", f'require "vacation";\nvacation :days 1 :from "{member.alias}" "Away.";\n',
                        activate=True)
    deliver_to(member, "Hello again", sender="other@example.com")
    (sender, recipients, data), = relay_sink.wait_for(1)
    assert (sender, recipients) == (member.email, ["other@example.com"])
    assert f"From: {member.alias}".encode() in data


def test_a_notification_from_someone_elses_address_is_not_sent_one_from_the_member_is(postfix, relay_sink, member, bob):
    put_over_managesieve(member, "tell", 'require "enotify";\nnotify :from "bob@duckmail.test" :message "New mail" '
                                         '"mailto:me@example.org";\n')
    deliver_to(member, "First")
    assert relay_sink.wait_for(1, timeout=3) == []
    # Without :from it comes from the member (sieve_notify_mailto_envelope_from), not the postmaster.
    scripts.save_script(member, "tell", 'require "enotify";\nnotify :message "New mail" "mailto:me@example.org";\n',
                        activate=True)
    deliver_to(member, "Second")
    (sender, recipients, data), = relay_sink.wait_for(1)
    assert (sender, recipients) == (member.email, ["me@example.org"])
    assert f"From: <{member.email}>".encode() in data


def test_with_the_sender_check_down_mail_is_refused_for_now_not_accepted(postfix, relay_sink, laptop):
    postfix.stop_sender_check()
    try:
        with pytest.raises(smtplib.SMTPResponseException) as exc:
            submit(postfix.ports.submission, laptop, make_mail("friend@example.org", "Unchecked", sender=ALICE))
        # Postfix refuses the whole session for now (451 4.7.1 from the greeting on; AUTH: 454).
        assert 400 <= exc.value.smtp_code < 500, exc.value
    finally:
        postfix.start_sender_check()
    assert relay_sink.wait_for(1, timeout=1) == []
    # Back up: the same mail goes.
    submit(postfix.ports.submission, laptop, make_mail("friend@example.org", "Checked", sender=ALICE))
    assert len(relay_sink.wait_for(1)) == 1


def test_with_the_database_down_for_the_sender_check_mail_is_refused_for_now(postfix, relay_sink, laptop):
    postfix.stop_sender_check()
    postfix.start_sender_check(DUCKMAIL_DB_PORT=str(free_port()))  # nothing listens there
    try:
        with pytest.raises(smtplib.SMTPDataError) as exc:
            submit(postfix.ports.submission, laptop, make_mail("friend@example.org", "Unchecked", sender=ALICE))
        assert exc.value.smtp_code == 451
        assert b"4.3.0 The sender check is not available right now; try again later" == exc.value.smtp_error
    finally:
        postfix.stop_sender_check()
        postfix.start_sender_check()
    assert relay_sink.wait_for(1, timeout=1) == []
