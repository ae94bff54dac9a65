"""The folder sidebar: hierarchy, special-use folders first, counts, subscriptions, the quota,
and folder names that are anything but ASCII words, reachable by their deep links."""

import re

import pytest
from django.urls import reverse

from tests.webmail.conftest import mail, own_imap

pytestmark = pytest.mark.django_db(transaction=True)


def sidebar(html: str) -> str:
    return html.split('class="mail-folders', 1)[1].split("</aside>")[0]


def folder_items(html: str) -> list[tuple[str, str]]:
    """(css class of the <li>, label) for each folder in the sidebar, in order."""
    return re.findall(r'<li class="([^"]*)"[^>]*>.*?class="folder-name[^"]*"[^>]*>([^<]+)<', sidebar(html), re.S)


def test_special_folders_come_first_and_children_sit_under_their_parent(mail_client, alice, put):
    client = own_imap(alice)
    for name in ("Projects/Zeta", "Projects/Alpha", "Aardvark", "Trash/Old"):
        client.create_folder(name)
    client.subscribe_folder("Aardvark")
    client.logout()
    put(alice, mail("one"))
    put(alice, mail("two"))
    put(alice, mail("three"), flags=[b"\\Seen"])
    page = mail_client.get(reverse("webmail:folder", args=["INBOX"])).content.decode()
    items = folder_items(page)
    labels = [label for _cls, label in items]
    assert labels == ["Inbox", "Drafts", "Sent", "Archive", "Junk", "Trash", "Old", "Aardvark", "Projects", "Alpha", "Zeta"]
    classes = dict((label, cls) for cls, label in items)
    assert "depth-1" in classes["Old"] and "depth-1" in classes["Alpha"] and "depth-0" in classes["Projects"]
    assert "unsubscribed" in classes["Projects"] and "unsubscribed" not in classes["Aardvark"]
    assert 'title="2 unread of 3"' in sidebar(page)
    assert 'class="role-icon role-junk"' in sidebar(page)
    # Links carry the full name; "Trash/Old" is one URL segment.
    assert f'href="{reverse("webmail:folder", args=["Trash/Old"])}"' in page
    assert reverse("webmail:folder", args=["Trash/Old"]) == "/mail/Trash%252FOld/"


def test_the_quota_bar_shows_the_usage(mail_client, alice, put):
    put(alice, mail("big", body="x" * 300_000))
    page = mail_client.get(reverse("webmail:folder", args=["INBOX"])).content.decode()
    bar = re.search(r'<progress class="quota-bar[^"]*"\s+max="100" value="(\d+)"', page)
    assert bar is not None
    assert re.search(r"\d+(\.\d)?\xa0KB of 512\.0\xa0MB used", page)


def test_the_quota_is_asked_once_a_minute_and_again_after_emptying_the_trash(mail_client, alice, put, monkeypatch):
    from imapclient import IMAPClient

    asked = []
    real = IMAPClient.get_quota_root
    monkeypatch.setattr(IMAPClient, "get_quota_root", lambda self, *a: asked.append(1) or real(self, *a))
    put(alice, mail("big", body="x" * 300_000), folder="Trash")

    def used(html: str) -> float:
        amount, unit = re.search(r"([\d.]+)\xa0(bytes|KB|MB) of 512\.0\xa0MB used", html).groups()
        return float(amount) * {"bytes": 1, "KB": 1024, "MB": 1024 * 1024}[unit]

    before = used(mail_client.get(reverse("webmail:folder", args=["INBOX"])).content.decode())
    mail_client.get(reverse("webmail:folder", args=["Trash"]))
    assert len(asked) == 1  # the second page reused it (a 100k Inbox makes it ~150 ms)
    empty_url = reverse("webmail:folder_empty", args=["Trash"])
    seen = re.search(r'name="seen" value="([0-9:]+)"', mail_client.get(empty_url).content.decode()).group(1)
    assert mail_client.post(empty_url, {"seen": seen}).status_code == 302
    after = used(mail_client.get(reverse("webmail:folder", args=["INBOX"])).content.decode())
    assert len(asked) == 2 and before > 250_000 and after < before / 10


@pytest.mark.parametrize("name", ["Überweisungen/Rechnungen 2024", "日本語", "50% off", 'Say "hi" {3}*', "2024", "-"])
def test_any_folder_name_round_trips_through_its_deep_links(mail_client, alice, put, name):
    client = own_imap(alice)
    client.create_folder(name)
    client.logout()
    uid = put(alice, mail(f"Inside {name}"), folder=name)
    url = reverse("webmail:folder", args=[name])
    listing = mail_client.get(url)
    assert listing.status_code == 200, url
    html = listing.content.decode()
    assert f"Inside {name}".replace('"', "&quot;") in html
    message_url = reverse("webmail:message", args=[name, uid])
    assert f'href="{message_url}"' in html
    opened = mail_client.get(message_url)
    assert opened.status_code == 200 and f"Inside {name}".replace('"', "&quot;") in opened.content.decode()
    assert b"Subject: Inside" in mail_client.get(reverse("webmail:source", args=[name, uid])).content


def test_a_parent_that_is_no_folder_is_shown_but_not_a_link(mail_client, alice):
    client = own_imap(alice)
    client.create_folder("Über/Sub")  # Dovecot creates no "Über" itself (\NonExistent)
    client.logout()
    page = mail_client.get(reverse("webmail:folder", args=["INBOX"])).content.decode()
    assert '<span class="folder-name muted" title="Über">Über</span>' in page
    assert mail_client.get(reverse("webmail:folder", args=["Über"])).status_code == 404
    assert mail_client.get(reverse("webmail:folder", args=["Über/Sub"])).status_code == 200
