"""Folder management: create, rename and move, delete with the sub-folders, subscriptions and
the sidebar's "Show all folders", emptying Trash and Junk — checked in alice's own IMAP view
of her mailbox, as her mail program would see it."""

import re

import pytest
from django.test import Client
from django.urls import reverse

from tests.webmail.conftest import mail, own_imap

pytestmark = pytest.mark.django_db(transaction=True)


def names(member) -> set[str]:
    client = own_imap(member)
    try:
        return {name for _flags, _delimiter, name in client.list_folders()}
    finally:
        client.logout()


def subscribed(member) -> set[str]:
    client = own_imap(member)
    try:
        return {name for _flags, _delimiter, name in client.list_sub_folders()}
    finally:
        client.logout()


def make(member, *folders: str, subscribe: bool = False) -> None:
    client = own_imap(member)
    try:
        for name in folders:
            client.create_folder(name)
            if subscribe:
                client.subscribe_folder(name)
    finally:
        client.logout()


def count(member, folder: str) -> int:
    client = own_imap(member)
    try:
        return client.folder_status(folder, ["MESSAGES"])[b"MESSAGES"]
    finally:
        client.logout()


def sidebar_item(html: str, name: str) -> str:
    """The sidebar's <li …> start tag of a folder."""
    aside = html.split('id="mail-folders"', 1)[1].split("</aside>")[0]
    found = re.search(r'<li [^>]*data-folder="' + re.escape(name) + r'"[^>]*>', aside)
    assert found, name
    return found.group(0)


def kept_connections() -> list:
    """The web's kept IMAP connections (a dropped one would be replaced by a new login)."""
    from accounts import mailaccess

    return [kept.client for kept in mailaccess.web_pool._kept.values()]


def create(client, name: str, parent: str = ""):
    return client.post(reverse("webmail:folder_create"), {"name": name, "parent": parent})


def test_it_creates_a_folder_subscribed_and_the_sidebar_shows_it(mail_client, alice):
    response = create(mail_client, "Projects")
    assert response.status_code == 302 and response["Location"] == reverse("webmail:folders")
    assert "Projects" in names(alice) and "Projects" in subscribed(alice)
    page = mail_client.get(reverse("webmail:folders")).content.decode()
    assert "Folder “Projects” created." in page
    assert "hidden" not in sidebar_item(page, "Projects")
    response = create(mail_client, "Alpha", parent="Projects")
    assert response.status_code == 302 and "Projects/Alpha" in names(alice)
    inbox = mail_client.get(reverse("webmail:folder", args=["INBOX"])).content.decode()
    assert "hidden" not in sidebar_item(inbox, "Projects/Alpha")


def test_a_unicode_name_is_modified_utf7_on_the_wire_and_round_trips(mail_client, alice, put):
    assert create(mail_client, "Über").status_code == 302
    assert create(mail_client, "Größe", parent="Über").status_code == 302
    client = own_imap(alice)
    client.folder_encode = False  # the names as Dovecot sends them
    wire = {name for _flags, _delimiter, name in client.list_folders()}
    client.logout()
    assert b"&ANw-ber/Gr&APYA3w-e" in wire and b"&ANw-ber" in wire
    put(alice, mail("Inside Größe"), folder="Über/Größe")
    page = mail_client.get(reverse("webmail:folder", args=["Über/Größe"])).content.decode()
    assert "Inside Größe" in page and ">Größe</span>" in page


def test_a_taken_name_is_a_form_error(mail_client, alice):
    make(alice, "Projects")
    for name in ("Projects", "inbox", "Trash"):
        response = create(mail_client, name)
        assert response.status_code == 400, name
        assert "exists already" in response.content.decode(), name
    assert "Projects" not in subscribed(alice)  # nothing happened to the one there


@pytest.mark.parametrize(("name", "problem"), [
    ("", "Please give the folder a name."),
    ("   ", "Please give the folder a name."),
    ("Fo\r\no", "control characters"),
    ("a\nb", "control characters"),
    ("a\x00b", "Null characters are not allowed"),
    ("a/b", "can not contain “/”"),
    (".", "can not be named “.” or “..”"),
    ("..", "can not be named “.” or “..”"),
    ("a.b", "Character not allowed in mailbox name"),  # Dovecot's own words (Maildir++)
    ("~home", "Begins with"),
    ("x" * 255, "This name is too long."),
    ("ü" * 100, "This name is too long."),  # 100 characters, 268 bytes in modified UTF-7
    ("x" * 501, "at most 500 characters"),
])
def test_a_bad_name_is_a_form_error_and_nothing_is_created(mail_client, alice, name, problem):
    before = names(alice)
    response = create(mail_client, name)
    assert response.status_code == 400
    html = response.content.decode()
    assert problem.replace("“", "").replace("”", "") in html.replace("“", "").replace("”", ""), html[-3000:]
    assert 'role="alert"' in html and 'id="new_name"' in html
    assert "[CANNOT]" not in html and "secs)" not in html  # the server's words without its codes and timings
    assert names(alice) == before


def test_a_parent_that_is_not_there_is_a_form_error(mail_client, alice):
    response = create(mail_client, "Child", parent="Nowhere")
    assert response.status_code == 400 and "There is no folder “Nowhere” to put it in" in response.content.decode()
    assert not {n for n in names(alice) if "Child" in n}


def test_a_renamed_folder_takes_its_mail_sub_folders_and_subscriptions_along(mail_client, alice, put):
    make(alice, "Projects", "Projects/Alpha", subscribe=True)
    put(alice, mail("Alpha news"), folder="Projects/Alpha")
    put(alice, mail("Project plan"), folder="Projects")
    # The kept connection has Projects selected: Dovecot would end that session at the rename.
    assert "Project plan" in mail_client.get(reverse("webmail:folder", args=["Projects"])).content.decode()
    kept = kept_connections()
    response = mail_client.post(reverse("webmail:folder_rename", args=["Projects"]), {"name": "Work", "parent": ""})
    assert response.status_code == 302 and response["Location"] == reverse("webmail:folder", args=["Work"])
    page = mail_client.get(response["Location"])
    assert page.status_code == 200 and "Project plan" in page.content.decode()
    assert len(kept) == 1 and kept_connections()[0] is kept[0]
    assert "“Projects” is now “Work”." in page.content.decode()
    assert mail_client.get(reverse("webmail:folder", args=["Projects"])).status_code == 404
    assert mail_client.get(reverse("webmail:folder", args=["Projects/Alpha"])).status_code == 404
    assert "Alpha news" in mail_client.get(reverse("webmail:folder", args=["Work/Alpha"])).content.decode()
    assert {"Work", "Work/Alpha"} <= names(alice) and not {"Projects", "Projects/Alpha"} & names(alice)
    subs = subscribed(alice)
    assert {"Work", "Work/Alpha"} <= subs and not {"Projects", "Projects/Alpha"} & subs


def test_a_renamed_open_folder_leaves_no_stale_selection_on_the_kept_connection(mail_client, alice, put):
    make(alice, "Projects")
    uid = put(alice, mail("Project plan"), folder="Projects")
    assert "Project plan" in mail_client.get(reverse("webmail:folder", args=["Projects"])).content.decode()
    # Away and back again, and nothing selected in between: "Projects" is another folder now.
    for old, new in (("Projects", "Work"), ("Work", "Projects")):
        response = mail_client.post(reverse("webmail:folder_rename", args=[old]), {"name": new, "parent": ""})
        assert response.status_code == 302
    opened = mail_client.get(reverse("webmail:message", args=["Projects", uid]))
    assert opened.status_code == 200 and "Project plan" in opened.content.decode()


def test_a_folder_moves_to_another_parent_and_not_into_itself(mail_client, alice, put):
    make(alice, "Clients", "Clients/Acme", "Clients/Acme/2024", "Old")
    put(alice, mail("Acme invoice"), folder="Clients/Acme/2024")
    edit = mail_client.get(reverse("webmail:folder_edit", args=["Clients/Acme"])).content.decode()
    assert 'value="Acme"' in edit and '<option value="Clients" selected>' in edit
    assert '<option value="Clients/Acme/2024"' not in edit  # not into its own sub-folder
    into_child = mail_client.post(reverse("webmail:folder_rename", args=["Clients/Acme"]),
                                  {"name": "Acme", "parent": "Clients/Acme/2024"})
    assert into_child.status_code == 400 and "can not be moved into itself" in into_child.content.decode()
    taken = mail_client.post(reverse("webmail:folder_rename", args=["Old"]), {"name": "Clients", "parent": ""})
    assert taken.status_code == 400 and "A folder “Clients” exists already." in taken.content.decode()
    response = mail_client.post(reverse("webmail:folder_rename", args=["Clients/Acme"]),
                                {"name": "Acme", "parent": "Old"})
    assert response.status_code == 302 and response["Location"] == reverse("webmail:folder", args=["Old/Acme"])
    assert "Acme invoice" in mail_client.get(reverse("webmail:folder", args=["Old/Acme/2024"])).content.decode()
    assert {"Old/Acme", "Old/Acme/2024"} <= names(alice) and "Clients/Acme" not in names(alice)


def test_deleting_a_folder_with_sub_folders_says_so_and_deletes_them_all(mail_client, alice, put):
    make(alice, "Projects", "Projects/Alpha", "Projects/Alpha/Old", "Projectsmore", subscribe=True)
    put(alice, mail("one"), folder="Projects")
    put(alice, mail("two"), folder="Projects/Alpha/Old")
    put(alice, mail("three"), folder="Projects/Alpha/Old")
    mail_client.get(reverse("webmail:folder", args=["Projects/Alpha/Old"]))  # selected on the kept connection
    url = reverse("webmail:folder_delete", args=["Projects"])
    confirm = mail_client.get(url).content.decode()
    assert "This folder has <strong>2 sub-folders</strong>: they are deleted with it." in confirm
    assert "<strong>3 messages</strong> in these folders are deleted for good" in confirm
    response = mail_client.post(url)
    assert response.status_code == 302 and response["Location"] == reverse("webmail:folders")
    page = mail_client.get(response["Location"]).content.decode()
    assert "“Projects” and 2 sub-folders deleted, with 3 messages." in page
    left = names(alice)
    assert not {"Projects", "Projects/Alpha", "Projects/Alpha/Old"} & left and "Projectsmore" in left
    assert not {"Projects", "Projects/Alpha", "Projects/Alpha/Old"} & subscribed(alice)
    assert mail_client.get(reverse("webmail:folder", args=["Projects/Alpha/Old"])).status_code == 404


def test_special_folders_can_not_be_renamed_moved_or_deleted(mail_client, alice):
    make(alice, "Trash/Old")
    page = mail_client.get(reverse("webmail:folders")).content.decode()
    for name in ("INBOX", "Drafts", "Sent", "Archive", "Junk", "Trash"):
        assert reverse("webmail:folder_edit", args=[name]) not in page, name
        assert reverse("webmail:folder_delete", args=[name]) not in page, name
    assert reverse("webmail:folder_delete", args=["Trash/Old"]) in page  # a folder inside one is ordinary
    for name, label in (("Trash", "Trash"), ("INBOX", "Inbox"), ("Sent", "Sent")):
        rename = mail_client.post(reverse("webmail:folder_rename", args=[name]), {"name": "Other", "parent": ""})
        assert rename.status_code == 400
        assert f"“{label}” is a special folder: it can not be renamed or moved." in rename.content.decode()
        move = mail_client.post(reverse("webmail:folder_rename", args=[name]), {"name": name, "parent": "Trash/Old"})
        assert move.status_code == 400, name
        confirm = mail_client.get(reverse("webmail:folder_delete", args=[name]))
        assert confirm.status_code == 400 and "<button" not in confirm.content.decode().split("<main>")[1]
        delete = mail_client.post(reverse("webmail:folder_delete", args=[name]))
        assert delete.status_code == 400
        assert f"“{label}” is a special folder: it can not be deleted." in delete.content.decode()
    unsubscribe = mail_client.post(reverse("webmail:folder_subscription", args=["Junk"]), {"subscribed": "0"},
                                   follow=True)
    assert "“Junk” is a special folder: it is always shown." in unsubscribe.content.decode()
    assert {"INBOX", "Trash", "Sent", "Junk", "Trash/Old"} <= names(alice) and "Other" not in names(alice)
    assert "Junk" in subscribed(alice)


def test_subscriptions_and_the_sidebar_toggle(mail_client, alice):
    make(alice, "Lists", "Lists/Python")
    make(alice, "Lists/Rust", subscribe=True)
    inbox_url = reverse("webmail:folder", args=["INBOX"])
    page = mail_client.get(inbox_url).content.decode()
    assert " hidden" in sidebar_item(page, "Lists/Python") and "unsubscribed" in sidebar_item(page, "Lists/Python")
    assert " hidden" not in sidebar_item(page, "Lists/Rust")
    assert " hidden" not in sidebar_item(page, "Lists")  # it holds a subscribed folder
    opened = mail_client.get(reverse("webmail:folder", args=["Lists/Python"])).content.decode()
    assert " hidden" not in sidebar_item(opened, "Lists/Python")  # the open folder always shows
    assert ">Show all folders</button>" in page and f'href="{reverse("webmail:folders")}"' in page
    response = mail_client.post(reverse("webmail:folders_shown"), {"all": "1", "next": inbox_url})
    assert response.status_code == 302 and response["Location"] == inbox_url
    page = mail_client.get(inbox_url).content.decode()
    assert " hidden" not in sidebar_item(page, "Lists/Python") and "unsubscribed" in sidebar_item(page, "Lists/Python")
    assert ">Subscribed folders only</button>" in page
    response = mail_client.post(reverse("webmail:folder_subscription", args=["Lists/Python"]), {"subscribed": "1"})
    assert response.status_code == 302 and "Lists/Python" in subscribed(alice)
    mail_client.post(reverse("webmail:folder_subscription", args=["Lists/Rust"]), {"subscribed": "0"})
    assert "Lists/Rust" not in subscribed(alice)
    manage = mail_client.get(reverse("webmail:folders")).content.decode()
    assert 'aria-label="Subscribe to Lists/Rust"' in manage and 'aria-label="Unsubscribe from Lists/Python"' in manage
    # Off again: the unsubscribed one hides; a next pointing elsewhere is not followed.
    response = mail_client.post(reverse("webmail:folders_shown"), {"all": "0", "next": "https://evil.example/"})
    assert response["Location"] == reverse("webmail:index")
    assert " hidden" in sidebar_item(mail_client.get(inbox_url).content.decode(), "Lists/Rust")


def test_emptying_trash_deletes_what_the_confirmation_counted_and_keeps_sub_folders(mail_client, alice, put):
    make(alice, "Trash/Keep")
    for i in range(3):
        put(alice, mail(f"Rubbish {i}"), folder="Trash")
    put(alice, mail("Kept in a sub-folder"), folder="Trash/Keep")
    put(alice, mail("Inbox mail"))
    page = mail_client.get(reverse("webmail:folder", args=["Trash"])).content.decode()
    empty_url = reverse("webmail:folder_empty", args=["Trash"])
    assert f'href="{empty_url}"' in page  # the sidebar offers it while Trash holds mail
    confirm = mail_client.get(empty_url).content.decode()
    assert "<strong>3 messages</strong> in Trash are deleted for good" in confirm
    seen = re.search(r'name="seen" value="([0-9:]+)"', confirm).group(1)
    put(alice, mail("Arrived after the confirmation"), folder="Trash")
    response = mail_client.post(empty_url, {"seen": seen})
    assert response.status_code == 302 and response["Location"] == reverse("webmail:folder", args=["Trash"])
    page = mail_client.get(response["Location"]).content.decode()
    assert "3 messages deleted for good." in page and "Arrived after the confirmation" in page
    assert "Rubbish" not in page
    assert count(alice, "Trash") == 1 and count(alice, "Trash/Keep") == 1 and count(alice, "INBOX") == 1
    # Now the rest: confirmed afresh.
    seen = re.search(r'name="seen" value="([0-9:]+)"', mail_client.get(empty_url).content.decode()).group(1)
    assert mail_client.post(empty_url, {"seen": seen}).status_code == 302 and count(alice, "Trash") == 0
    assert f'href="{empty_url}"' not in mail_client.get(reverse("webmail:folder", args=["Trash"])).content.decode()


def test_only_trash_and_junk_can_be_emptied(mail_client, alice, put):
    put(alice, mail("Keep me"))
    put(alice, mail("Spam"), folder="Junk")
    response = mail_client.get(reverse("webmail:folder_empty", args=["INBOX"]))
    assert response.status_code == 400 and "Only Trash and Junk can be emptied" in response.content.decode()
    assert mail_client.post(reverse("webmail:folder_empty", args=["INBOX"]), {"seen": "1:99"}).status_code == 400
    assert count(alice, "INBOX") == 1
    confirm = mail_client.get(reverse("webmail:folder_empty", args=["Junk"])).content.decode()
    seen = re.search(r'name="seen" value="([0-9:]+)"', confirm).group(1)
    assert mail_client.post(reverse("webmail:folder_empty", args=["Junk"]), {"seen": seen}).status_code == 302
    assert count(alice, "Junk") == 0


def test_folders_named_like_the_management_pages_keep_their_deep_links(mail_client, alice, put):
    for name in ("folders", "-", "new-folder"):
        assert create(mail_client, name).status_code == 302, name
        put(alice, mail(f"Inside {name}"), folder=name)
        assert f"Inside {name}" in mail_client.get(reverse("webmail:folder", args=[name])).content.decode(), name
        edit = mail_client.get(reverse("webmail:folder_edit", args=[name]))
        assert edit.status_code == 200 and f'value="{name}"' in edit.content.decode()
    assert reverse("webmail:folder", args=["-"]) == "/mail/%252D/"  # the bare "-" is the webmail's own pages
    assert reverse("webmail:folders") == "/mail/-/folders/"


def test_a_stranger_acts_on_his_own_mailbox_only(client, mail_stack, alice, bob, put):
    make(alice, "Projects", subscribe=True)
    put(alice, mail("Alice's plan"), folder="Projects")
    client.force_login(bob)
    assert client.get(reverse("webmail:folder_edit", args=["Projects"])).status_code == 404
    assert client.get(reverse("webmail:folder_delete", args=["Projects"])).status_code == 404
    assert client.post(reverse("webmail:folder_delete", args=["Projects"])).status_code == 404
    assert client.post(reverse("webmail:folder_rename", args=["Projects"]),
                       {"name": "Mine", "parent": ""}).status_code == 404
    assert client.post(reverse("webmail:folder_subscription", args=["Projects"]),
                       {"subscribed": "0"}).status_code == 404
    assert create(client, "Projects").status_code == 302  # his own, beside hers
    page = client.get(reverse("webmail:folders")).content.decode()
    assert "Alice" not in page
    assert "Projects" in names(alice) and "Projects" in subscribed(alice) and count(alice, "Projects") == 1
    assert "Projects" in names(bob)


def test_a_folder_shared_with_a_member_is_not_his_to_rename_delete_or_fill(client, mail_stack, alice, bob, put):
    make(alice, "Projects")
    own = own_imap(alice)
    own.setacl("Projects", bob.email, "lrs")
    own.logout()
    put(alice, mail("Shared plan"), folder="Projects")
    client.force_login(bob)
    shared = f"#Shared/{alice.email}/Projects"
    page = client.get(reverse("webmail:folders")).content.decode()
    assert "(shared with you)" in page and reverse("webmail:folder_delete", args=[shared]) not in page
    delete = client.post(reverse("webmail:folder_delete", args=[shared]))
    assert delete.status_code == 400 and "is shared with you by someone else" in delete.content.decode()
    rename = client.post(reverse("webmail:folder_rename", args=[shared]), {"name": "Mine", "parent": ""})
    assert rename.status_code == 400 and "is shared with you by someone else" in rename.content.decode()
    inside = create(client, "Inside", parent=shared)
    assert inside.status_code == 400 and "There is no folder" in inside.content.decode()
    assert names(alice) >= {"Projects"} and count(alice, "Projects") == 1 and "Mine" not in names(bob)


def test_post_only_urls_refuse_get_and_every_page_needs_a_login(client, mail_client, alice):
    for url in (reverse("webmail:folder_create"), reverse("webmail:folders_shown"),
                reverse("webmail:folder_rename", args=["INBOX"]),
                reverse("webmail:folder_subscription", args=["INBOX"])):
        assert mail_client.get(url).status_code == 405, url
    anonymous = Client()
    for url in (reverse("webmail:folders"), reverse("webmail:folder_edit", args=["INBOX"]),
                reverse("webmail:folder_delete", args=["INBOX"]), reverse("webmail:folder_empty", args=["Trash"])):
        response = anonymous.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/login/"), url
    response = anonymous.post(reverse("webmail:folder_create"), {"name": "Sneaky"})
    assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_csrf_is_enforced(mail_stack, alice):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(alice)
    assert browser.post(reverse("webmail:folder_create"), {"name": "Forged"}).status_code == 403
    assert "Forged" not in names(alice)
    page = browser.get(reverse("webmail:folders")).content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    response = browser.post(reverse("webmail:folder_create"), {"name": "Real", "csrfmiddlewaretoken": token})
    assert response.status_code == 302 and "Real" in names(alice)


def test_dovecot_down_is_the_503_page(mail_client, alice, settings):
    from accounts import mailaccess

    port = settings.IMAP_PORT
    mailaccess.web_pool.close_all()
    settings.IMAP_PORT = 1  # nothing listens there
    for response in (mail_client.get(reverse("webmail:folders")), create(mail_client, "Later"),
                     mail_client.post(reverse("webmail:folder_delete", args=["Projects"]))):
        assert response.status_code == 503
        assert "mail server (IMAP)" in response.content.decode() and "Traceback" not in response.content.decode()
    settings.IMAP_PORT = port
    assert create(mail_client, "Later").status_code == 302 and "Later" in names(alice)
