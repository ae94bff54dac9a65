"""Failed web logins are throttled in Redis, per account and per client address, with a
clear "try again in N seconds"; unknown addresses and wrong passwords look the same."""

import re
import statistics
import time

import pytest
from django.urls import reverse

from accounts.throttle import LoginThrottle
from tests.helpers import PASSWORD


@pytest.fixture
def quick_throttle(settings):
    settings.THROTTLE_ACCOUNT_FAILURES = 3
    settings.THROTTLE_ADDRESS_FAILURES = 6
    settings.THROTTLE_LOCK_SECONDS = 1
    settings.THROTTLE_MAX_LOCK_SECONDS = 2
    return settings


def login(client, username="alice@duckmail.test", password=PASSWORD, **extra):
    return client.post(reverse("login"), {"username": username, "password": password}, **extra)


def test_wrong_passwords_lock_the_account_and_the_lock_lifts(client, alice, quick_throttle):
    for _ in range(2):
        response = login(client, password="wrong-password")
        assert response.status_code == 200
        assert b"That address and password do not match." in response.content
    response = login(client, password="wrong-password")
    assert response.status_code == 429
    assert b"Too many failed attempts. Please try again in 1 second." in response.content
    # While locked, even the right password does not get in (and is not even checked).
    response = login(client)
    assert response.status_code == 429 and b"try again in" in response.content
    assert client.get(reverse("account")).status_code == 302
    time.sleep(1.1)
    response = login(client)
    assert response.status_code == 302 and response.url == reverse("account")


def test_each_further_failure_locks_longer_up_to_the_cap(client, alice, quick_throttle):
    for _ in range(3):
        login(client, password="wrong-password")
    time.sleep(1.1)
    response = login(client, password="wrong-password")
    assert response.status_code == 429
    assert b"try again in 2 seconds" in response.content


def test_an_unknown_address_gets_exactly_the_same_answers_as_a_wrong_password(client, alice, quick_throttle):
    def answers(username):
        out = []
        for _ in range(4):
            response = login(client, username=username, password="wrong-password")
            page = re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", response.content.decode())
            out.append((response.status_code, page.replace(username, "USER")))
        return out

    known, unknown = answers("alice@duckmail.test"), answers("nobody@duckmail.test")
    assert [s for s, _ in known] == [200, 200, 429, 429]
    assert known == unknown


def test_an_unknown_address_costs_about_as_much_time_as_a_wrong_password(client, alice, monkeypatch, settings):
    from django.contrib.auth.hashers import Argon2PasswordHasher

    settings.THROTTLE_ACCOUNT_FAILURES = settings.THROTTLE_ADDRESS_FAILURES = 100

    # A hash that costs ~50 ms, so that skipping it for an unknown address would show.
    monkeypatch.setattr(Argon2PasswordHasher, "memory_cost", 32768)
    monkeypatch.setattr(Argon2PasswordHasher, "time_cost", 2)
    alice.set_password(PASSWORD)
    alice.save(update_fields=["password"])

    def duration(username):
        # The median of several attempts: robust against a busy machine.
        times = []
        for _ in range(7):
            start = time.perf_counter()
            login(client, username=username, password="wrong-password")
            times.append(time.perf_counter() - start)
        return statistics.median(times)

    duration("alice@duckmail.test")  # warm-up
    known, unknown = duration("alice@duckmail.test"), duration("nobody@duckmail.test")
    assert known > 0.03
    # Both hash the typed password (Django hashes even for an unknown user).
    assert 0.5 < known / unknown < 2


def test_many_accounts_from_one_address_lock_that_address_only(client, alice, bob, quick_throttle):
    for n in range(6):
        login(client, username=f"user{n}@duckmail.test", password="wrong-password")
    response = login(client, username="bob@duckmail.test")
    assert response.status_code == 429
    # Another client address is not affected.
    response = login(client, username="bob@duckmail.test", REMOTE_ADDR="192.0.2.7")
    assert response.status_code == 302


def test_a_good_login_clears_the_account_count(client, alice, quick_throttle):
    login(client, password="wrong-password")
    login(client, password="wrong-password")
    assert login(client).status_code == 302
    client.post(reverse("logout"))
    login(client, password="wrong-password")
    login(client, password="wrong-password")
    assert login(client).status_code == 302


def test_the_code_step_is_throttled_and_the_password_step_does_not_reset_it(client, alice, quick_throttle, enable_two_factor,
                                                                              next_code):
    key, _ = enable_two_factor(alice)
    assert login(client).url == reverse("login_code")
    client.post(reverse("login_code"), {"code": "000000"})
    client.post(reverse("login_code"), {"code": "000001"})
    # Starting over with the (right) password does not give fresh guesses at the code.
    assert login(client).url == reverse("login_code")
    response = client.post(reverse("login_code"), {"code": "000002"})
    assert response.status_code == 429
    assert "try again in" in response.context["form"].errors["code"][0]
    response = client.post(reverse("login_code"), {"code": next_code(key, alice)})
    assert response.status_code == 429
    assert client.get(reverse("account")).status_code == 302
    time.sleep(1.1)
    response = client.post(reverse("login_code"), {"code": next_code(key, alice)})
    assert response.status_code == 302
    assert client.get(reverse("account")).status_code == 200


def test_redis_down_gives_a_clear_page_not_a_stack_trace(client, alice, settings):
    settings.THROTTLE_REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens there
    response = login(client)
    assert response.status_code == 503
    assert b"Temporarily unavailable" in response.content
    assert client.get(reverse("account")).status_code == 302


def test_keys_hold_no_readable_address(alice, settings):
    throttle = LoginThrottle("alice@duckmail.test", "192.0.2.1")
    assert "alice" not in throttle.account.name and "192.0.2.1" not in throttle.address.name
    assert throttle.account.name.startswith(settings.THROTTLE_KEY_PREFIX)


def test_guessing_the_old_password_on_the_change_page_is_throttled(alice_client, alice, quick_throttle):
    url = reverse("password_change")
    data = {"new_password1": "New-Passw0rd-here", "new_password2": "New-Passw0rd-here"}
    for _ in range(2):
        response = alice_client.post(url, {"old_password": "wrong", **data})
        assert response.status_code == 400 and "old_password" in response.context["form"].errors
    alice_client.post(url, {"old_password": "wrong", **data})
    response = alice_client.post(url, {"old_password": PASSWORD, **data})
    assert response.status_code == 429 and b"try again in" in response.content
    alice.refresh_from_db()
    assert alice.check_password(PASSWORD)


def test_parallel_attempts_can_not_all_pass_before_the_first_failure_counts(alice, settings):
    # Requests in flight at the same time: each has passed check(), none has failed yet.
    from accounts.throttle import LoginThrottle, Throttled

    settings.THROTTLE_ACCOUNT_FAILURES = 3
    in_flight = [LoginThrottle("alice@duckmail.test", f"192.0.2.{n}") for n in range(10)]
    passed = 0
    for attempt in in_flight:
        try:
            attempt.check()
            passed += 1
        except Throttled:
            pass
    assert passed == 3
    # As they report back, the budget is the failure count again (and a success clears all).
    for attempt in in_flight[:3]:
        try:
            attempt.failure()
        except Throttled:
            pass
    with pytest.raises(Throttled):
        LoginThrottle("alice@duckmail.test", "192.0.2.99").check()


def test_ipv6_clients_are_counted_by_their_64(client, alice, bob, quick_throttle):
    """One machine may rotate through a whole /64: its addresses share one count."""
    for n in range(1, 7):
        login(client, username=f"user{n}@duckmail.test", password="wrong-password", REMOTE_ADDR=f"2001:db8:0:1::{n}")
    assert login(client, username="bob@duckmail.test", REMOTE_ADDR="2001:db8:0:1::99").status_code == 429
    # Another /64 is another client.
    assert login(client, username="bob@duckmail.test", REMOTE_ADDR="2001:db8:0:2::1").status_code == 302


def test_the_count_outlives_the_lock_so_locks_keep_doubling(client, alice, settings):
    import time

    settings.THROTTLE_ACCOUNT_FAILURES = 2
    settings.THROTTLE_WINDOW_SECONDS = 1
    settings.THROTTLE_LOCK_SECONDS = 2
    settings.THROTTLE_MAX_LOCK_SECONDS = 4
    for _ in range(2):
        login(client, password="wrong-password")
    assert login(client).status_code == 429
    time.sleep(2.2)  # the lock lifts, and the one-second window has passed
    response = login(client, password="wrong-password")
    # Still counted: this third failure locks for twice as long.
    assert response.status_code == 429 and "4 seconds" in response.content.decode()


def test_strangers_failures_do_not_lock_the_owner_out_of_a_browser_they_used_before(client, alice, quick_throttle):
    from django.test import Client

    from accounts.throttle import KNOWN_DEVICE_COOKIE

    assert login(client).status_code == 302  # the owner's own browser, once
    assert client.cookies[KNOWN_DEVICE_COOKIE].value
    client.post(reverse("logout"))
    stranger = Client(REMOTE_ADDR="192.0.2.66")
    for _ in range(3):
        login(stranger, password="wrong-password")
    assert login(stranger).status_code == 429  # even the right password, from elsewhere
    assert login(Client(REMOTE_ADDR="192.0.2.67")).status_code == 429
    # The owner's browser is counted apart and logs in.
    assert login(client).status_code == 302


def test_a_known_device_cookie_is_for_one_account_and_can_not_be_forged(client, alice, bob, quick_throttle):
    from accounts.throttle import KNOWN_DEVICE_COOKIE

    login(client)
    client.post(reverse("logout"))
    for _ in range(3):
        login(client, username="bob@duckmail.test", password="wrong-password", REMOTE_ADDR="192.0.2.80")
    # Alice's cookie does not help for bob, and a forged one helps nobody.
    assert login(client, username="bob@duckmail.test", REMOTE_ADDR="192.0.2.81").status_code == 429
    client.cookies[KNOWN_DEVICE_COOKIE] = "bob-forged"
    assert login(client, username="bob@duckmail.test", REMOTE_ADDR="192.0.2.81").status_code == 429
