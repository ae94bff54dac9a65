"""The list's actions against the real Dovecot: flags, move, copy, delete (to Trash; in Trash for
good, after asking), archive, spam and not spam as real MOVEs, a whole folder by a UID range,
undo, bad input, other members, CSRF, and Dovecot down."""

import re

import pytest
from django.test import Client
from django.urls import reverse
from imapclient import IMAPClient

from tests.webmail.conftest import mail, own_imap

pytestmark = pytest.mark.django_db(transaction=True)

INBOX = reverse("webmail:folder", args=["INBOX"])
ACT = reverse("webmail:actions", args=["INBOX"])


def act(client, action, *uids, folder="INBOX", follow=True, **fields):
    data = {"action": action, "uid": [str(u) for u in uids], **fields}
    return client.post(reverse("webmail:actions", args=[folder]), data, follow=follow)


def page_text(response) -> str:
    return response.content.decode()


def inbox_with(alice, put, count=3, folder="INBOX"):
    return [put(alice, mail(f"Message {n}"), folder) for n in range(count)]


def where(member) -> dict:
    """{folder: {subject: set of flags}} as the member's own mail program sees it."""
    client = own_imap(member)
    try:
        found = {}
        for flags, _delimiter, name in client.list_folders():
            if {b"\\Noselect", b"\\NonExistent"} & set(flags):
                continue
            client.select_folder(name, readonly=True)
            present = client.search()
            fetched = client.fetch(present, ["FLAGS", "ENVELOPE"]) if present else {}
            # \Recent is the session's, not the message's (the first session to see it gets it).
            found[name] = {data[b"ENVELOPE"].subject.decode(): {f.decode() for f in data[b"FLAGS"]} - {"\\Recent"}
                           for data in fetched.values()}
        return found
    finally:
        client.logout()


@pytest.fixture
def moves(monkeypatch):
    """The MOVE commands the web sends (they still go to Dovecot): (UIDs, target)."""
    sent = []
    real = IMAPClient.move

    def move(self, messages, folder):
        sent.append((messages, folder))
        return real(self, messages, folder)

    monkeypatch.setattr(IMAPClient, "move", move)
    return sent


def test_read_unread_flag_and_unflag_one_message_or_several(mail_client, alice, put):
    uids = inbox_with(alice, put)
    response = act(mail_client, "read", uids[0], uids[1])
    assert response.redirect_chain[-1][0] == INBOX
    assert "2 messages marked as read." in page_text(response)
    box = where(alice)["INBOX"]
    assert "\\Seen" in box["Message 0"] and "\\Seen" in box["Message 1"] and "\\Seen" not in box["Message 2"]

    assert "1 message marked as unread." in page_text(act(mail_client, "unread", uids[0]))
    assert "2 messages flagged." in page_text(act(mail_client, "flag", uids[1], uids[2]))
    box = where(alice)["INBOX"]
    assert "\\Seen" not in box["Message 0"] and "\\Seen" in box["Message 1"]
    assert "\\Flagged" in box["Message 1"] and "\\Flagged" in box["Message 2"] and "\\Flagged" not in box["Message 0"]
    assert "1 message unflagged." in page_text(act(mail_client, "unflag", uids[2]))
    assert "\\Flagged" not in where(alice)["INBOX"]["Message 2"]


def test_move_and_copy_to_another_folder(mail_client, alice, put):
    uids = inbox_with(alice, put)
    client = own_imap(alice)
    client.create_folder("Projects/2024")
    client.logout()
    response = act(mail_client, "move", uids[0], uids[1], target="Projects/2024")
    assert "2 messages moved to 2024." in page_text(response)
    assert "1 message copied to 2024." in page_text(act(mail_client, "copy", uids[2], target="Projects/2024"))
    boxes = where(alice)
    assert set(boxes["INBOX"]) == {"Message 2"}
    assert set(boxes["Projects/2024"]) == {"Message 0", "Message 1", "Message 2"}


def test_delete_moves_to_trash_and_in_trash_it_asks_first_then_deletes_for_good(mail_client, alice, put):
    uids = inbox_with(alice, put)
    response = act(mail_client, "delete", uids[0], uids[1])
    assert "2 messages moved to Trash." in page_text(response)
    assert set(where(alice)["Trash"]) == {"Message 0", "Message 1"}

    put(alice, mail("Old news"), "Trash")
    client = own_imap(alice)
    client.select_folder("Trash")
    trash_uids = client.search()
    client.logout()
    asked = act(mail_client, "delete", *trash_uids, folder="Trash", follow=False)
    assert asked.status_code == 200
    text = page_text(asked)
    assert "Delete for good?" in text and "3 messages" in text and 'name="confirm" value="1"' in text
    assert len(where(alice)["Trash"]) == 3  # nothing happened yet

    done = act(mail_client, "delete", *trash_uids, folder="Trash", confirm="1")
    assert "3 messages deleted for good." in page_text(done)
    assert where(alice)["Trash"] == {}
    client = own_imap(alice)
    client.select_folder("Trash")
    assert client.search(["DELETED"]) == []  # expunged, not just marked
    client.logout()


def test_archive_uses_an_archive_folder_and_makes_one_when_there_is_none(mail_client, alice, put):
    uids = inbox_with(alice, put)
    assert "1 message moved to Archive." in page_text(act(mail_client, "archive", uids[0]))
    client = own_imap(alice)
    assert "Archive" in [name for _f, _d, name in client.list_sub_folders()]  # subscribed, shown by every client
    client.logout()
    assert "2 messages moved to Archive." in page_text(act(mail_client, "archive", uids[1], uids[2]))
    boxes = where(alice)
    assert set(boxes["Archive"]) == {"Message 0", "Message 1", "Message 2"} and boxes["INBOX"] == {}


def test_spam_and_not_spam_are_real_moves_into_and_out_of_junk(mail_client, alice, put, moves):
    uids = inbox_with(alice, put)
    response = act(mail_client, "spam", uids[0], uids[1])
    assert "2 messages marked as spam and moved to Junk." in page_text(response)
    assert [target for _uids, target in moves] == ["Junk"]
    boxes = where(alice)
    assert set(boxes["Junk"]) == {"Message 0", "Message 1"} and set(boxes["INBOX"]) == {"Message 2"}
    # A MOVE leaves nothing behind: no \Deleted copy in the source (COPY + STORE would).
    client = own_imap(alice)
    client.select_folder("INBOX")
    assert client.search(["DELETED"]) == [] and client.folder_status("INBOX", ["MESSAGES"])[b"MESSAGES"] == 1
    client.select_folder("Junk")
    junk_uids = client.search()
    client.logout()

    response = act(mail_client, "notspam", junk_uids[0], folder="Junk")
    assert "1 message marked as not spam and moved to Inbox." in page_text(response)
    assert [target for _uids, target in moves] == ["Junk", "INBOX"]
    boxes = where(alice)
    assert len(boxes["Junk"]) == 1 and len(boxes["INBOX"]) == 2
    client = own_imap(alice)
    client.select_folder("Junk")
    assert client.search(["DELETED"]) == []
    client.logout()
    # "Not spam" outside Junk, "spam" inside it: said plainly, nothing moved.
    assert "Only mail in Junk can be marked as not spam." in page_text(act(mail_client, "notspam", uids[2]))
    assert "already in Junk" in page_text(act(mail_client, "spam", junk_uids[1], folder="Junk"))
    assert len(moves) == 2


def test_all_n_messages_of_a_folder_move_by_a_uid_range(mail_client, alice, put_many, put, moves):
    put_many(alice, [mail(f"Bulk {n:03d}") for n in range(120)])
    page = page_text(mail_client.get(INBOX))
    assert "All 120 messages in this folder" in page
    uidnext = re.search(r'name="uidnext" value="(\d+)"', page).group(1)
    put(alice, mail("Arrived after the page was shown"))
    response = act(mail_client, "archive", all="1", uidnext=uidnext)
    assert "120 messages moved to Archive." in page_text(response)
    assert moves == [("1:120", "Archive")]  # a range, not 120 UIDs
    boxes = where(alice)
    assert len(boxes["Archive"]) == 120 and set(boxes["INBOX"]) == {"Arrived after the page was shown"}
    # The toast's Undo moves the 120 back, also as one range.
    token = re.search(r'name="token" value="([^"]+)"', page_text(response)).group(1)
    undone = mail_client.post(reverse("webmail:undo", args=["INBOX"]), {"token": token, "next": INBOX}, follow=True)
    assert "120 messages moved back to Inbox." in page_text(undone)
    assert moves[-1] == ("1:120", "INBOX")
    assert len(where(alice)["INBOX"]) == 121


def test_all_without_a_bound_means_every_message_now_and_flags_them(mail_client, alice, put_many):
    put_many(alice, [mail(f"Bulk {n:03d}") for n in range(60)])
    assert "60 messages marked as read." in page_text(act(mail_client, "read", all="1"))
    assert all("\\Seen" in flags for flags in where(alice)["INBOX"].values())


def test_undo_brings_moved_messages_back_once(mail_client, alice, put):
    uids = inbox_with(alice, put)
    client = own_imap(alice)
    client.create_folder("Later")
    client.logout()
    response = act(mail_client, "move", uids[0], uids[2], target="Later")
    text = page_text(response)
    toast = re.search(r'<div class="mail-toast"[^>]*role="status".*?</div>', text, re.S).group(0)
    assert "2 messages moved to Later." in toast and ">Undo</button>" in toast
    assert text.count("2 messages moved to Later.") == 1  # the toast, not also the page's flash list
    token = re.search(r'name="token" value="([^"]+)"', toast).group(1)
    undo = reverse("webmail:undo", args=["INBOX"])
    undone = mail_client.post(undo, {"token": token, "next": INBOX}, follow=True)
    assert "2 messages moved back to Inbox." in page_text(undone)
    boxes = where(alice)
    assert set(boxes["INBOX"]) == {"Message 0", "Message 1", "Message 2"} and boxes["Later"] == {}
    again = mail_client.post(undo, {"token": token, "next": INBOX}, follow=True)
    assert "Nothing to undo" in page_text(again)
    assert len(where(alice)["INBOX"]) == 3


def test_delete_and_spam_can_be_undone_too(mail_client, alice, put):
    uids = inbox_with(alice, put, 2)
    for action, expected in (("delete", "moved to Trash"), ("spam", "moved to Junk")):
        response = act(mail_client, action, uids[0] if action == "delete" else uids[1])
        assert expected in page_text(response)
        token = re.search(r'name="token" value="([^"]+)"', page_text(response)).group(1)
        mail_client.post(reverse("webmail:undo", args=["INBOX"]), {"token": token})
    boxes = where(alice)
    assert set(boxes["INBOX"]) == {"Message 0", "Message 1"} and boxes["Trash"] == {} and boxes["Junk"] == {}


def test_an_undo_expires_and_a_token_is_no_one_elses(mail_client, alice, bob, put, monkeypatch):
    uids = inbox_with(alice, put)
    response = act(mail_client, "archive", uids[0])
    token = re.search(r'name="token" value="([^"]+)"', page_text(response)).group(1)
    undo = reverse("webmail:undo", args=["INBOX"])

    other = Client()
    other.force_login(bob)
    refused = other.post(undo, {"token": token, "next": INBOX}, follow=True)
    assert "can no longer be undone" in page_text(refused)
    forged = mail_client.post(undo, {"token": token[:-2] + "xx", "next": INBOX}, follow=True)
    assert "can no longer be undone" in page_text(forged)

    monkeypatch.setattr("webmail.views.actions.UNDO_SECONDS", -1)
    late = mail_client.post(undo, {"token": token, "next": INBOX}, follow=True)
    assert "can no longer be undone" in page_text(late)
    assert set(where(alice)["Archive"]) == {"Message 0"}


def test_the_list_is_right_after_a_move_on_the_kept_connection(mail_client, alice, put, imap_commands):
    uids = inbox_with(alice, put, 4)
    first = page_text(mail_client.get(INBOX))
    assert all(f"Message {n}" in first for n in range(4))
    sorts = imap_commands["sort"]
    act(mail_client, "delete", uids[1], uids[3], follow=False)
    after = page_text(mail_client.get(INBOX))
    subjects = re.findall(r'<span class="subject">([^<]*)</span>', after)
    assert sorted(subjects) == ["Message 0", "Message 2"] and "2 messages" in after
    assert imap_commands["sort"] == sorts + 1  # the folder changed (EXISTS): sorted afresh
    act(mail_client, "read", uids[0], follow=False)
    assert sorted(re.findall(r'<span class="subject">([^<]*)</span>', page_text(mail_client.get(INBOX)))) == subjects
    assert imap_commands["sort"] == sorts + 1  # a flag changes no order: the sorted UIDs are kept


@pytest.mark.parametrize(("fields", "problem"), [
    ({"action": "read", "uid": ["abc"]}, "not messages of this folder"),
    ({"action": "read", "uid": ["1:*"]}, "not messages of this folder"),
    ({"action": "read", "uid": ["0"]}, "not messages of this folder"),
    ({"action": "read", "uid": ["1 2"]}, "not messages of this folder"),
    ({"action": "move", "uid": ["1"], "target": "Trash\r\nA1 DELETE INBOX"}, "not a folder name"),
    ({"action": "explode", "uid": ["1"]}, "no such action"),
    ({"uid": ["1"]}, "Choose what to do"),
    ({"action": "read", "uid": ["1"], "uidnext": "x"}, "whole number"),
])
def test_bad_input_is_a_clear_400_and_changes_nothing(mail_client, alice, put, fields, problem):
    inbox_with(alice, put)
    before = where(alice)
    response = mail_client.post(ACT, fields)
    assert response.status_code == 400
    assert problem.lower() in page_text(response).lower()
    assert where(alice) == before


@pytest.mark.parametrize(("fields", "problem"), [
    ({"action": "move", "uid": ["1"], "target": "Nowhere"}, "There is no folder “Nowhere”"),
    ({"action": "move", "uid": ["1"]}, "Choose the folder to move them to."),
    ({"action": "copy", "uid": ["1"], "target": ""}, "Choose the folder to copy them to."),
    ({"action": "move", "uid": ["1"], "target": "INBOX"}, "already in Inbox"),
    ({"action": "delete"}, "Select one or more messages first."),
    ({"action": "delete", "uid": ["999"]}, "no longer in this folder"),
])
def test_an_action_that_can_not_be_done_says_why_and_changes_nothing(mail_client, alice, put, fields, problem):
    inbox_with(alice, put)
    before = where(alice)
    response = mail_client.post(ACT, {**fields, "next": INBOX}, follow=True)
    assert response.redirect_chain[-1][0] == INBOX and response.status_code == 200
    assert problem in page_text(response)
    assert where(alice) == before


def test_an_action_in_a_folder_that_is_not_there_is_its_404_page(mail_client, alice, put):
    inbox_with(alice, put)
    response = mail_client.post(reverse("webmail:actions", args=["Nowhere"]), {"action": "read", "uid": ["1"]})
    assert response.status_code == 404 and "There is no folder “Nowhere”" in page_text(response)
    assert all("\\Seen" not in flags for flags in where(alice)["INBOX"].values())


def test_a_refusal_of_the_server_is_a_message_not_a_500(mail_client, alice, put, monkeypatch):
    """Dovecot answering NO (here: the folder went away between LIST and COPY) is said plainly."""
    from webmail.mailbox import folders

    uids = inbox_with(alice, put)
    real = folders.folder_tree

    def with_a_ghost(client):
        tree = real(client)
        return tree + [folders.Folder("Ghost", "Ghost", 0, None, True, True, 0, 0)]

    monkeypatch.setattr(folders, "folder_tree", with_a_ghost)
    response = act(mail_client, "copy", uids[0], target="Ghost")
    assert response.status_code == 200
    assert "The mail server refused: Mailbox doesn&#x27;t exist: Ghost." in page_text(response)
    assert set(where(alice)["INBOX"]) == {"Message 0", "Message 1", "Message 2"}


def test_next_may_only_lead_back_into_the_site(mail_client, alice, put):
    uids = inbox_with(alice, put)
    for bad in ("https://evil.example/", "//evil.example/mail/", "javascript:alert(1)"):
        response = act(mail_client, "read", uids[0], follow=False, next=bad)
        assert response.status_code == 302 and response["Location"] == INBOX, bad
    junk = reverse("webmail:folder", args=["Junk"]) + "?page=2"
    assert act(mail_client, "read", uids[0], follow=False, next=junk)["Location"] == junk


def test_a_stranger_posting_alices_uids_acts_on_his_own_mailbox_only(client, alice, bob, put):
    inbox_with(alice, put)
    put(bob, mail("Bob's own"))
    client.force_login(bob)
    response = act(client, "delete", 1, 2, 3)
    assert "1 message moved to Trash." in page_text(response)
    assert set(where(bob)["Trash"]) == {"Bob's own"}
    alices = where(alice)
    assert set(alices["INBOX"]) == {"Message 0", "Message 1", "Message 2"} and alices["Trash"] == {}


def test_actions_need_a_login_a_post_and_the_csrf_token(client, alice, put, mail_stack):
    uids = inbox_with(alice, put)
    anonymous = client.post(ACT, {"action": "read", "uid": [str(uids[0])]})
    assert anonymous.status_code == 302 and anonymous["Location"].startswith("/login/")
    checked = Client(enforce_csrf_checks=True)
    checked.force_login(alice)
    assert checked.post(ACT, {"action": "read", "uid": [str(uids[0])]}).status_code == 403
    assert checked.post(reverse("webmail:undo", args=["INBOX"]), {"token": "x"}).status_code == 403
    assert checked.get(ACT + "?action=read&uid=1").status_code == 405
    assert checked.get(reverse("webmail:undo", args=["INBOX"])).status_code == 405
    assert all("\\Seen" not in flags for flags in where(alice)["INBOX"].values())
    # The list's own form carries the token: the same browser can post it.
    page = page_text(checked.get(INBOX))
    csrf = re.search(r'<form id="mail-actions".*?name="csrfmiddlewaretoken" value="([^"]+)"', page, re.S).group(1)
    ok = checked.post(ACT, {"action": "read", "uid": [str(uids[0])], "csrfmiddlewaretoken": csrf})
    assert ok.status_code == 302
    assert "\\Seen" in where(alice)["INBOX"]["Message 0"]


def test_dovecot_down_during_an_action_is_the_503_page_and_nothing_is_lost(mail_client, alice, put, settings):
    from accounts import mailaccess

    uids = inbox_with(alice, put)
    port = settings.IMAP_PORT
    mailaccess.web_pool.close_all()
    settings.IMAP_PORT = 1  # nothing listens there
    response = mail_client.post(ACT, {"action": "delete", "uid": [str(u) for u in uids]})
    assert response.status_code == 503 and "mail server (IMAP)" in page_text(response)
    settings.IMAP_PORT = port
    assert set(where(alice)["INBOX"]) == {"Message 0", "Message 1", "Message 2"}


def test_the_list_has_the_form_rows_and_toolbar_others_build_on(mail_client, alice, put):
    uids = inbox_with(alice, put, 2)
    page = page_text(mail_client.get(INBOX))
    assert re.search(r'<form id="mail-actions" [^>]*method="post" action="/mail/INBOX/actions/"', page)
    for uid in uids:
        assert f'data-uid="{uid}"' in page
        assert f'<input type="checkbox" class="mail-pick" name="uid" value="{uid}" form="mail-actions"' in page
    for action in ("read", "unread", "flag", "unflag", "move", "copy", "delete", "archive", "spam"):
        assert f'name="action" value="{action}"' in page, action
    assert 'value="notspam"' not in page
    junk = page_text(mail_client.get(reverse("webmail:folder", args=["Junk"])))
    assert 'name="action" value="notspam"' in junk and 'value="spam"' not in junk
    assert "style=" not in page and "<script>" not in page and " onclick" not in page
