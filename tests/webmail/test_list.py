"""The message list: pages of 50 sorted on the server, the sorted UIDs reused while the folder
is unchanged, and what each row shows."""

import datetime as dt
import html
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from tests.helpers import lmtp_send, make_mail
from tests.webmail.conftest import mail, own_imap

pytestmark = pytest.mark.django_db(transaction=True)

INBOX = reverse("webmail:folder", args=["INBOX"])
START = dt.datetime(2023, 1, 1, 12, 0, tzinfo=dt.UTC)


def subjects(html: str) -> list[str]:
    return re.findall(r'<span class="subject">([^<]*)</span>', html)


@pytest.fixture
def hundred_twenty(alice, put_many):
    """120 messages: sent a day apart (Date), arrived in the opposite order (INTERNALDATE),
    subjects in a third order, sizes growing with n, senders from a to z and round."""
    messages = []
    for n in range(120):
        raw = mail(f"Subject {(n * 37) % 120:03d}", date=START + dt.timedelta(days=n),
                   sender=f"{chr(97 + n % 26)}{n:03d} <s{n}@example.org>", body="x" * (n * 10) + "\n")
        messages.append({"msg": raw, "date": START + dt.timedelta(days=200 - n), "flags": [b"\\Seen"]})
    put_many(alice, messages)
    return {n: f"Subject {(n * 37) % 120:03d}" for n in range(120)}


def test_it_shows_the_newest_fifty_first_and_pages_through_the_rest(mail_client, hundred_twenty):
    by_n = hundred_twenty
    first = mail_client.get(INBOX).content.decode()
    assert subjects(first) == [by_n[n] for n in range(119, 69, -1)]
    assert "Page 1 of 3" in first and "120 messages" in first
    third = mail_client.get(INBOX + "?page=3").content.decode()
    assert subjects(third) == [by_n[n] for n in range(19, -1, -1)]
    # A page past the end shows the last one rather than nothing.
    assert subjects(mail_client.get(INBOX + "?page=99").content.decode()) == subjects(third)


def test_the_pages_and_sort_links_on_the_page_lead_where_they_say(mail_client, hundred_twenty):
    by_n = hundred_twenty
    first = mail_client.get(INBOX).content.decode()
    next_link = html.unescape(re.search(r'<a href="([^"]*)" rel="next">', first).group(1))
    second = mail_client.get(INBOX + next_link if next_link.startswith("?") else next_link).content.decode()
    assert "Page 2 of 3" in second and subjects(second) == [by_n[n] for n in range(69, 19, -1)]
    by_subject = html.unescape(re.search(r'<a href="([^"]*)"[^>]*>Subject</a>', second).group(1))
    assert "page" not in by_subject  # a new order starts on its first page
    page = mail_client.get(INBOX + by_subject if by_subject.startswith("?") else by_subject).content.decode()
    assert subjects(page) == [f"Subject {k:03d}" for k in range(50)]


@pytest.mark.parametrize(("query", "expected"), [
    ("?sort=date&order=asc", lambda by_n: [by_n[n] for n in range(50)]),
    ("?sort=arrival&order=desc", lambda by_n: [by_n[n] for n in range(50)]),  # arrived oldest-sent last
    ("?sort=subject&order=asc", lambda by_n: [f"Subject {k:03d}" for k in range(50)]),
    ("?sort=subject&order=desc", lambda by_n: [f"Subject {k:03d}" for k in range(119, 69, -1)]),
    ("?sort=size&order=desc", lambda by_n: [by_n[n] for n in range(119, 69, -1)]),
])
def test_it_sorts_on_the_server_in_both_directions(mail_client, hundred_twenty, query, expected):
    assert subjects(mail_client.get(INBOX + query).content.decode()) == expected(hundred_twenty)


def test_it_sorts_by_sender_name(mail_client, hundred_twenty):
    page = mail_client.get(INBOX + "?sort=from").content.decode()
    people = re.findall(r'<span class="people">([^<]*)</span>', page)
    assert people == sorted(people) and people[0].startswith("a")


def test_an_unknown_order_or_page_is_refused_clearly(mail_client, alice):
    for query in ("?sort=flags", "?order=sideways", "?page=0", "?page=x", "?sort=date)%20(UID%201:*"):
        response = mail_client.get(INBOX + query)
        assert response.status_code == 400, query
        assert "can not be sorted or paged that way" in response.content.decode()


def test_paging_reuses_the_sorted_list_and_new_mail_refreshes_it(mail_client, alice, hundred_twenty, imap_commands):
    assert mail_client.get(INBOX).status_code == 200
    assert imap_commands == {"select": 1, "sort": 1}
    for page in (2, 3, 1):
        assert mail_client.get(INBOX + f"?page={page}").status_code == 200
    # The kept connection stayed in INBOX, and the sorted UIDs were reused.
    assert imap_commands == {"select": 1, "sort": 1}

    lmtp_send(alice.email, make_mail(alice.email, subject="Brand new", Date="Mon, 1 Jan 2035 10:00:00 +0000"))
    page = mail_client.get(INBOX).content.decode()
    assert subjects(page)[0] == "Brand new" and "121 messages" in page
    assert imap_commands == {"select": 1, "sort": 2}


def test_an_expunge_by_another_program_refreshes_the_list(mail_client, alice, put):
    keep, gone = put(alice, mail("Keep me")), put(alice, mail("Delete me"))
    assert "Delete me" in mail_client.get(INBOX).content.decode()
    client = own_imap(alice)
    client.select_folder("INBOX")
    client.delete_messages([gone])
    client.expunge()
    client.logout()
    page = mail_client.get(INBOX).content.decode()
    assert "Delete me" not in page and "Keep me" in page and keep


def test_another_order_and_another_folder_each_sort_once(mail_client, alice, put, imap_commands):
    put(alice, mail("In the inbox"))
    put(alice, mail("A draft", to="Carol <carol@example.org>"), folder="Drafts")
    mail_client.get(INBOX)
    mail_client.get(INBOX + "?sort=subject")
    drafts = mail_client.get(reverse("webmail:folder", args=["Drafts"])).content.decode()
    assert imap_commands["sort"] == 3 and imap_commands["select"] == 2
    mail_client.get(INBOX + "?sort=subject")  # back in INBOX: one SELECT, the kept sort still valid
    assert imap_commands["sort"] == 3 and imap_commands["select"] == 3
    # Drafts (and Sent) show whom the mail is for.
    assert "Carol" in drafts and "Friend" not in drafts and ">To<" in drafts


def test_each_row_shows_its_marks_date_and_size(mail_client, alice, put):
    now = timezone.now().replace(microsecond=0)
    put(alice, mail("Fresh", date=now))
    put(alice, mail("Read and answered", date=dt.datetime(now.year, 1, 2, 9, 0, tzinfo=dt.UTC)),
        flags=[b"\\Seen", b"\\Answered", b"\\Flagged"])
    put(alice, mail("Old with file", date=dt.datetime(2019, 7, 4, 9, 0, tzinfo=dt.UTC),
                    attachments=(("notes.txt", "text/plain", b"notes"),)), flags=[b"\\Seen"])
    page = mail_client.get(INBOX).content.decode()
    rows = {subjects(row)[0]: row for row in re.findall(r"<li class=.*?</li>", page, re.S) if subjects(row)}
    assert 'title="Unread"' in rows["Fresh"] and 'title="Has attachments"' not in rows["Fresh"]
    assert timezone.localtime(now).strftime("%H:%M") in rows["Fresh"]
    answered = rows["Read and answered"]
    assert 'title="Unread"' not in answered and 'title="Answered"' in answered and 'title="Flagged"' in answered
    assert ">2 Jan<" in answered
    assert 'title="Has attachments"' in rows["Old with file"] and ">4 Jul 2019<" in rows["Old with file"]
    assert re.search(r'class="size">\d+(\.\d)?\xa0(bytes|KB)<', rows["Fresh"])


def test_subjects_and_names_are_decoded_and_escaped(mail_client, alice, put):
    put(alice, b"From: =?iso-8859-1?q?J=F6rg_=3Ci=3E?= <jorg@example.org>\r\nTo: alice@duckmail.test\r\n"
               b"Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?= <b>bold</b> & <script>x()</script>\r\n"
               b"Date: Tue, 5 Mar 2024 10:30:00 +0000\r\n\r\nHi.\r\n")
    page = mail_client.get(INBOX).content.decode()
    assert "Grüße &lt;b&gt;bold&lt;/b&gt; &amp; &lt;script&gt;x()&lt;/script&gt;" in page
    assert "Jörg &lt;i&gt;" in page and "<script>x()" not in page and "<b>bold" not in page


def test_an_empty_folder_says_so(mail_client, alice):
    page = mail_client.get(reverse("webmail:folder", args=["Trash"])).content.decode()
    assert "This folder is empty." in page and "0 messages" in page


def test_sorting_and_threading_a_folder_wait_longer_than_other_commands(mail_client, alice, put, monkeypatch,
                                                                       settings):
    from imapclient import IMAPClient

    settings.MAIL_SLOW_TIMEOUT = 77
    waits = {}
    for name in ("sort", "thread", "fetch"):
        real = getattr(IMAPClient, name)

        def recording(self, *args, _real=real, _name=name, **kwargs):
            waits.setdefault(_name, set()).add(self.socket().gettimeout())
            return _real(self, *args, **kwargs)

        monkeypatch.setattr(IMAPClient, name, recording)
    put(alice, mail("Anything"))
    assert mail_client.get(INBOX).status_code == 200
    assert mail_client.get(reverse("webmail:conversations", args=["INBOX"])).status_code == 200
    # The first SORT of a big folder reads every message: it may take its time, the rest may not.
    assert waits["sort"] == {77} and waits["thread"] == {77}
    assert waits["fetch"] == {settings.MAIL_TIMEOUT}


def test_each_row_previews_the_start_of_its_text_escaped(mail_client, alice, put):
    put(alice, mail("Plans", body="Shall we meet\non Friday <b>at noon</b>?\n"))
    html_only = mail("Newsletter").replace(b"Content-Type: text/plain", b"Content-Type: text/html").replace(
        b"Hi there.", b"<html><body><p>Big <i>sale</i> today</p></body></html>")
    put(alice, html_only)
    page = mail_client.get(INBOX).content.decode()
    previews = re.findall(r'<span class="preview">([^<]*)</span>', page)
    assert "Shall we meet on Friday &lt;b&gt;at noon&lt;/b&gt;?" in previews
    assert any("Big sale today" in preview for preview in previews)
