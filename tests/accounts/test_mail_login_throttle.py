"""Mail logins (IMAP, POP3, ManageSieve, SMTP AUTH) are throttled by the web's login throttle, through
Dovecot's auth policy server (accounts.authpolicy): one budget per account and per address, the
owner's own addresses and app passwords kept in, a clear "try again" while locked."""

import imaplib
import poplib
import smtplib
import time

import pytest
from django.urls import reverse

from accounts import app_passwords, mailaccess
from duckmail.lib import imap
from tests.helpers import PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)

ALICE = "alice@duckmail.test"
BOB = "bob@duckmail.test"
LOCKED = "Too many failed attempts. Please try again in"


@pytest.fixture
def quick_throttle(settings):
    settings.THROTTLE_ACCOUNT_FAILURES = 3
    settings.THROTTLE_ADDRESS_FAILURES = 8
    settings.THROTTLE_LOCK_SECONDS = 2
    settings.THROTTLE_MAX_LOCK_SECONDS = 4
    return settings


def imap_from(address: str, user: str, password: str) -> imaplib.IMAP4:
    """An IMAP login from `address` (forwarded with IMAP ID, as the web does for members)."""
    from django.conf import settings

    client = imaplib.IMAP4("127.0.0.1", settings.IMAP_PORT)
    try:
        client.xatom("ID", f'("x-originating-ip" "{address}")')
        client.login(user, password)
    except BaseException:
        # Closed at once: a refused connection left open keeps Dovecot's login process waiting.
        client.shutdown()
        raise
    return client


def imap_refusal(address: str, user: str, password: str) -> str:
    with pytest.raises(imaplib.IMAP4.error) as refused:
        imap_from(address, user, password)
    return str(refused.value)


def guess(user: str, times: int, address: str = "203.0.113.66") -> None:
    """Wrong passwords, each checked (and refused) by Dovecot."""
    for n in range(times):
        assert "AUTHENTICATIONFAILED" in imap_refusal(address, user, f"guess-{n}")


def attack(user: str, times: int, address: str = "203.0.113.66") -> list[str]:
    """Wrong passwords on and on, whatever the answers."""
    return [imap_refusal(address, user, f"attack-{n}") for n in range(times)]


def test_wrong_imap_passwords_lock_the_account_even_for_the_right_password_until_the_lock_ends(
        mail_stack, alice, bob, quick_throttle):
    guess(ALICE, 3)
    # Refused before the password is even checked, with a message that says what to do.
    message = imap_refusal("203.0.113.67", ALICE, PASSWORD)
    assert "[ALERT]" in message and LOCKED in message
    # Another member logs in as ever, from anywhere.
    imap_from("203.0.113.67", BOB, PASSWORD).logout()
    time.sleep(2.2)
    imap_from("203.0.113.67", ALICE, PASSWORD).logout()


def test_pop3_managesieve_and_smtp_auth_count_and_are_locked_too(postfix, alice, quick_throttle):
    from django.conf import settings
    from sievelib.managesieve import Client

    # Postfix pauses a second after each refusal: a lock that outlasts the test.
    quick_throttle.THROTTLE_LOCK_SECONDS = 30

    pop = poplib.POP3("127.0.0.1", settings.POP3_PORT)
    pop.user(ALICE)
    with pytest.raises(poplib.error_proto, match="AUTH"):
        pop.pass_("guess-1")
    sieve = Client("127.0.0.1", settings.MANAGESIEVE_PORT)
    assert not sieve.connect(ALICE, "guess-2", starttls=False, authmech="PLAIN")
    with smtplib.SMTP("127.0.0.1", settings.SUBMISSION_PORT) as smtp:
        with pytest.raises(smtplib.SMTPAuthenticationError) as refused:
            smtp.login(ALICE, "guess-3")
        assert refused.value.smtp_code == 535
    # Three failures over three protocols: the account is locked everywhere, right password or not.
    with smtplib.SMTP("127.0.0.1", settings.SUBMISSION_PORT) as smtp:
        with pytest.raises(smtplib.SMTPAuthenticationError) as refused:
            smtp.login(ALICE, PASSWORD)
        assert LOCKED in refused.value.smtp_error.decode()
    sieve = Client("127.0.0.1", settings.MANAGESIEVE_PORT)
    assert not sieve.connect(ALICE, PASSWORD, starttls=False, authmech="PLAIN")
    assert LOCKED in imap_refusal("198.51.100.9", ALICE, PASSWORD)


def test_web_and_mail_failures_share_one_budget(client, mail_stack, alice, bob, quick_throttle):
    def web_login(username, password, address):
        return client.post(reverse("login"), {"username": username, "password": password}, REMOTE_ADDR=address)

    # Two wrong passwords on the web page and one over IMAP lock the account for both.
    for n in range(2):
        assert web_login(ALICE, f"guess-{n}", "203.0.113.70").status_code == 200
    guess(ALICE, 1, address="203.0.113.71")
    assert LOCKED in imap_refusal("203.0.113.72", ALICE, PASSWORD)
    assert web_login(ALICE, PASSWORD, "203.0.113.72").status_code == 429
    # And the other way round: IMAP failures lock the web login.
    guess(BOB, 3, address="203.0.113.73")
    response = web_login(BOB, PASSWORD, "203.0.113.74")
    assert response.status_code == 429 and LOCKED in response.content.decode()


def test_the_owner_at_an_address_they_logged_in_from_is_not_locked_out_by_a_stranger(mail_stack, alice, quick_throttle):
    imap_from("198.51.100.20", ALICE, PASSWORD).logout()  # alice's mail program at home, once
    imap_from("2001:db8:5:6::1", ALICE, PASSWORD).logout()  # and her laptop on an IPv6 network
    guess(ALICE, 3, address="203.0.113.80")
    assert LOCKED in imap_refusal("203.0.113.81", ALICE, PASSWORD)
    # At home, alice's own key: the stranger's failures do not count there.
    imap_from("198.51.100.20", ALICE, PASSWORD).logout()
    # An IPv6 address is known by its /64 (a machine there may use any address in it).
    imap_from("2001:db8:5:6::99", ALICE, PASSWORD).logout()
    assert LOCKED in imap_refusal("2001:db8:5:7::1", ALICE, PASSWORD)


def test_a_web_login_makes_the_address_known_for_mail_programs(client, mail_stack, alice, quick_throttle):
    response = client.post(reverse("login"), {"username": ALICE, "password": PASSWORD}, REMOTE_ADDR="198.51.100.30")
    assert response.status_code == 302
    guess(ALICE, 3, address="203.0.113.90")
    assert LOCKED in imap_refusal("203.0.113.91", ALICE, PASSWORD)
    imap_from("198.51.100.30", ALICE, PASSWORD).logout()


def test_app_passwords_still_get_in_while_the_account_is_locked(mail_stack, alice, quick_throttle):
    _token, secret = app_passwords.create_app_password(alice, "Phone")
    guess(ALICE, 3)
    # A phone on a new network: the main password waits out the lock, the app password does not.
    assert LOCKED in imap_refusal("203.0.113.100", ALICE, PASSWORD)
    imap_from("203.0.113.100", ALICE, secret).logout()
    # That success made the address the owner's: the main password works from there too.
    imap_from("203.0.113.100", ALICE, PASSWORD).logout()


def test_the_webs_own_token_logins_are_not_hurt_by_an_attack(alice_client, mail_stack, alice, quick_throttle):
    # Nothing here waits for the lock to end: a longer one keeps a slow machine from seeing it end.
    quick_throttle.THROTTLE_LOCK_SECONDS, quick_throttle.THROTTLE_MAX_LOCK_SECONDS = 20, 40
    attack(ALICE, 6)
    assert LOCKED in imap_refusal("127.0.0.1", ALICE, PASSWORD)  # from the web host's own address too
    # The filters page reads the scripts over ManageSieve, logged in with the web session's
    # token, from the web host, for alice's address as the throttle sees it (not a known one).
    response = alice_client.get(reverse("filters:index"))
    assert response.status_code == 200
    assert "unavailable" not in response.content.decode().lower()


def test_workers_still_reach_a_members_mailbox_during_an_attack(mail_stack, alice, quick_throttle):
    attack(ALICE, 4)
    assert LOCKED in imap_refusal("127.0.0.1", ALICE, PASSWORD)  # where the workers are
    with mailaccess.as_worker(), mailaccess.imap(alice) as client:
        assert imap.quota_usage(client) is not None


def test_the_workers_many_logins_in_a_row_are_never_taken_for_an_attack(mail_stack, alice, bob):
    # Dovecot's report names the member a master-user login became, its allow the master user:
    # unsettled, each login stayed "in flight" and the sixth within seconds was refused.
    for _ in range(3 * 5):
        for member in (alice, bob):
            with mailaccess.as_worker(), mailaccess.sieve(member) as sieve:
                assert sieve.list().names == []


def test_redis_down_refuses_main_passwords_with_a_temporary_message_but_not_app_passwords(mail_stack, alice, settings):
    _token, secret = app_passwords.create_app_password(alice, "Phone")
    settings.THROTTLE_REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens there
    message = imap_refusal("198.51.100.40", ALICE, PASSWORD)
    assert "temporarily unavailable" in message and "AUTHENTICATIONFAILED" not in message
    imap_from("198.51.100.40", ALICE, secret).logout()


def test_a_locked_attempt_is_refused_before_the_password_is_checked(mail_stack, alice, quick_throttle, monkeypatch):
    """No report of a checked password reaches the throttle while locked: refused attempts
    are never counted (so locks do not grow without end) and never hashed."""
    from accounts import throttle

    quick_throttle.THROTTLE_LOCK_SECONDS = 30
    guess(ALICE, 3)
    failures = []
    real_failure = throttle.LoginThrottle.failure
    monkeypatch.setattr(throttle.LoginThrottle, "failure", lambda self: (failures.append(1), real_failure(self)))
    for n in range(5):
        assert LOCKED in imap_refusal("203.0.113.110", ALICE, f"more-{n}")
    time.sleep(0.3)  # reports are counted just after Dovecot's answer
    assert failures == []


def test_without_the_policy_server_nobody_logs_in(mail_stack, alice):
    """Fail closed: Dovecot refuses what it can not ask about (the supervisor restarts the server)."""
    mail_stack.stop_auth_policy()
    try:
        assert "AUTHENTICATIONFAILED" in imap_refusal("198.51.100.50", ALICE, PASSWORD)
    finally:
        mail_stack.start_auth_policy()
    imap_from("198.51.100.50", ALICE, PASSWORD).logout()
