"""In Debian's Chromium: the list's selection (rows, shift-click ranges, the whole folder),
its toolbar, drag-and-drop onto a folder, Undo, and new mail announced without a reload —
with the site's CSP in force (no inline script or style anywhere)."""

import pytest

from tests.webmail.conftest import log_in, mail, own_imap

pytestmark = pytest.mark.django_db(transaction=True)


def subjects_in(member, folder: str) -> set[str]:
    client = own_imap(member)
    try:
        client.select_folder(folder, readonly=True)
        uids = client.search()
        fetched = client.fetch(uids, ["ENVELOPE"]) if uids else {}
        return {data[b"ENVELOPE"].subject.decode() for data in fetched.values()}
    finally:
        client.logout()


@pytest.fixture
def inbox(page, mail_stack, alice, put):
    """alice logged in, looking at her Inbox of four messages (Message 0 the oldest)."""
    import datetime as dt

    for n in range(4):
        put(alice, mail(f"Message {n}", date=dt.datetime(2024, 3, 1 + n, tzinfo=dt.UTC)))
    problems = []
    page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    log_in(page, "alice")
    page.goto("/mail/INBOX/")
    yield page
    assert not [p for p in problems if "Content Security Policy" in p or "Refused" in p], problems


def row(page, subject: str):
    return page.locator("ol.mail-list li[data-uid]", has_text=subject)


def test_two_rows_selected_and_deleted_are_in_trash(inbox, alice):
    page = inbox
    row(page, "Message 1").locator("input[name=uid]").check()
    row(page, "Message 3").locator("input[name=uid]").check()
    assert page.locator("#mail-selected-count").inner_text() == "2 selected"
    page.click("button[name=action][value=delete]")
    page.wait_for_selector("text=2 messages moved to Trash.")
    assert page.locator(".mail-toast[role=status] button", has_text="Undo").is_visible()
    assert subjects_in(alice, "Trash") == {"Message 1", "Message 3"}
    assert subjects_in(alice, "INBOX") == {"Message 0", "Message 2"}
    assert page.locator("ol.mail-list li[data-uid]").count() == 2


def test_shift_click_selects_a_range(inbox, alice):
    page = inbox
    row(page, "Message 3").locator("input[name=uid]").click()
    row(page, "Message 0").locator("input[name=uid]").click(modifiers=["Shift"])
    assert page.locator("input[name=uid]:checked").count() == 4
    assert page.locator("ol.mail-list li.selected").count() == 4
    row(page, "Message 2").locator("input[name=uid]").click()
    assert page.locator("input[name=uid]:checked").count() == 3
    page.click("button[name=action][value=read]")
    page.wait_for_selector("text=3 messages marked as read.")
    assert page.locator("ol.mail-list li.unread").count() == 1


def test_the_whole_folder_is_selected_from_the_banner_and_archived(page, mail_stack, alice, put_many):
    put_many(alice, [mail(f"Bulk {n:03d}") for n in range(60)])
    log_in(page, "alice")
    page.goto("/mail/INBOX/")
    assert page.locator("ol.mail-list li[data-uid]").count() == 50
    assert not page.locator("label.mail-all-plain").is_visible()  # the no-script checkbox gives way to the banner
    page.check("#mail-select-page")
    banner = page.locator("#mail-all-page")
    assert banner.is_visible() and "All 50 on this page are selected." in banner.inner_text()
    page.click("text=Select all 60 in this folder")
    assert page.locator("#mail-all-folder").is_visible() and not banner.is_visible()
    assert page.locator("#mail-selected-count").inner_text() == "60 selected"
    page.click("button[name=action][value=archive]")
    page.wait_for_selector("text=60 messages moved to Archive.")
    assert len(subjects_in(alice, "Archive")) == 60 and subjects_in(alice, "INBOX") == set()


def test_a_message_marked_as_spam_is_in_junk(inbox, alice):
    page = inbox
    row(page, "Message 2").locator("input[name=uid]").check()
    page.click("button[name=action][value=spam]")
    page.wait_for_selector("text=1 message marked as spam and moved to Junk.")
    assert subjects_in(alice, "Junk") == {"Message 2"}
    page.click("#mail-folders li[data-folder=Junk] a")
    page.wait_for_url("**/mail/Junk/")
    assert page.locator("button[name=action][value=notspam]").is_visible()
    assert page.locator("button[name=action][value=spam]").count() == 0


def test_a_row_dragged_onto_a_folder_moves_there(page, mail_stack, alice, put):
    client = own_imap(alice)
    client.create_folder("Projects")
    client.subscribe_folder("Projects")
    client.logout()
    for n in range(3):
        put(alice, mail(f"Message {n}"))
    log_in(page, "alice")
    page.goto("/mail/INBOX/")
    # Another row is ticked, but the dragged one (not ticked) moves alone.
    row(page, "Message 0").locator("input[name=uid]").check()
    row(page, "Message 1").drag_to(page.locator("#mail-folders li[data-folder=Projects]"))
    page.wait_for_selector("text=1 message moved to Projects.")
    assert subjects_in(alice, "Projects") == {"Message 1"}
    # Ticked rows move together when one of them is dragged.
    row(page, "Message 0").locator("input[name=uid]").check()
    row(page, "Message 2").locator("input[name=uid]").check()
    row(page, "Message 2").drag_to(page.locator("#mail-folders li[data-folder=Projects]"))
    page.wait_for_selector("text=2 messages moved to Projects.")
    assert subjects_in(alice, "Projects") == {"Message 0", "Message 1", "Message 2"}


def test_a_move_is_undone_from_the_toast(inbox, alice):
    page = inbox
    row(page, "Message 0").locator("input[name=uid]").check()
    row(page, "Message 1").locator("input[name=uid]").check()
    page.select_option("select[name=target]", "Trash")
    page.click("button[name=action][value=move]")
    page.wait_for_selector("text=2 messages moved to Trash.")
    assert subjects_in(alice, "INBOX") == {"Message 2", "Message 3"}
    page.click(".mail-toast button:has-text('Undo')")
    page.wait_for_selector("text=2 messages moved back to Inbox.")
    assert subjects_in(alice, "INBOX") == {"Message 0", "Message 1", "Message 2", "Message 3"}
    assert subjects_in(alice, "Trash") == set()
    assert page.locator("ol.mail-list li[data-uid]").count() == 4


def test_new_mail_is_announced_without_a_reload(inbox, alice, put):
    page = inbox
    assert page.title() == "(4) Inbox · DuckMail"
    put(alice, mail("Just in"))
    # The poll runs every 30 s, and at once when the tab becomes visible again.
    page.evaluate("document.getElementById('mail-poll').dispatchEvent(new Event('mailvisible'))")
    page.wait_for_selector("#mail-news >> text=1 new message")
    assert page.title() == "(5) Inbox · DuckMail"
    assert page.locator("#mail-folders li[data-folder=INBOX] .unseen").inner_text() == "5"
    assert page.locator("ol.mail-list li[data-uid]").count() == 4  # the rows stay as they were
    page.click("#mail-news a:has-text('show')")
    page.wait_for_selector("text=Just in")
    assert page.locator("ol.mail-list li[data-uid]").count() == 5


def test_without_javascript_the_toolbar_the_whole_folder_and_undo_still_work(browser, live_server, mail_stack, alice,
                                                                            put):
    for n in range(3):
        put(alice, mail(f"Message {n}"))
    context = browser.new_context(base_url=live_server.url, java_script_enabled=False)
    page = context.new_page()
    try:
        log_in(page, "alice")
        page.goto("/mail/INBOX/")
        assert not page.locator("#mail-select-page").is_visible() and not page.locator("#mail-all-page").is_visible()
        row(page, "Message 1").locator("input[name=uid]").check()
        page.click("button[name=action][value=delete]")
        page.wait_for_selector("text=1 message moved to Trash.")
        page.click(".mail-toast button:has-text('Undo')")
        page.wait_for_selector("text=1 message moved back to Inbox.")
        assert subjects_in(alice, "INBOX") == {"Message 0", "Message 1", "Message 2"}
        page.check("label.mail-all-plain input[name=all]")
        page.click("button[name=action][value=flag]")
        page.wait_for_selector("text=3 messages flagged.")
        assert page.locator("ol.mail-list li.flagged").count() == 3
    finally:
        context.close()
