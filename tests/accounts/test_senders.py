"""The From: rule itself (accounts/senders.py), as a pure function over header bytes: who may use
which address, and how hostile headers are read. The same rule through the real Postfix is
in tests/mailstack/test_sender_check.py."""

import pytest

from accounts import senders

ALICE = "alice@duckmail.test"
# What the mail_sender_logins view says (address → logins), as `senders.owners` returns it.
TABLE = {
    "alice@duckmail.test": {ALICE},
    "ally@duckmail.test": {ALICE},
    "bob@duckmail.test": {"bob@duckmail.test"},
}


def lookup(addresses):
    return {a: TABLE.get(a, set()) for a in addresses}


def submit(headers: bytes, login: str = ALICE):
    return senders.check_submission(login, headers, lookup)


def refused(headers: bytes, login: str = ALICE) -> str:
    refusal = submit(headers, login)
    assert refusal is not None, f"{headers!r} was let through"
    return refusal.text


@pytest.mark.parametrize("headers", [
    b"From: alice@duckmail.test\r\n",
    b"From: Alice <alice@duckmail.test>\r\nTo: x@example.org\r\n",
    b"From: Ally <ally@duckmail.test>\r\nSender: alice@duckmail.test\r\n",
    b"From: ALICE@DuckMail.TEST\r\n",                                     # case
    b'From: "alice"@duckmail.test\r\n',                                   # quoted local part, same mailbox
    b"From: =?utf-8?q?Alice_M=C3=BCller?= <alice@duckmail.test>\r\n",     # encoded display name
    b"From: Alice\r\n  Liddell\r\n <alice@duckmail.test>\r\n",            # folded
    b"From: John Q. Public <alice@duckmail.test>\r\n",                   # obsolete but common syntax
    b'From: "alice@duckmail.test" <alice@duckmail.test>\r\n',             # shows her own address
    b"From: me: alice@duckmail.test, ally@duckmail.test;\r\n",            # a group of her own
])
def test_it_lets_a_member_use_their_mailbox_and_aliases(headers):
    assert submit(headers) is None


@pytest.mark.parametrize("headers, says", [
    (b"From: bob@duckmail.test\r\n", "From: header address bob@duckmail.test is not one of your addresses"),
    (b"From: DuckMail <postmaster@duckmail.test>\r\n", "postmaster@duckmail.test is not one of your addresses"),
    (b"From: alice@duckmail.test, bob@duckmail.test\r\n", "bob@duckmail.test is not one of your"),
    (b'From: "alice@duckmail.test" <bob@duckmail.test>\r\n', "bob@duckmail.test is not one of your"),
    (b"From: =?utf-8?q?alice=40duckmail=2Etest?= <bob@duckmail.test>\r\n", "bob@duckmail.test is not one"),
    (b"From: alice@duckmail.test\r\nSender: bob@duckmail.test\r\n", "Sender: header address bob@duckmail.test"),
    (b"From: me: alice@duckmail.test, bob@duckmail.test;\r\n", "bob@duckmail.test is not one of your"),
    (b"From: =?utf-8?q?a?= <=?utf-8?q?bob?=@duckmail.test>\r\n", "From:"),     # encoded word as the address
    (b"From: <alice@duckm\xd0\xb0il.test>\r\n", "From: header is malformed"),    # raw 8-bit homograph
    (b"From: alice@xn--duckmil-5ug.test\r\n", "is not one of your addresses"),  # the IDN homograph, encoded
    (b"From: alice@duckmail.test <bob@duckmail.test>\r\n", "From: header is malformed"),  # read two ways
    (b"To: x@example.org\r\n", "Your message has no From: header"),
    (b"From: alice@duckmail.test\r\nFrom: bob@duckmail.test\r\n", "more than one From: header"),
    (b"From: undisclosed:;\r\n", "From: header holds no address"),
    (b"From: alice\r\n", "From: header is malformed"),
    (b"From: <>\r\n", "From: header is malformed"),
])
def test_it_refuses_addresses_that_are_not_the_members_with_a_clear_reason(headers, says):
    assert says in refused(headers)


def test_it_refuses_an_address_only_shown_in_a_display_name_or_comment():
    # Bob's own address, dressed up as alice's: a mail program shows the name.
    bob = "bob@duckmail.test"
    assert refused(b'From: "alice@duckmail.test" <bob@duckmail.test>\r\n', bob) == (
        "From: header shows alice@duckmail.test, which is not one of your addresses")
    assert "shows alice@duckmail.test" in refused(b"From: bob@duckmail.test (alice@duckmail.test)\r\n", bob)
    assert "shows alice@duckmail.test" in refused(
        b"From: =?utf-8?b?YWxpY2VAZHVja21haWwudGVzdA==?= <bob@duckmail.test>\r\n", bob)
    assert "shows support@bank.example" in refused(b'From: "support@bank.example" <bob@duckmail.test>\r\n', bob)


def test_the_reply_is_safe_to_send_whatever_the_header_holds():
    text = refused("From: =?utf-8?q?x?= <b\u00f6b%41@duckmail.test>\r\n".encode("utf-8", "surrogateescape"))
    assert text.isascii() and "\r" not in text and "\n" not in text


def test_lookups_follow_postfixs_sender_login_map():
    # The address, then without its +detail, then the domain; lower-cased.
    assert senders._lookup_keys("Alice+Shop@DuckMail.test") == [
        "alice+shop@duckmail.test", "alice@duckmail.test", "@duckmail.test"]
    assert senders._lookup_keys("a@bücher.example") == [
        "a@bücher.example", "a@xn--bcher-kva.example", "@bücher.example", "@xn--bcher-kva.example"]


# Dovecot's own mail on the reinjection service, as Pigeonhole 0.5.19 writes it (headers seen
# in the relay sink: tests/mailstack/test_sender_check.py sends each for real).
MEMBER = "alice@duckmail.test"


def reinjected(envelope: str, headers: bytes):
    return senders.check_reinjected(envelope, headers, lookup)


def test_a_vacation_reply_must_be_from_the_members_own_address():
    vacation = b"Auto-Submitted: auto-replied (vacation)\r\nSubject: Auto: hi\r\n"
    assert reinjected(MEMBER, b"From: <alice@duckmail.test>\r\n" + vacation) is None
    assert reinjected(MEMBER, b"From: Ally <ally@duckmail.test>\r\n" + vacation) is None
    assert reinjected(MEMBER, b"From: bob@duckmail.test\r\n" + vacation).text == (
        "From: header address bob@duckmail.test is not one of your addresses")
    assert "postmaster@duckmail.test" in reinjected(MEMBER, b"From: Boss <postmaster@duckmail.test>\r\n" + vacation).text


def test_a_notification_must_be_from_its_owners_address_whatever_its_envelope_says():
    def notify(owner: str) -> bytes:
        return f'Auto-Submitted: auto-notified; owner-email="{owner}"\r\n'.encode()

    assert reinjected(MEMBER, b"From: <alice@duckmail.test>\r\n" + notify(MEMBER)) is None
    assert reinjected(MEMBER, b"From: bob@duckmail.test\r\n" + notify(MEMBER)) is not None
    # A notification about a null-sender message goes out with a null envelope sender.
    assert reinjected("", b"From: bob@duckmail.test\r\n" + notify(MEMBER)) is not None
    # A script may add headers to a notification, but not make it pass for a redirect.
    assert reinjected(MEMBER, b"From: bob@duckmail.test\r\nX-Sieve-Redirected-From: alice@duckmail.test\r\n"
                      + notify(MEMBER)) is not None
    assert reinjected(MEMBER, b"From: <alice@duckmail.test>\r\nAuto-Submitted: auto-notified\r\n").text == (
        "This notification does not say whose it is")


def test_redirects_and_rejection_notices_keep_their_from():
    redirect = b"X-Sieve-Redirected-From: alice@duckmail.test\r\nFrom: pal@example.com\r\nAuto-Submitted: auto-generated\r\n"
    assert reinjected(MEMBER, redirect) is None
    rejection = b"From: Postmaster <postmaster@duckmail.test>\r\nAuto-Submitted: auto-replied (rejected)\r\n"
    assert reinjected("", rejection) is None
    assert reinjected("<>", rejection) is None


def test_the_old_notify_is_refused_it_can_only_send_as_the_postmaster():
    old_notify = b"From: Postmaster <postmaster@duckmail.test>\r\nAuto-Submitted: auto-generated (notify)\r\n"
    assert reinjected("postmaster@duckmail.test", old_notify).text == "postmaster@duckmail.test is not a member's address"
    assert reinjected("", old_notify).text == "Mail from Dovecot without a sender"
