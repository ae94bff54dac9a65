"""Through a real browser (Debian's Chromium driven by Playwright): what a member sees."""

import shutil

import pytest

from accounts.models import Address, Member
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture(scope="module")
def browser():
    import os

    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop running in this thread; the ORM calls the
    # test makes between page actions are still plain synchronous ones.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run"],
        )
        yield browser
        browser.close()
    del os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"]


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(base_url=live_server.url)
    page = context.new_page()
    yield page
    context.close()


def test_a_newcomer_signs_up_adds_an_alias_and_sees_mistakes_next_to_the_field(mail_stack, page, make_member):
    make_member("taken")
    page.goto("/signup/")
    page.fill("#id_local_part", "taken")
    page.fill("#id_password1", PASSWORD)
    page.fill("#id_password2", PASSWORD)
    page.click("button[type=submit]")
    assert page.inner_text("#id_local_part_error") == "taken@duckmail.test is already taken. Please choose another name."
    # What was typed is still there.
    assert page.input_value("#id_local_part") == "taken"

    page.fill("#id_local_part", "Frank")
    page.fill("#id_password1", PASSWORD)
    page.fill("#id_password2", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/account/")
    assert "Welcome! Your mailbox frank@duckmail.test is ready." in page.inner_text(".messages")
    assert "Your mailbox holds up to 512 MB" in page.inner_text("#quota")

    page.fill("#id_alias-local_part", "frankie")
    page.click("#alias-form button[type=submit]")
    assert "frankie@duckmail.test now delivers to your mailbox." in page.inner_text(".messages")
    assert Address.objects.get(local_part="frankie").owner == Member.objects.get(email="frank@duckmail.test")

    page.fill("#id_alias-local_part", "bad name")
    page.click("#alias-form button[type=submit]")
    assert "Use letters a–z" in page.inner_text("#alias-form .error")

    page.click("text=Log out")
    page.wait_for_url("**/login/")
