"""The Filters pages in a real browser (Debian's Chromium via Playwright), on the real Dovecot."""

import os
import uuid

import pytest

from filters import services
from tests.conftest import PASSWORD
from tests.helpers import imap_login
from tests.test_browser import browser, page  # noqa: F401  (shared fixtures)

pytestmark = pytest.mark.django_db(transaction=True)
SHOTS = os.environ.get("DUCKMAIL_SCREENSHOTS")


def shot(pg, name: str) -> None:
    if SHOTS:
        pg.screenshot(path=f"{SHOTS}/{name}.png", full_page=True)


def test_a_member_builds_a_rule_and_sees_a_bad_script_refused_in_place(page, make_member, mail_stack):  # noqa: F811
    services.ensure_shipped_global_rules()
    member = make_member(f"b{uuid.uuid4().hex[:10]}")
    imap = imap_login(member.email, PASSWORD)
    imap.create("Work")
    imap.logout()

    page.goto("/login/")
    page.fill("#id_username", member.email)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.click("nav >> text=Filters")
    assert "default rules" in page.inner_text("#status")
    shot(page, "index-default")

    page.click("text=Add a rule")
    page.fill("#id_rule-name", "From the boss")
    page.select_option("#id_cond-0-field", "from")
    page.select_option("#id_cond-0-op", "contains")
    page.fill("#id_cond-0-value", "boss@example.org")
    page.click("text=Add a condition")
    page.select_option("#id_cond-1-field", "size")
    page.select_option("#id_cond-1-op", "over")
    page.fill("#id_cond-1-value", "lots")
    page.select_option("#id_act-0-kind", "fileinto")
    page.select_option("#id_act-0-folder", "Work")
    page.click("#save-rule")
    assert page.inner_text("#id_cond-1-value_error") == "Enter a size such as 500K, 2M or 1048576."
    assert page.input_value("#id_cond-0-value") == "boss@example.org"
    shot(page, "rule-error")
    page.fill("#id_cond-1-value", "2M")
    page.press("#id_cond-1-value", "Enter")  # Enter saves (it does not add a row)
    page.wait_for_url("**/filters/")
    assert "From the boss" in page.inner_text("#rules")
    assert "Your filters below are active" in page.inner_text("#status")
    shot(page, "index-rules")

    page.click("text=New script")
    page.fill("#id_name", "handmade")
    page.fill("#id_text", 'require "fileinto";\nfileintoo "Work";\n')
    page.click("#script-form button[type=submit]")
    assert "line 2" in page.inner_text("#id_text_error")
    assert "fileintoo" in page.input_value("#id_text")
    shot(page, "raw-error")
    assert services.list_scripts(member).active == services.EDITOR_SCRIPT
