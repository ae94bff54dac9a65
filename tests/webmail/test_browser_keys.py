"""In Debian's Chromium: the keyboard shortcuts of the list and of the reading view, and the
"?" overlay that lists them."""

import datetime as dt

import pytest

from tests.webmail.conftest import log_in, mail, own_imap

pytestmark = pytest.mark.django_db(transaction=True)


def test_j_k_and_enter_walk_the_list_and_open_a_message(page, mail_stack, alice, put):
    for n in range(1, 4):
        put(alice, mail(f"Message number {n}", date=dt.datetime(2024, 3, n, tzinfo=dt.UTC)))
    log_in(page, "alice")
    page.goto("/mail/INBOX/")
    page.keyboard.press("j")
    page.keyboard.press("j")
    page.keyboard.press("k")
    page.keyboard.press("j")
    current = page.locator(".mail-list li.key-current")
    assert current.count() == 1
    # Newest first: the second row is message 2.
    assert "Message number 2" in current.inner_text()
    page.keyboard.press("Enter")
    page.wait_for_url("**/mail/INBOX/2/")
    assert "Message number 2" in page.locator("h1").inner_text()


def test_question_mark_shows_the_shortcuts_and_escape_hides_them(page, mail_stack, alice, put):
    put(alice, mail("Anything"))
    log_in(page, "alice")
    page.goto("/mail/INBOX/")
    help_dialog = page.locator("#keys-help")
    assert not help_dialog.is_visible()
    page.keyboard.press("?")
    assert help_dialog.is_visible()
    assert "Archive" in help_dialog.inner_text() and "Spam" in help_dialog.inner_text()
    page.keyboard.press("Escape")
    assert not help_dialog.is_visible()
    # Typing in a field is typing, not a shortcut.
    search = page.locator("[data-key=search]")
    if search.count():
        search.first.click()
        page.keyboard.type("?j")
        assert not help_dialog.is_visible()


def test_hash_deletes_the_message_under_the_cursor_into_the_trash(page, mail_stack, alice, put):
    put(alice, mail("Keep me", date=dt.datetime(2024, 3, 1, tzinfo=dt.UTC)))
    put(alice, mail("Throw me away", date=dt.datetime(2024, 3, 2, tzinfo=dt.UTC)))
    log_in(page, "alice")
    page.goto("/mail/INBOX/")
    page.keyboard.press("j")  # the newest: "Throw me away"
    with page.expect_navigation():
        page.keyboard.press("#")
    page.wait_for_selector(".mail-list")
    assert "Throw me away" not in page.locator(".mail-list").inner_text()
    client = own_imap(alice)
    client.select_folder("Trash")
    assert [env[b"ENVELOPE"].subject for env in client.fetch(client.search("ALL"), ["ENVELOPE"]).values()] == [b"Throw me away"]
    client.select_folder("INBOX")
    assert len(client.search("ALL")) == 1
    client.logout()
