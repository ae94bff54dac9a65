"""Through a real browser (Debian's Chromium driven by Playwright): what a member sees."""

import pytest

from accounts.models import Address, Member
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)


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
