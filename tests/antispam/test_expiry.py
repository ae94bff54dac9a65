"""Junk expiry against the real Dovecot: by delivery time (INTERNALDATE, set here by APPEND),
never by the Date header; deleted mails after 1 day, read unflagged after 7, unread unflagged
after 30, flagged never; nothing outside Junk; a mail program's fresh deletions stay."""

import datetime as dt

import pytest

from antispam import expiry, tasks
from tests.webmail.conftest import mail, own_imap

pytestmark = pytest.mark.django_db(transaction=True)

NOW = dt.datetime.now(dt.UTC)
OLD_DATE_HEADER = dt.datetime(2001, 1, 1, tzinfo=dt.UTC)  # every message claims to be ancient


def put(client, folder: str, subject: str, *, age: dt.timedelta, flags=()) -> None:
    client.append(folder, mail(subject, date=OLD_DATE_HEADER), flags=flags, msg_time=NOW - age)


def subjects(client, folder: str) -> set[str]:
    client.select_folder(folder, readonly=True)
    fetched = client.fetch(client.search("ALL"), ["ENVELOPE"])
    client.unselect_folder()
    return {data[b"ENVELOPE"].subject.decode() for data in fetched.values()}


@pytest.fixture
def junk(mail_stack, alice):
    client = own_imap(alice)
    hour, day = dt.timedelta(hours=1), dt.timedelta(days=1)
    cases = [
        ("deleted 2 days ago", 2 * day, [b"\\Deleted"], False),
        ("deleted an hour ago", hour, [b"\\Deleted"], True),
        ("deleted and flagged, 2 days", 2 * day, [b"\\Deleted", b"\\Flagged"], False),
        ("read, 8 days", 8 * day, [b"\\Seen"], False),
        ("read, 6 days", 6 * day, [b"\\Seen"], True),
        ("read and flagged, 90 days", 90 * day, [b"\\Seen", b"\\Flagged"], True),
        ("unread, 31 days", 31 * day, [], False),
        ("unread, 29 days", 29 * day, [], True),
        ("unread and flagged, 400 days", 400 * day, [b"\\Flagged"], True),
    ]
    for subject, age, flags, _stays in cases:
        put(client, "Junk", subject, age=age, flags=flags)
    put(client, "INBOX", "old read mail in the Inbox", age=90 * day, flags=[b"\\Seen"])
    yield client, {subject for subject, _age, _flags, stays in cases if stays}
    client.logout()


def test_expiry_purges_exactly_what_the_service_page_says(junk, alice):
    client, staying = junk
    assert tasks.expire_junk.delay(alice.pk).get() == 4  # as a worker runs it (the master user)
    assert subjects(client, "Junk") == staying
    assert subjects(client, "INBOX") == {"old read mail in the Inbox"}
    # Run again: nothing more has expired.
    assert tasks.expire_junk.delay(alice.pk).get() == 0 and subjects(client, "Junk") == staying


def test_beat_queues_every_member_and_one_members_junk_is_not_anothers(junk, alice, bob):
    client, staying = junk
    other = own_imap(bob)
    put(other, "Junk", "bob's read spam, 3 days", age=dt.timedelta(days=3), flags=[b"\\Seen"])
    assert tasks.expire_all_junk() == 2  # eager in tests: each member's task ran
    assert subjects(client, "Junk") == staying
    assert subjects(other, "Junk") == {"bob's read spam, 3 days"}
    other.logout()


def test_sequence_sets_keep_commands_short():
    assert expiry.sequence_sets([1, 2, 3, 5, 7, 8]) == ["1:3,5,7:8"]
    assert expiry.sequence_sets(list(range(1, 100_001))) == ["1:100000"]
    assert expiry.sequence_sets(list(range(1, 10, 2)), per=2) == ["1,3", "5,7", "9"]
    assert expiry.sequence_sets([]) == []
