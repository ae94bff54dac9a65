"""The member's webmail settings: the page and its checks, marking mail read at once, after
some seconds or never (then opening only looks: the mail stays unread on the server until
"Mark as read"), and trusted senders whose remote content is shown without asking."""

import re

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from tests.webmail.conftest import log_in, mail, own_imap, seen
from webmail import preferences
from webmail.models import WebmailSettings

pytestmark = pytest.mark.django_db(transaction=True)

SETTINGS = "/mail/-/settings/"
TRACKED = '<p>Hello</p><img src="https://tracker.example/p.gif" alt="">'


def save(client, **fields):
    data = {"page_size": "50", "mark_read": "now", "mark_read_seconds": "5", "list_view": "messages", **fields}
    return client.post(SETTINGS, data)


def test_the_settings_page_shows_the_defaults_without_storing_anything(mail_client, alice):
    assert reverse("webmail:settings") == SETTINGS
    page = mail_client.get(SETTINGS).content.decode()
    assert '<option value="50" selected>50</option>' in page
    assert re.search(r'<input type="radio" name="mark_read" value="now"[^>]* checked', page)
    assert re.search(r'<input type="radio" name="list_view" value="messages"[^>]* checked', page)
    assert "No senders yet" in page
    assert not WebmailSettings.objects.exists()
    assert preferences.for_member(alice) == preferences.Preferences()


def test_a_folder_named_dash_keeps_its_own_url_beside_the_settings(mail_client, alice, put):
    client = own_imap(alice)
    client.create_folder("-")
    client.create_folder("settings")
    client.logout()
    put(alice, mail("In the dash folder"), folder="-")
    assert "In the dash folder" in mail_client.get(reverse("webmail:folder", args=["-"])).content.decode()
    assert reverse("webmail:folder", args=["settings"]) == "/mail/settings/"
    assert mail_client.get("/mail/settings/").status_code == 200  # the folder, not the settings
    assert "<h1>Webmail settings</h1>" not in mail_client.get("/mail/settings/").content.decode()
    assert "<h1>Webmail settings</h1>" in mail_client.get(SETTINGS).content.decode()


def test_bad_values_are_form_errors_and_nothing_is_saved(mail_client):
    for fields, field, error in (
        ({"page_size": "30"}, "page_size", "Select a valid choice."),
        ({"page_size": "lots"}, "page_size", "Select a valid choice."),
        ({"mark_read": "delay", "mark_read_seconds": "1"}, "mark_read_seconds", "greater than or equal to 2"),
        ({"mark_read": "delay", "mark_read_seconds": "61"}, "mark_read_seconds", "less than or equal to 60"),
        ({"mark_read": "delay", "mark_read_seconds": ""}, "mark_read_seconds", "Say after how many seconds"),
        ({"mark_read": "sometimes"}, "mark_read", "Select a valid choice."),
        ({"list_view": "threads\r\n"}, "list_view", "Select a valid choice."),
    ):
        response = save(mail_client, **fields)
        assert response.status_code == 400, fields
        assert error in " ".join(response.context["form"].errors[field]), fields
        assert error in response.content.decode().replace("&#x27;", "'"), fields
    empty = mail_client.post(SETTINGS)
    assert empty.status_code == 400 and "This field is required." in empty.content.decode()
    assert not WebmailSettings.objects.exists()


def test_saved_settings_are_what_the_pages_read(mail_client, alice, django_assert_num_queries):
    response = save(mail_client, page_size="100", mark_read="delay", mark_read_seconds="12", list_view="conversations")
    assert response.status_code == 302 and response["Location"] == SETTINGS
    page = mail_client.get(SETTINGS).content.decode()
    assert "Your webmail settings are saved." in page and '<option value="100" selected>100</option>' in page
    assert 'value="12"' in page
    with django_assert_num_queries(1):  # one query, then kept for the request (the member object)
        prefs = preferences.for_member(alice)
        assert preferences.for_member(alice) is prefs
    assert (prefs.page_size, prefs.mark_read, prefs.mark_read_seconds, prefs.list_view) == (
        100, "delay", 12, "conversations")
    # Leaving the seconds out with another choice keeps them.
    save(mail_client, mark_read="never", mark_read_seconds="")
    assert WebmailSettings.objects.get(member=alice).mark_read_seconds == 12


def test_the_lists_show_as_many_rows_as_chosen_and_open_in_the_chosen_view(mail_client, alice, put_many):
    put_many(alice, [mail(f"Row {n}") for n in range(30)])
    inbox = reverse("webmail:folder", args=["INBOX"])
    assert mail_client.get(inbox).content.decode().count('class="subject"') == 30
    assert save(mail_client, page_size="25").status_code == 302
    page = mail_client.get(inbox).content.decode()
    assert page.count('class="subject"') == 25 and "Page 1 of 2" in page
    assert save(mail_client, page_size="25", list_view="conversations").status_code == 302
    response = mail_client.get(inbox + "?sort=subject")
    assert response.status_code == 302
    assert response["Location"] == reverse("webmail:conversations", args=["INBOX"]) + "?sort=subject"
    # The view switch's "Messages" still shows the plain list.
    listed = mail_client.get(inbox + "?sort=subject&view=messages")
    assert listed.status_code == 200 and listed.content.decode().count('class="subject"') == 25


def test_never_only_looks_until_mark_as_read(mail_client, alice, put):
    save(mail_client, mark_read="never")
    uid = put(alice, mail("Keep me unread"))
    url = reverse("webmail:message", args=["INBOX", uid])
    page = mail_client.get(url).content.decode()
    assert not seen(alice, uid)
    seen_url = reverse("webmail:seen", args=["INBOX", uid])
    assert f'<form method="post" action="{seen_url}" class="mail-mark-read">' in page
    assert "webmail-reading.js" not in page and "Mark unread" not in page
    assert mail_client.get(seen_url).status_code == 405  # a change: POST only
    response = mail_client.post(seen_url)
    assert response.status_code == 302 and response["Location"] == url
    assert seen(alice, uid)
    assert "Mark as read" not in mail_client.get(url).content.decode()


def test_at_once_marks_read_when_opened(mail_client, alice, put):
    save(mail_client, mark_read="never")
    save(mail_client, mark_read="now")
    uid = put(alice, mail("Read me now"))
    assert "Mark as read" not in mail_client.get(reverse("webmail:message", args=["INBOX", uid])).content.decode()
    assert seen(alice, uid)


def test_after_some_seconds_the_script_sends_the_form(mail_client, alice, put):
    save(mail_client, mark_read="delay", mark_read_seconds="7")
    uid = put(alice, mail("Read me soon"))
    page = mail_client.get(reverse("webmail:message", args=["INBOX", uid])).content.decode()
    assert not seen(alice, uid)
    form = re.search(r'<form method="post" action="([^"]+)" class="mail-mark-read" data-mark-read-after="7">', page)
    assert form and form.group(1) == reverse("webmail:seen", args=["INBOX", uid])
    assert '<script src="/static/js/webmail-reading.js' in page
    # What the script sends: the form (its CSRF token) with X-Requested-With; an empty answer.
    response = mail_client.post(form.group(1), HTTP_X_REQUESTED_WITH="XMLHttpRequest")
    assert response.status_code == 204 and seen(alice, uid)


def test_mark_as_read_needs_the_csrf_token(alice, put, mail_stack):
    uid = put(alice, mail("Forged"))
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(alice)
    seen_url = reverse("webmail:seen", args=["INBOX", uid])
    assert browser.post(seen_url).status_code == 403
    assert browser.post(reverse("webmail:trust_sender", args=["INBOX", uid])).status_code == 403
    assert browser.post(SETTINGS, {"page_size": "25", "mark_read": "now", "list_view": "messages"}).status_code == 403
    assert not seen(alice, uid) and not WebmailSettings.objects.exists()
    browser.get(SETTINGS)  # sets the CSRF cookie
    token = browser.cookies[next(k for k in browser.cookies if k.endswith("csrftoken"))].value
    assert browser.post(seen_url, {"csrfmiddlewaretoken": token}).status_code == 302
    assert seen(alice, uid)


# --- Trusted senders -------------------------------------------------------------------------

def test_always_showing_remote_content_from_a_sender(mail_client, alice, put):
    first = put(alice, mail("Newsletter 1", sender="Shop <News@Shop.Example>", html=TRACKED))
    url = reverse("webmail:message", args=["INBOX", first])
    page = mail_client.get(url).content.decode()
    trust_url = reverse("webmail:trust_sender", args=["INBOX", first])
    assert f'action="{trust_url}"' in page and "Always show remote content from news@shop.example" in page
    response = mail_client.post(trust_url)
    assert response.status_code == 302 and response["Location"] == url
    assert WebmailSettings.objects.get(member=alice).trusted_senders == ["news@shop.example"]

    second = put(alice, mail("Newsletter 2", sender='"The Shop" <news@shop.EXAMPLE>', html=TRACKED))
    page = mail_client.get(reverse("webmail:message", args=["INBOX", second])).content.decode()
    body_url = reverse("webmail:body", args=["INBOX", second])
    assert f'src="{body_url}?remote=1"' in re.search(r"<iframe[^>]*>", page).group(0)
    assert "remote-banner" not in page and "Show remote content once" not in page
    assert 'src="https://tracker.example/p.gif"' in mail_client.get(body_url + "?remote=1").content.decode()

    stranger = put(alice, mail("Other shop", sender="other@shop.example", html=TRACKED))
    page = mail_client.get(reverse("webmail:message", args=["INBOX", stranger])).content.decode()
    body_url = reverse("webmail:body", args=["INBOX", stranger])
    assert f'src="{body_url}"' in page and "Show remote content once" in page

    # The settings page lists the sender, says what trust means, and takes it back.
    settings_page = mail_client.get(SETTINGS).content.decode()
    assert "news@shop.example" in settings_page and "Anyone can put any address in the From line" in settings_page
    response = mail_client.post(reverse("webmail:distrust_sender"), {"address": "news@shop.example"})
    assert response.status_code == 302
    page = mail_client.get(reverse("webmail:message", args=["INBOX", second])).content.decode()
    assert "Show remote content once" in page and "?remote=1\"" not in re.search(r"<iframe[^>]*>", page).group(0)
    assert "is not on your list" in mail_client.post(reverse("webmail:distrust_sender"), {"address": "x@y.example"},
                                                     follow=True).content.decode()


def test_sender_addresses_are_compared_lower_case_with_idna_domains(mail_client, alice, put):
    assert preferences.normalise_address("Friend@Bücher.Example") == "friend@xn--bcher-kva.example"
    assert preferences.normalise_address("friend@xn--bcher-kva.example.") == "friend@xn--bcher-kva.example"
    for bad in ("", "no-at-sign", "a@b", "a b@example.org", "a@exa\r\nmple.org", "<a@example.org>"):
        assert preferences.normalise_address(bad) is None, bad
    uid = put(alice, mail("Bücher", sender="=?utf-8?q?B=C3=BCcher?= <Info@Bücher.example>", html=TRACKED))
    assert mail_client.post(reverse("webmail:trust_sender", args=["INBOX", uid])).status_code == 302
    assert WebmailSettings.objects.get(member=alice).trusted_senders == ["info@xn--bcher-kva.example"]
    other = put(alice, mail("Again", sender="info@xn--BCHER-kva.example", html=TRACKED))
    page = mail_client.get(reverse("webmail:message", args=["INBOX", other])).content.decode()
    assert "remote-banner" not in page
    nameless = put(alice, mail("No address", sender="Undisclosed sender", html=TRACKED))
    page = mail_client.get(reverse("webmail:message", args=["INBOX", nameless])).content.decode()
    assert "Show remote content once" in page and "Always show" not in page
    response = mail_client.post(reverse("webmail:trust_sender", args=["INBOX", nameless]), follow=True)
    assert "no sender address to trust" in response.content.decode()


def test_a_full_list_of_trusted_senders_says_so(mail_client, alice, put, monkeypatch):
    monkeypatch.setattr(preferences, "MAX_TRUSTED_SENDERS", 1)
    preferences.trust_sender(alice, "one@example.org")
    assert preferences.trust_sender(alice, "ONE@example.org") == "one@example.org"  # already there: fine
    uid = put(alice, mail("Two", sender="two@example.org", html=TRACKED))
    response = mail_client.post(reverse("webmail:trust_sender", args=["INBOX", uid]), follow=True)
    assert "list of trusted senders is full" in response.content.decode()
    assert WebmailSettings.objects.get(member=alice).trusted_senders == ["one@example.org"]


def test_another_members_settings_are_their_own(client, alice, bob, put, mail_stack):
    preferences.trust_sender(alice, "news@shop.example")
    client.force_login(bob)
    assert "news@shop.example" not in client.get(SETTINGS).content.decode()
    client.post(reverse("webmail:distrust_sender"), {"address": "news@shop.example"})
    save(client, mark_read="never")
    assert WebmailSettings.objects.get(member=alice).trusted_senders == ["news@shop.example"]
    assert WebmailSettings.objects.get(member=alice).mark_read == "now"
    client.logout()
    assert client.get(SETTINGS).status_code == 302


def test_the_migrations_are_complete():
    call_command("makemigrations", "webmail", "--check", "--dry-run", verbosity=0)


def test_in_a_browser_the_message_is_marked_read_after_the_seconds_chosen(page, mail_stack, alice, put):
    preferences.save(alice, page_size=50, mark_read="delay", mark_read_seconds=2, list_view="messages")
    uid = put(alice, mail("Read me in two seconds"))
    problems = []
    # (the browser's own favicon.ico request is a 404 console error: not ours to count)
    page.on("console", lambda message: problems.append(message.text)
            if message.type == "error" and "favicon" not in message.location.get("url", "") else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    log_in(page, "alice")
    page.goto(reverse("webmail:message", args=["INBOX", uid]))
    page.wait_for_selector("form.mail-mark-read", state="visible")
    assert not seen(alice, uid)
    page.wait_for_selector("form.mail-mark-read", state="hidden", timeout=6000)
    assert seen(alice, uid)
    assert problems == []  # no CSP violation, no script error
