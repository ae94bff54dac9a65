"""The conversation view against the real Dovecot (THREAD=REFERENCES): one row per thread in
the order of its newest message, the thread's messages behind a <details>, paging by
threads with the threads kept on the connection, and a reply that arrives later."""

import datetime as dt
import re

import pytest
from django.urls import reverse
from imapclient import IMAPClient

from tests.helpers import lmtp_send

pytestmark = pytest.mark.django_db(transaction=True)

INBOX = reverse("webmail:conversations", args=["INBOX"])
SEEN = [b"\\Seen"]


def message(subject: str, msgid: str, day: int, *, sender: str = "Friend <friend@example.org>",
            replying_to: tuple[str, ...] = ()) -> bytes:
    lines = [f"From: {sender}", "To: alice@duckmail.test", f"Subject: {subject}",
             f"Date: {dt.datetime(2024, 3, day, 10, 0, tzinfo=dt.UTC):%a, %d %b %Y %H:%M:%S +0000}",
             f"Message-ID: <{msgid}@example.org>"]
    if replying_to:
        lines += [f"In-Reply-To: <{replying_to[-1]}@example.org>",
                  "References: " + " ".join(f"<{ref}@example.org>" for ref in replying_to)]
    return ("\r\n".join(lines) + "\r\n\r\nText.\r\n").encode()


@pytest.fixture
def threads(alice, put_many):
    """Plans (3 messages, the newest unread), Budget (2, read), and Lonely on its own."""
    put_many(alice, [
        {"msg": message("Plans", "a1", 1), "flags": SEEN},
        {"msg": message("Budget", "b1", 2, sender="Carol <carol@example.org>"), "flags": SEEN},
        {"msg": message("Re: Plans", "a2", 3, sender="Bob <bob@example.org>", replying_to=("a1",)), "flags": SEEN},
        {"msg": message("Re: Budget", "b2", 5, replying_to=("b1",)), "flags": SEEN},
        {"msg": message("Lonely", "c1", 8), "flags": SEEN},
        {"msg": message("Re: Re: Plans", "a3", 10, replying_to=("a1", "a2")), "flags": []},
    ])


def thread_rows(html: str) -> list[str]:
    listing = html.split('<ol class="mail-threads">', 1)[1]
    return re.split(r'\n  <li class="thread', listing)[1:]


def summary(row: str) -> tuple[str, str]:
    """(count, subject) of a thread row: from its <summary>, or of a single message."""
    count = re.search(r'data-count="(\d+)"', row).group(1)
    part = row.split("</summary>")[0] if "<summary>" in row else row
    return count, re.search(r'<span class="subject">([^<]*)</span>', part).group(1)


def test_each_thread_is_one_row_newest_first_with_its_messages_inside(mail_client, threads):
    response = mail_client.get(INBOX)
    assert response.status_code == 200
    page = response.content.decode()
    assert "3 conversations" in page and "6 messages" in page
    rows = thread_rows(page)
    assert [summary(row) for row in rows] == [("3", "Plans"), ("1", "Lonely"), ("2", "Budget")]
    plans, lonely, budget = rows
    assert plans.startswith(" unread") and not budget.startswith(" unread")
    head = plans.split("</summary>")[0]
    assert '<span class="count" title="3 messages">3</span>' in head and "Friend, Bob" in head
    # Opened, the thread lists its messages oldest first, each with the list's checkbox and link.
    inside = plans.split("</summary>")[1]
    assert re.findall(r'<span class="subject">([^<]*)</span>', inside) == ["Plans", "Re: Plans", "Re: Re: Plans"]
    uids = re.findall(r'<li [^>]*data-uid="(\d+)"', inside)
    assert len(uids) == 3
    for uid in uids:
        assert f'<input type="checkbox" class="mail-pick" name="uid" value="{uid}" form="mail-actions"' in inside
        assert f'href="/mail/INBOX/{uid}/"' in inside
    assert "<details>" not in lonely and re.search(r'href="/mail/INBOX/\d+/"', lonely)
    # The toolbar of the list acts on the checked messages here too.
    assert 'id="mail-actions"' in page


@pytest.mark.parametrize(("query", "expected"), [
    ("?sort=date&order=asc", ["Budget", "Lonely", "Plans"]),
    ("?sort=subject", ["Budget", "Lonely", "Plans"]),     # by the newest message's base subject
    ("?sort=subject&order=desc", ["Plans", "Lonely", "Budget"]),
    ("?sort=date&order=desc&page=1", ["Plans", "Lonely", "Budget"]),
])
def test_threads_follow_the_lists_sort_orders(mail_client, threads, query, expected):
    page = mail_client.get(INBOX + query).content.decode()
    assert [summary(row)[1] for row in thread_rows(page)] == expected


@pytest.fixture
def thread_commands(monkeypatch, imap_commands):
    counts = imap_commands
    counts["thread"] = 0
    real = IMAPClient.thread

    def thread(self, *args, **kwargs):
        counts["thread"] += 1
        return real(self, *args, **kwargs)

    monkeypatch.setattr(IMAPClient, "thread", thread)
    return counts


def test_paging_is_by_threads_and_reuses_them_until_a_reply_arrives(mail_client, alice, put_many, thread_commands):
    put_many(alice, [{"msg": message(f"Single {n:02d}", f"s{n}", 1 + n % 28), "flags": SEEN} for n in range(55)]
             + [{"msg": message("Long talk", "t1", 1), "flags": SEEN},
                {"msg": message("Re: Long talk", "t2", 2, replying_to=("t1",)), "flags": SEEN}])
    first = mail_client.get(INBOX).content.decode()
    assert "56 conversations" in first and "57 messages" in first and "Page 1 of 2" in first
    assert len(thread_rows(first)) == 50
    second = mail_client.get(INBOX + "?page=2").content.decode()
    assert len(thread_rows(second)) == 6 and "Page 2 of 2" in second
    shown = {summary(row)[1] for row in thread_rows(first) + thread_rows(second)}
    assert len(shown) == 56 and "Long talk" in shown
    mail_client.get(INBOX + "?page=1")
    assert thread_commands == {"select": 1, "sort": 1, "thread": 1}

    reply = message("Re: Long talk", "t3", 29, replying_to=("t1", "t2")).replace(b"To: alice@duckmail.test",
                                                                               f"To: {alice.email}".encode())
    lmtp_send(alice.email, reply)
    page = mail_client.get(INBOX).content.decode()
    rows = thread_rows(page)
    assert summary(rows[0]) == ("3", "Long talk") and rows[0].startswith(" unread")
    assert "56 conversations" in page and "58 messages" in page
    assert thread_commands == {"select": 1, "sort": 2, "thread": 2}


def test_a_reply_without_references_joins_by_subject(mail_client, alice, put_many):
    # RFC 5256 REFERENCES: a base subject that matches merges the threads.
    put_many(alice, [message("Meeting", "m1", 1), message("Re: Meeting", "m2", 2)])
    assert [summary(row) for row in thread_rows(mail_client.get(INBOX).content.decode())] == [("2", "Meeting")]


def test_an_empty_folder_and_a_bad_order(mail_client, alice):
    page = mail_client.get(reverse("webmail:conversations", args=["Trash"]))
    assert page.status_code == 200 and "This folder is empty." in page.content.decode()
    for query in ("?sort=flags", "?page=0", "?order=x%0d%0aA1%20LOGOUT"):
        response = mail_client.get(INBOX + query)
        assert response.status_code == 400 and "can not be sorted or paged that way" in response.content.decode()
    assert mail_client.get(reverse("webmail:conversations", args=["Nowhere"])).status_code == 404


def test_a_member_never_sees_another_members_threads(client, mail_stack, alice, bob, threads):
    client.force_login(bob)
    page = client.get(INBOX).content.decode()
    assert "Plans" not in page and "Budget" not in page and "This folder is empty." in page


def test_dovecot_down_is_a_clear_page(mail_client, alice, mail_stack, settings):
    from accounts import mailaccess

    mailaccess.web_pool.close_all()
    settings.IMAP_PORT = 1  # nothing listens there
    response = mail_client.get(INBOX)
    assert response.status_code == 503 and "Traceback" not in response.content.decode()
