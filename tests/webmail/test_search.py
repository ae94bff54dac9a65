"""Search against the real Dovecot: each criterion finds exactly its messages (bodies through
the full-text index), all folders, hostile terms that stay plain text, paging, other
members' mail, and Dovecot down."""

import base64
import datetime as dt
import re
from urllib.parse import urlencode

import pytest
from django.urls import reverse
from imapclient import IMAPClient

from tests.webmail.conftest import mail, own_imap

pytestmark = pytest.mark.django_db(transaction=True)

SEEN = [b"\\Seen"]


def at(day: str) -> dt.datetime:
    return dt.datetime.fromisoformat(day + "T10:00:00+00:00")


def search_url(folder: str = "INBOX", **params) -> str:
    params = {("from" if k == "sender" else k): v for k, v in params.items()}
    return reverse("webmail:search", args=[folder]) + "?" + urlencode(params)


def subjects(html: str) -> list[str]:
    return re.findall(r'<span class="subject">([^<]*)</span>', html)


def found(client, **params) -> list[str]:
    response = client.get(search_url(**params))
    assert response.status_code == 200, response.content.decode()[:2000]
    return subjects(response.content.decode().split('class="search-results"', 1)[1])


@pytest.fixture
def mailbox(alice, put):
    """Five messages that differ in one thing each, newest last."""
    put(alice, mail("Garden plans", sender="Zoe Quartermain <zq@example.org>", date=at("2024-03-05"),
                    body="The tomatoes are ripening nicely.\n"), flags=SEEN)
    put(alice, mail("Invoice March", sender="Billing Department <billing@shop.example>", date=at("2024-04-10"),
                    body="Your monthly invoice total is attached below.\n"), flags=[b"\\Flagged"])
    put(alice, mail("Trip to Zurich", to="Carol Whitfield <carol@example.net>", date=at("2024-05-20"),
                    body="Wir fahren im Sommer.\n"), flags=[b"\\Seen", b"\\Answered"])
    put(alice, mail("Holiday pictures", date=at("2024-06-01"), body="See the file.\n",
                    attachments=(("photos.bin", "application/octet-stream", bytes(range(256)) * 600),)), flags=SEEN)
    put(alice, b"From: Kenji <kenji@example.jp>\r\nTo: alice@duckmail.test\r\n"
               b"Subject: =?utf-8?b?" + base64.b64encode("Grüße aus 日本語".encode()) + b"?=\r\n"
               b"Date: Mon, 1 Jul 2024 10:00:00 +0000\r\nMessage-ID: <jp@example.jp>\r\n\r\nKonnichiwa.\r\n")


@pytest.mark.parametrize(("params", "expected"), [
    ({"q": "tomatoes"}, ["Garden plans"]),                      # a word of the body only
    ({"q": "quartermain"}, ["Garden plans"]),                   # the sender's name
    ({"q": "whitfield"}, ["Trip to Zurich"]),                   # a recipient
    ({"q": "invoice"}, ["Invoice March"]),
    ({"sender": "quartermain"}, ["Garden plans"]),
    ({"sender": "billing"}, ["Invoice March"]),
    ({"to": "whitfield"}, ["Trip to Zurich"]),
    ({"subject": "holiday"}, ["Holiday pictures"]),
    ({"subject": "tomatoes"}, []),                              # in the body, not the subject
    ({"body": "tomatoes"}, ["Garden plans"]),
    ({"body": "garden"}, []),                                   # in the subject, not the body
    ({"body": "ripening nicely"}, ["Garden plans"]),
    ({"body": "ripening bicycles"}, []),                        # every word must be there
    ({"since": "2024-04-10", "before": "2024-06-01"}, ["Trip to Zurich", "Invoice March"]),
    ({"since": "2024-06-01"}, ["Grüße aus 日本語", "Holiday pictures"]),
    ({"before": "2024-04-10"}, ["Garden plans"]),
    ({"unread": "on"}, ["Grüße aus 日本語", "Invoice March"]),
    ({"flagged": "on"}, ["Invoice March"]),
    ({"answered": "on"}, ["Trip to Zurich"]),
    ({"larger": "100", "unit": "kb"}, ["Holiday pictures"]),
    ({"smaller": "100"}, ["Grüße aus 日本語", "Trip to Zurich", "Invoice March", "Garden plans"]),
    ({"larger": "1", "unit": "mb"}, []),
    ({"subject": "日本語"}, ["Grüße aus 日本語"]),               # RFC 2047 in the message, a literal on the wire
    ({"q": "grüße"}, ["Grüße aus 日本語"]),
    ({"q": "invoice", "unread": "on"}, ["Invoice March"]),      # all parts must match
    ({"q": "invoice", "answered": "on"}, []),
])
def test_each_criterion_finds_exactly_its_messages_newest_first(mail_client, mailbox, params, expected):
    assert found(mail_client, **params) == expected


def test_the_results_page_counts_links_and_keeps_the_query(mail_client, alice, mailbox):
    page = mail_client.get(search_url(q="invoice", unread="on")).content.decode()
    assert "1 result in Inbox" in page
    assert re.search(r'href="/mail/INBOX/\d+/"', page)
    # The form shows what was asked.
    assert 'value="invoice"' in page and re.search(r'<input type="checkbox" name="unread"[^>]* checked', page)
    assert 'href="/mail/INBOX/">← Inbox' in page
    nothing = mail_client.get(search_url(q="xylophone")).content.decode()
    assert "0 results" in nothing and "No messages match." in nothing
    short = mail_client.get(search_url(q="ab")).content.decode()
    assert "Words shorter than 3 letters are not found" in short


def test_the_lists_actions_work_on_one_folders_results(mail_client, alice, mailbox):
    url = search_url(q="tomatoes")
    page = mail_client.get(url).content.decode()
    uid = re.search(r'name="uid" value="(\d+)" form="mail-actions"', page).group(1)
    toolbar = page.split('<form id="mail-actions"', 1)[1].split("</form>", 1)[0]
    assert 'name="all"' not in toolbar  # never "all messages of the folder"
    response = mail_client.post(reverse("webmail:actions", args=["INBOX"]), {"action": "flag", "uid": uid, "next": url})
    assert response.status_code == 302 and response["Location"] == url
    client = own_imap(alice)
    client.select_folder("INBOX", readonly=True)
    assert b"\\Flagged" in client.get_flags([int(uid)])[int(uid)]
    client.logout()
    assert 'title="Flagged"' in mail_client.get(url).content.decode()
    # All folders' results are grouped by folder: no toolbar that would act on one of them.
    assert 'id="mail-actions"' not in mail_client.get(search_url(q="tomatoes", scope="all")).content.decode()


def test_an_empty_search_shows_the_form(mail_client, mailbox):
    response = mail_client.get(reverse("webmail:search", args=["INBOX"]))
    page = response.content.decode()
    assert response.status_code == 200 and "Advanced search" in page and "result" not in page.lower().split("<form")[0]
    assert 'class="search-results"' not in page


def test_all_folders_finds_matches_in_each_folder_grouped(mail_client, alice, put):
    client = own_imap(alice)
    client.create_folder("Archive/2023")
    client.logout()
    inbox_uid = put(alice, mail("Tomato soup", date=at("2024-02-01"), body="Recipe with lentils.\n"))
    put(alice, mail("Lentil stew", date=at("2023-02-01"), body="More lentils.\n"), folder="Archive/2023")
    put(alice, mail("Sent lentils", to="Dan <dan@example.org>", date=at("2023-03-01"), body="lentils\n"),
        folder="Sent", flags=SEEN)
    put(alice, mail("Unrelated", body="Nothing here.\n"), folder="Archive/2023")
    assert mail_client.get(reverse("webmail:folder", args=["INBOX"])).status_code == 200  # the Inbox selected
    page = mail_client.get(search_url(q="lentils", scope="all")).content.decode()
    assert "3 results in all folders" in page
    results = page.split('class="search-results"', 1)[1]
    headings = re.findall(r'<h2 class="search-folder"><a href="([^"]+)"[^>]*>([^<]+)</a>', results)
    assert headings == [("/mail/INBOX/", "Inbox"), ("/mail/Sent/", "Sent"), ("/mail/Archive%252F2023/", "2023")]
    assert subjects(results) == ["Tomato soup", "Sent lentils", "Lentil stew"]
    assert f'href="/mail/INBOX/{inbox_uid}/"' in results and 'href="/mail/Archive%252F2023/' in results
    sent_row = next(row for row in re.findall(r"<li.*?</li>", results, re.S) if "Sent lentils" in row)
    assert '<span class="people"><span class="visually-hidden">To: </span>Dan</span>' in sent_row  # the recipient
    # The kept connection ended in another folder: the Inbox's pages still show the Inbox, and
    # opening a message there still marks it read (a read-write SELECT of the Inbox, not a stale one).
    assert subjects(mail_client.get(reverse("webmail:folder", args=["INBOX"])).content.decode()) == ["Tomato soup"]
    assert mail_client.get(reverse("webmail:message", args=["INBOX", inbox_uid])).status_code == 200
    client = own_imap(alice)
    client.select_folder("INBOX", readonly=True)
    assert b"\\Seen" in client.get_flags([inbox_uid])[inbox_uid]
    client.logout()


@pytest.mark.parametrize("term", ['"', "\\", "{3}", "{3+}", "*", "%", "(", ")", 'a" OR ALL "b', "a) OR (ALL",
                                  '" ALL "', "\\\" ALL \\\"", "日本\" OR ALL \"x"])
def test_hostile_terms_stay_plain_text(mail_client, mailbox, term):
    for field in ("q", "sender", "subject", "body"):
        response = mail_client.get(search_url(**{field: term}))
        assert response.status_code == 200, (field, term)
        assert subjects(response.content.decode().split('class="search-results"', 1)[1]) == [], (field, term)
    # The kept connection is still in order: the list and a next search work.
    assert len(subjects(mail_client.get(reverse("webmail:folder", args=["INBOX"])).content.decode())) == 5
    assert found(mail_client, q="tomatoes") == ["Garden plans"]


@pytest.mark.parametrize("term", ["x\r\nA1 LOGOUT", "x\nA1 DELETE INBOX", "x\rA1 LOGOUT", "nul\0byte"])
def test_a_line_break_in_a_term_is_a_form_error(mail_client, alice, mailbox, term):
    for field in ("q", "to", "body"):
        response = mail_client.get(search_url(**{field: term}))
        assert response.status_code == 400
        page = response.content.decode()
        assert "Line breaks and control characters can not be searched for." in page
        assert 'class="search-results"' not in page
    assert len(subjects(mail_client.get(reverse("webmail:folder", args=["INBOX"])).content.decode())) == 5
    client = own_imap(alice)
    assert client.folder_exists("INBOX")
    client.logout()


@pytest.mark.parametrize(("params", "message"), [
    ({"q": "x" * 201}, "At most 200 characters"),
    ({"since": "2024-13-01"}, "Enter a valid date"),
    ({"since": "2024-05-01", "before": "2024-04-01"}, "This day must be after the first one"),
    ({"larger": "-5"}, "greater than or equal to 0"),
    ({"larger": "5000", "unit": "mb"}, "At most 4 GB"),
    ({"larger": "1e9"}, "Enter a whole number"),
    ({"scope": "everyone"}, "Select a valid choice"),
])
def test_bad_input_is_a_form_error_where_it_was_typed(mail_client, mailbox, params, message):
    response = mail_client.get(search_url(**params))
    assert response.status_code == 400
    page = response.content.decode()
    assert message in page and 'class="search-results"' not in page
    for value in params.values():
        assert f'value="{value}"' in page or value in ("everyone",)  # what was typed is still there


def test_paging_through_results_searches_once(mail_client, alice, put_many, monkeypatch):
    start = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    put_many(alice, [{"msg": mail(f"Report {n:02d}", date=start + dt.timedelta(days=n), body="quarterly figures\n"),
                      "flags": SEEN} for n in range(60)] + [mail("Other", body="nothing\n")])
    sorts = []
    real = IMAPClient._raw_command

    def counting(self, command, args, uid=True):
        if command.upper() == b"SORT":
            sorts.append(args)
        return real(self, command, args, uid)

    monkeypatch.setattr(IMAPClient, "_raw_command", counting)
    first = mail_client.get(search_url(q="quarterly")).content.decode()
    assert "60 results" in first and "Page 1 of 2" in first
    assert subjects(first.split('class="search-results"')[1]) == [f"Report {n:02d}" for n in range(59, 9, -1)]
    nxt = re.search(r'href="\?([^"]+)" rel="next"', first).group(1).replace("&amp;", "&")
    assert "q=quarterly" in nxt and "page=2" in nxt
    second = mail_client.get(reverse("webmail:search", args=["INBOX"]) + "?" + nxt)
    assert second.status_code == 200, second.content.decode()
    second = second.content.decode()
    assert subjects(second.split('class="search-results"')[1]) == [f"Report {n:02d}" for n in range(9, -1, -1)]
    assert len(sorts) == 1  # the matches were kept on the connection
    # A search by flags is asked again each time: opening a message changes its flags, not UIDNEXT.
    mail_client.get(search_url(q="quarterly", unread="on"))
    mail_client.get(search_url(q="quarterly", unread="on", page="2"))
    assert len(sorts) == 3
    # New mail makes the kept matches stale.
    put_many(alice, [mail("Report new", date=start + dt.timedelta(days=100), body="quarterly figures\n")])
    third = mail_client.get(search_url(q="quarterly")).content.decode()
    assert "61 results" in third and subjects(third.split('class="search-results"')[1])[0] == "Report new"
    assert len(sorts) == 4


def test_a_page_past_the_end_of_all_folders_shows_the_last(mail_client, alice, put_many):
    put_many(alice, [mail(f"Alpha {n:02d}", date=dt.datetime(2024, 1, 1 + n, tzinfo=dt.UTC), body="walrus\n")
                     for n in range(3)], folder="Trash")
    page = mail_client.get(search_url(q="walrus", scope="all", page="7")).content.decode()
    assert "3 results in all folders" in page and subjects(page.split('class="search-results"')[1]) == [
        "Alpha 02", "Alpha 01", "Alpha 00"]
    assert mail_client.get(search_url(q="walrus", page="0")).status_code == 400


def test_a_member_never_finds_another_members_mail(client, mail_stack, alice, bob, put):
    put(alice, mail("Alice's secret", body="The tomatoes are secret.\n"))
    put(bob, mail("Bob's own", to="bob@duckmail.test", body="No vegetables.\n"))
    client.force_login(bob)
    for params in ({"q": "tomatoes"}, {"q": "tomatoes", "scope": "all"}, {"subject": "secret"}, {"unread": "on"}):
        page = client.get(search_url(**params)).content.decode()
        assert "Alice" not in page and subjects(page.split('class="search-results"')[1]) in ([], ["Bob&#x27;s own"])
    assert found(client, unread="on") == ["Bob&#x27;s own"]
    client.logout()
    response = client.get(search_url(q="tomatoes"))
    assert response.status_code == 302 and "/login/" in response["Location"]
    assert client.get(reverse("webmail:conversations", args=["INBOX"])).status_code == 302


def test_searching_a_folder_that_is_not_there_is_a_404(mail_client, alice):
    response = mail_client.get(search_url("Nowhere", q="x"))
    assert response.status_code == 404 and "No such folder" in response.content.decode()


def test_dovecot_down_is_a_clear_page(mail_client, alice, mail_stack, settings):
    from accounts import mailaccess

    mailaccess.web_pool.close_all()
    settings.IMAP_PORT = 1  # nothing listens there
    response = mail_client.get(search_url(q="tomatoes", scope="all"))
    assert response.status_code == 503 and "Traceback" not in response.content.decode()


def test_the_search_box_and_the_view_switch_of_a_folders_pages(rf):
    from django.template.loader import render_to_string

    from webmail.mailbox.folders import Folder

    archive = Folder("Archive/2024", "2024", 1, None, True, True, 3, 0)
    request = rf.get("/mail/Archive%252F2024/?sort=subject&page=3")
    box = render_to_string("webmail/_search_box.html", {"folder": archive}, request=request)
    assert '<form class="mail-search-box" method="get" action="/mail/Archive%252F2024/search/" role="search">' in box
    assert 'name="q"' in box and 'href="/mail/Archive%252F2024/search/"' in box
    # The other view keeps the order, not the page (the pages count different things).
    assert '<a href="/mail/Archive%252F2024/conversations/?sort=subject">Conversations</a>' in box
    threads = render_to_string("webmail/_search_box.html", {"folder": archive, "conversations": True}, request=request)
    assert '<a href="/mail/Archive%252F2024/?sort=subject&amp;view=messages">Messages</a>' in threads
    assert "mail-view" not in render_to_string("webmail/_search_box.html", {"folder": archive, "searching": True},
                                               request=request)
