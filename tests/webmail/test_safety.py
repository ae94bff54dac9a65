"""Hostile deep links and faults: nothing typed into a URL reaches IMAP unchecked, a member
only ever sees their own mailbox, every page needs a login, and Dovecot down (or dropping
the connection) is the clear 503 page or a fresh login, never a 500."""

import pytest
from django.urls import reverse

from tests.webmail.conftest import mail, own_imap

pytestmark = pytest.mark.django_db(transaction=True)

HOSTILE = [
    "/mail/INBOX%0D%0Aa1%20LOGOUT/",                 # CRLF in a folder: a second command
    "/mail/INBOX%0Aa1%20DELETE%20INBOX/",
    "/mail/%7B5%7D%0D%0AINBOX/",                      # a literal announcement
    "/mail/INBOX%00/",
    "/mail/INBOX/1%0D%0Aa1%20LOGOUT/",                # CRLF in a UID
    "/mail/INBOX/1:*/", "/mail/INBOX/*/", "/mail/INBOX/0/", "/mail/INBOX/-1/", "/mail/INBOX/99999999999/",
    "/mail/INBOX/1/part/1%0D%0A/", "/mail/INBOX/1/part/1..2/", "/mail/INBOX/1/part/HEADER/",
    "/mail/INBOX/1/part/1%20BODY[]/", "/mail/INBOX/1/part/1~tnef1%22/",
    "/mail/cid/%0D%0A:x/",
]


def test_hostile_deep_links_are_clean_404s_and_the_connection_stays_usable(mail_client, alice, put):
    uid = put(alice, mail("Still here"))
    assert mail_client.get(reverse("webmail:folder", args=["INBOX"])).status_code == 200
    for path in HOSTILE:
        assert mail_client.get(path).status_code in (400, 403, 404), path
    # Names Dovecot does not know (quotes, wildcards, braces) are simply no folder.
    for name in ('INBOX" "x', "*", "%", "INBOX/*", "{3}", "\\"):
        response = mail_client.get(reverse("webmail:folder", args=[name]))
        assert response.status_code == 404 and "No such folder" in response.content.decode(), name
    # The kept connection was not derailed, and nothing was changed.
    page = mail_client.get(reverse("webmail:message", args=["INBOX", uid]))
    assert page.status_code == 200 and "Still here" in page.content.decode()
    client = own_imap(alice)
    assert client.folder_exists("INBOX") and client.select_folder("INBOX")[b"EXISTS"] == 1
    client.logout()


def test_a_stranger_sees_only_his_own_mailbox(client, mail_stack, alice, bob, put):
    own = own_imap(alice)
    own.create_folder("Private")
    own.logout()
    uid = put(alice, mail("Alice secret"))
    put(alice, mail("Alice private secret"), folder="Private")
    put(bob, mail("Bob own"))
    client.force_login(bob)
    inbox = client.get(reverse("webmail:folder", args=["INBOX"])).content.decode()
    assert "Bob own" in inbox and "secret" not in inbox and "Private" not in inbox
    urls = [reverse("webmail:folder", args=["Private"]), reverse("webmail:message", args=["Private", 1]),
            reverse("webmail:folder", args=[f"#Shared/{alice.email}/INBOX"]),
            reverse("webmail:message", args=[f"#Shared/{alice.email}/INBOX", uid])]
    urls += [reverse(name, args=["INBOX", uid + 1]) for name in ("webmail:message", "webmail:body", "webmail:source")]
    urls.append(reverse("webmail:part", args=["INBOX", uid + 1, "1"]))
    for url in urls:
        response = client.get(url)
        assert response.status_code == 404, url
        assert "secret" not in response.content.decode()


def test_a_copied_mail_token_cookie_never_hands_over_its_owners_connection(mail_stack, alice, bob, put):
    from django.conf import settings
    from django.test import Client

    put(alice, mail("Alice secret"))
    put(bob, mail("Bob own"))
    alice_browser, bob_browser = Client(), Client()
    alice_browser.force_login(alice)
    assert "Alice secret" in alice_browser.get(reverse("webmail:folder", args=["INBOX"])).content.decode()
    # Bob's own session, presenting alice's token cookie (say, copied from her browser).
    bob_browser.force_login(bob)
    bob_browser.cookies[settings.WEB_MAIL_COOKIE_NAME] = alice_browser.cookies[settings.WEB_MAIL_COOKIE_NAME].value
    inbox = bob_browser.get(reverse("webmail:folder", args=["INBOX"])).content.decode()
    assert "Alice secret" not in inbox and "Bob own" in inbox
    # Alice's browser goes on as before.
    assert "Alice secret" in alice_browser.get(reverse("webmail:folder", args=["INBOX"])).content.decode()


def test_every_page_needs_a_login_and_the_image_link_a_signature(client, alice, put):
    uid = put(alice, mail("Locked"))
    for url in (reverse("webmail:index"), reverse("webmail:folder", args=["INBOX"]),
                reverse("webmail:message", args=["INBOX", uid]), reverse("webmail:body", args=["INBOX", uid]),
                reverse("webmail:part", args=["INBOX", uid, "1"]), reverse("webmail:source", args=["INBOX", uid])):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/login/"), url
    assert client.get(reverse("webmail:cid", args=["not:signed"])).status_code == 403


def test_mail_slash_goes_to_the_inbox(mail_client):
    response = mail_client.get("/mail/")
    assert response.status_code == 302 and response["Location"] == "/mail/INBOX/"


def test_dovecot_down_is_the_503_page_and_the_list_comes_back_by_itself(mail_client, alice, put, settings):
    from accounts import mailaccess

    put(alice, mail("Waiting"))
    port = settings.IMAP_PORT
    mailaccess.web_pool.close_all()
    settings.IMAP_PORT = 1  # nothing listens there
    for url in (reverse("webmail:folder", args=["INBOX"]), reverse("webmail:message", args=["INBOX", 1]),
                reverse("webmail:body", args=["INBOX", 1])):
        response = mail_client.get(url)
        assert response.status_code == 503, url
        assert "mail server (IMAP)" in response.content.decode() and "Traceback" not in response.content.decode()
    settings.IMAP_PORT = port
    assert "Waiting" in mail_client.get(reverse("webmail:folder", args=["INBOX"])).content.decode()


def test_a_connection_dovecot_dropped_is_replaced_and_the_folder_selected_again(mail_client, alice, put, mail_stack):
    put(alice, mail("Before the kick"))
    assert mail_client.get(reverse("webmail:folder", args=["INBOX"])).status_code == 200
    mail_stack.doveadm("kick", alice.email)
    response = mail_client.get(reverse("webmail:folder", args=["INBOX"]) + "?page=1")
    assert response.status_code == 200 and "Before the kick" in response.content.decode()
