"""The list's poll for new mail: a banner with the count of mail that came since the page was
shown, the title's unread count, the sidebar's counts — cheaply (no SORT, no SELECT)."""

import re

import pytest
from django.test import Client
from django.urls import reverse

from tests.helpers import lmtp_send, make_mail
from tests.webmail.conftest import mail

pytestmark = pytest.mark.django_db(transaction=True)

INBOX = reverse("webmail:folder", args=["INBOX"])
POLL = reverse("webmail:poll", args=["INBOX"])


def shown_uidnext(client, url=INBOX) -> str:
    page = client.get(url).content.decode()
    poll = re.search(r'hx-get="([^"]+)"', page).group(1).replace("&amp;", "&")
    assert poll.startswith(reverse("webmail:poll", args=["INBOX"]) if url == INBOX else "/mail/")
    return re.search(r"uidnext=(\d+)", poll).group(1)


def news_of(response) -> dict:
    html = response.content.decode()
    news = re.search(r'<div id="mail-news" data-title="([^"]*)" data-new="(\d+)">(.*?)</div>', html, re.S)
    return {"title": news.group(1), "new": int(news.group(2)), "banner": " ".join(news.group(3).split()),
            "sidebar": re.search(r'<aside class="mail-folders" id="mail-folders".*?</aside>', html, re.S).group(0)}


def test_the_list_polls_every_thirty_seconds_with_its_uidnext(mail_client, alice, put):
    put(alice, mail("Old"))
    page = mail_client.get(INBOX).content.decode()
    poller = re.search(r'<div id="mail-poll"[^>]*>', page, re.S).group(0)
    assert 'hx-trigger="every 30s, mailvisible"' in poller and 'hx-select-oob="#mail-folders"' in poller
    assert "uidnext=2" in poller
    assert 'src="/static/js/webmail-list.js" defer' in page


def test_after_a_delivery_the_poll_says_there_is_new_mail_and_how_much(mail_client, alice, put, imap_commands):
    put(alice, mail("Old"), flags=[b"\\Seen"])
    uidnext = shown_uidnext(mail_client)
    quiet = news_of(mail_client.get(POLL, {"uidnext": uidnext}))
    assert quiet["new"] == 0 and quiet["banner"] == "" and quiet["title"] == "Inbox · DuckMail"

    lmtp_send(alice.email, make_mail(alice.email, subject="Fresh one"))
    put(alice, mail("Fresh two"))
    before = dict(imap_commands)
    news = news_of(mail_client.get(POLL, {"uidnext": uidnext, "sort": "date", "order": "desc"}))
    assert news["new"] == 2
    assert "2 new messages — <a" in news["banner"] and 'href="/mail/INBOX/?sort=date&amp;order=desc"' in news["banner"]
    assert news["title"] == "(2) Inbox · DuckMail"
    assert 'title="2 unread of 3"' in news["sidebar"]
    # Cheap: no SORT, and the folder stays selected (no SELECT).
    assert imap_commands == before
    # Reloading shows them; the page's new UIDNEXT then has nothing new to say.
    assert "Fresh one" in mail_client.get(INBOX).content.decode()
    assert news_of(mail_client.get(POLL, {"uidnext": shown_uidnext(mail_client)}))["new"] == 0


def test_mail_that_came_and_went_is_not_counted(mail_client, alice, put):
    put(alice, mail("Old"))
    uidnext = shown_uidnext(mail_client)
    uid = put(alice, mail("Brief"))
    put(alice, mail("Stays"))
    from tests.webmail.conftest import own_imap

    client = own_imap(alice)
    client.select_folder("INBOX")
    client.move([uid], "Trash")
    client.logout()
    assert news_of(mail_client.get(POLL, {"uidnext": uidnext}))["new"] == 1


def test_a_folder_the_connection_is_not_in_is_polled_without_selecting_it(mail_client, alice, put, imap_commands):
    put(alice, mail("In Junk"), "Junk")
    junk = reverse("webmail:folder", args=["Junk"])
    uidnext = shown_uidnext(mail_client, junk)
    mail_client.get(INBOX)  # the kept connection moves to INBOX
    put(alice, mail("More junk"), "Junk")
    selects = imap_commands["select"]
    news = news_of(mail_client.get(reverse("webmail:poll", args=["Junk"]), {"uidnext": uidnext}))
    assert news["new"] == 1 and news["title"] == "(2) Junk · DuckMail"
    assert imap_commands["select"] == selects


def test_bad_questions_strangers_and_strange_folders(mail_client, alice, bob, put):
    put(alice, mail("Alice's"))
    for query in ({"uidnext": "x"}, {"uidnext": "0"}, {"sort": "flags"}):
        response = mail_client.get(POLL, query)
        assert response.status_code == 400, query
    assert mail_client.get(reverse("webmail:poll", args=["Nowhere"])).status_code == 404
    assert mail_client.post(POLL).status_code == 405
    anonymous = Client().get(POLL)
    assert anonymous.status_code == 302 and anonymous["Location"].startswith("/login/")
    # bob's poll speaks of bob's mailbox: alice's new mail is not his.
    client = Client()
    client.force_login(bob)
    uidnext = shown_uidnext(client)
    put(alice, mail("Alice's second"))
    assert news_of(client.get(POLL, {"uidnext": uidnext}))["new"] == 0
    put(bob, mail("Bob's"))
    assert news_of(client.get(POLL, {"uidnext": uidnext}))["new"] == 1


def test_dovecot_down_on_a_poll_is_the_503_page(mail_client, alice, settings):
    from accounts import mailaccess

    mailaccess.web_pool.close_all()
    settings.IMAP_PORT = 1
    assert mail_client.get(POLL, {"uidnext": "1"}).status_code == 503
