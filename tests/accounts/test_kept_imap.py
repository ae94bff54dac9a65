"""The web's kept IMAP connections (duckmail.lib.imap.Pool, used by accounts.mailaccess):
one Dovecot login per web session rather than per page, a clean new login after a drop,
revoked tokens never reused, and the bound respected."""

import re

import pytest
from django.contrib.sessions.backends.db import SessionStore
from django.test import RequestFactory

from accounts import app_passwords, mailaccess, websessions
from duckmail.lib import imap

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def empty_pool():
    mailaccess.web_pool.close_all()
    yield
    mailaccess.web_pool.close_all()


def logins(stack, user: str) -> int:
    return len(re.findall(rf"imap-login: (?:Info: )?Login: user=<{re.escape(user)}>", stack.log()))


def imap_sessions(stack, user: str) -> int:
    """IMAP connections Dovecot has open for `user` right now."""
    result = stack.doveadm("who", "-1", user)
    return sum(1 for line in result.stdout.splitlines()[1:] if " imap " in f" {line} ")


def inbox_count(member, session) -> int:
    """One page of the browser behind `session` (which keeps the token's cookie in the session, for the test)."""
    from django.conf import settings

    request = RequestFactory().get("/", REMOTE_ADDR="127.0.0.1")
    request.user = member
    request.session = session
    if "test-cookie" in session:
        request.COOKIES[settings.WEB_MAIL_COOKIE_NAME] = session["test-cookie"]
    auth = websessions.WebMailAuth(request)
    with mailaccess.as_web_request(auth), mailaccess.imap(member) as client:
        count = client.select_folder("INBOX", readonly=True)[b"EXISTS"]
    if auth.minted:
        session["test-cookie"] = auth.minted
    return count


def test_a_web_session_logs_in_to_dovecot_once_for_many_pages(mail_stack, alice):
    session = SessionStore()
    before = logins(mail_stack, alice.email)
    for _ in range(5):
        assert inbox_count(alice, session) == 0
    assert logins(mail_stack, alice.email) == before + 1
    assert imap_sessions(mail_stack, alice.email) == 1


def test_the_pages_of_a_logged_in_browser_share_one_dovecot_login(mail_stack, alice_client, alice):
    from django.urls import reverse

    before = logins(mail_stack, alice.email)
    for _ in range(3):
        response = alice_client.get(reverse("filters:rule_new"))
        assert response.status_code == 200 and b"Junk" in response.content  # the folder list came from IMAP
    assert logins(mail_stack, alice.email) == before + 1


def test_a_connection_dropped_by_dovecot_is_replaced_without_an_error(mail_stack, alice):
    session = SessionStore()
    assert inbox_count(alice, session) == 0
    mail_stack.doveadm("kick", alice.email)
    before = logins(mail_stack, alice.email)
    assert inbox_count(alice, session) == 0  # no error for the member
    assert logins(mail_stack, alice.email) == before + 1


def test_logging_out_ends_the_kept_connection(mail_stack, alice):
    session = SessionStore()
    assert inbox_count(alice, session) == 0
    assert imap_sessions(mail_stack, alice.email) == 1
    websessions._revoke(session)  # what logout does
    assert imap_sessions(mail_stack, alice.email) == 0


def test_a_connection_of_a_token_revoked_elsewhere_is_not_reused(mail_stack, alice):
    # Another web process (or a password change) deleted the token: its login must not live on here.
    session = SessionStore()
    assert inbox_count(alice, session) == 0
    from accounts.models import MailToken

    MailToken.objects.filter(member=alice, kind=MailToken.Kind.WEB_SESSION).delete()
    before = logins(mail_stack, alice.email)
    assert inbox_count(alice, session) == 0  # a fresh token, a fresh login
    assert logins(mail_stack, alice.email) == before + 1
    assert imap_sessions(mail_stack, alice.email) == 1


def app_password_connect(member):
    _token, secret = app_passwords.create_app_password(member, "pool test")
    return lambda: imap.connect(member.email, secret)


def test_the_pool_keeps_at_most_its_size_and_logs_out_the_least_recently_used(mail_stack, alice, bob, stranger):
    pool = imap.Pool(size=2, idle_seconds=300)
    try:
        for key, member in (("a", alice), ("b", bob), ("c", stranger)):
            with pool.connection(key, app_password_connect(member)) as client:
                assert client.select_folder("INBOX", readonly=True)
        assert len(pool) == 2
        assert imap_sessions(mail_stack, alice.email) == 0  # the oldest made room
        assert imap_sessions(mail_stack, bob.email) == 1 and imap_sessions(mail_stack, stranger.email) == 1
    finally:
        pool.close_all()
    assert imap_sessions(mail_stack, bob.email) == 0


def test_a_second_request_of_the_same_session_meanwhile_gets_a_connection_of_its_own(mail_stack, alice):
    pool = imap.Pool(size=5, idle_seconds=300)
    connect = app_password_connect(alice)
    try:
        with pool.connection("a", connect) as first, pool.connection("a", connect) as second:
            assert first is not second
            assert imap_sessions(mail_stack, alice.email) == 2
        assert len(pool) == 1 and imap_sessions(mail_stack, alice.email) == 1
    finally:
        pool.close_all()


def test_idle_connections_are_logged_out(mail_stack, alice, bob):
    pool = imap.Pool(size=5, idle_seconds=0)
    try:
        with pool.connection("a", app_password_connect(alice)):
            pass
        with pool.connection("b", app_password_connect(bob)):
            pass
        assert imap_sessions(mail_stack, alice.email) == 0
        assert len(pool) == 1
    finally:
        pool.close_all()


def test_a_connection_that_breaks_in_use_is_dropped_and_the_error_reaches_the_caller(mail_stack, alice):
    pool = imap.Pool(size=5, idle_seconds=300)
    try:
        with pytest.raises(imap.BROKEN):
            with pool.connection("a", app_password_connect(alice)) as client:
                client.shutdown()
                client.noop()
        assert len(pool) == 0
    finally:
        pool.close_all()
