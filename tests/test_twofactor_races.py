"""Single use holds under concurrency: two requests with the same recovery code or the same
TOTP code at the same moment, on separate database connections; exactly one wins."""

import threading

import pytest
from django.db import connection

from accounts import twofactor
from accounts.models import Member
from tests.twofactor_helpers import enable_two_factor, next_code

pytestmark = pytest.mark.django_db(transaction=True)


def race(member_pk: int, code: str, n: int = 4) -> list[str | None]:
    barrier = threading.Barrier(n)
    results: list[str | None] = []

    def attempt():
        try:
            member = Member.objects.get(pk=member_pk)
            barrier.wait()
            results.append(twofactor.verify_second_factor(member, code))
        finally:
            connection.close()

    threads = [threading.Thread(target=attempt) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_a_recovery_code_wins_once_even_when_raced(alice):
    _, codes = enable_two_factor(alice)
    results = race(alice.pk, codes[0])
    assert results.count("recovery") == 1 and results.count(None) == 3
    assert twofactor.recovery_codes_left(alice) == 9


def test_a_totp_code_wins_once_even_when_raced(alice):
    key, _ = enable_two_factor(alice)
    results = race(alice.pk, next_code(key, alice))
    assert results.count("totp") == 1 and results.count(None) == 3
