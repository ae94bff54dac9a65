"""The form editor's pages in a real browser (Debian's Chromium via Playwright), on the real Dovecot."""

import os
import uuid

import pytest

from filters.services import editor, scripts
from tests.helpers import PASSWORD, imap_login

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("shipped_rules")]
SHOTS = os.environ.get("DUCKMAIL_SCREENSHOTS")


def shot(pg, name: str) -> None:
    if SHOTS:
        pg.screenshot(path=f"{SHOTS}/{name}.png", full_page=True)


def log_in(pg, member) -> None:
    pg.goto("/login/")
    pg.fill("#id_username", member.email)
    pg.fill("#id_password", PASSWORD)
    pg.click("button[type=submit]")
    pg.wait_for_url("**/account/**")


def enabled_options(pg, selector: str) -> list[str]:
    return pg.eval_on_selector(selector, "s => [...s.options].filter(o => !o.disabled).map(o => o.value)")


def no_sideways_scrolling(pg) -> bool:
    return pg.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_a_member_builds_a_rule_and_sees_a_bad_script_refused_in_place(page, make_member, mail_stack):
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
    assert scripts.list_scripts(member).active == editor.EDITOR_SCRIPT


def test_on_a_phone_the_rule_editor_shows_only_what_applies_and_adds_rows_in_the_page(page, make_member, mail_stack):
    from filters.models import Rule
    from filters.sieve import TEXT_OPS

    member = make_member(f"p{uuid.uuid4().hex[:10]}")
    imap = imap_login(member.email, PASSWORD)
    imap.create("Work")
    imap.logout()
    page.set_viewport_size({"width": 390, "height": 844})
    log_in(page, member)
    page.goto("/filters/rules/new/")
    # Nothing chosen yet: only "When".
    assert page.is_visible("#id_cond-0-field")
    for hidden in ("#id_cond-0-header", "#id_cond-0-op", "#id_cond-0-value",
                   "#id_act-0-folder", "#id_act-0-address", "#id_act-0-text"):
        assert not page.is_visible(hidden), hidden

    page.select_option("#id_cond-0-field", "subject")
    assert page.is_visible("#id_cond-0-op") and page.is_visible("#id_cond-0-value")
    assert not page.is_visible("#id_cond-0-header")
    assert enabled_options(page, "#id_cond-0-op") == list(TEXT_OPS)
    page.select_option("#id_cond-0-field", "header")
    assert page.is_visible("#id_cond-0-header")
    page.select_option("#id_cond-0-field", "size")
    assert enabled_options(page, "#id_cond-0-op") == ["over", "under"]
    assert page.input_value("#id_cond-0-op") == "over" and not page.is_visible("#id_cond-0-header")
    page.select_option("#id_cond-0-field", "spam")
    assert enabled_options(page, "#id_cond-0-op") == ["over"]

    for kind, shown in (("stop", None), ("fileinto", "folder"), ("copyto", "folder"), ("redirect", "address"),
                        ("redirect_copy", "address"), ("reject", "text"), ("discard", None)):
        page.select_option("#id_act-0-kind", kind)
        for arg in ("folder", "address", "text"):
            assert page.is_visible(f"#id_act-0-{arg}") == (arg == shown), (kind, arg)

    # The rows stack on a phone, and nothing needs sideways scrolling.
    field_box, op_box = page.locator("#id_cond-0-field").bounding_box(), page.locator("#id_cond-0-op").bounding_box()
    assert op_box["y"] > field_box["y"] + field_box["height"] - 1
    assert field_box["width"] > 250
    assert no_sideways_scrolling(page)
    shot(page, "rule-form-phone")

    # "Add a condition" adds a row here, without a round trip to the server.
    requests = []
    page.on("request", lambda r: requests.append(r.url))
    page.fill("#id_rule-name", "Big spam")
    page.fill("#id_cond-0-value", "80")
    page.click("text=Add a condition")
    assert page.input_value("#id_cond-TOTAL_FORMS") == "2" and requests == []
    assert page.evaluate("document.activeElement.id") == "id_cond-1-field"
    page.select_option("#id_cond-1-field", "size")
    page.fill("#id_cond-1-value", "2M")
    page.click("text=Add an action")
    assert page.input_value("#id_act-TOTAL_FORMS") == "2" and requests == []
    page.select_option("#id_act-0-kind", "fileinto")
    page.select_option("#id_act-0-folder", "Work")
    page.select_option("#id_act-1-kind", "stop")
    page.click("#save-rule")
    page.wait_for_url("**/filters/")
    rule = Rule.objects.get(member=member)
    assert rule.conditions == [{"field": "spam", "op": "over", "value": "80", "header": ""},
                               {"field": "size", "op": "over", "value": "2M", "header": ""}]
    assert rule.actions == [{"kind": "fileinto", "arg": "Work"}, {"kind": "stop", "arg": ""}]


def test_on_a_phone_the_filters_page_fits_and_deleting_asks_first(page, make_member, mail_stack):
    from filters.models import Rule

    member = make_member(f"q{uuid.uuid4().hex[:10]}")
    for name in ("Newsletters from the very long list of things", "Second rule"):
        editor.save_rule(member, None, name=name, enabled=True, match="all",
                           conditions=[{"field": "subject", "op": "contains", "value": "a-rather-long-word-" * 3,
                                        "header": ""}],
                           actions=[{"kind": "fileinto", "arg": "INBOX"}])
    scripts.save_script(member, "handmade", 'require "fileinto";\nfileinto "INBOX";\n', activate=True)
    page.set_viewport_size({"width": 390, "height": 844})
    log_in(page, member)
    page.goto("/filters/")
    assert no_sideways_scrolling(page)
    assert "Saved but not in use — your script “handmade” is active." in page.inner_text("#rules")
    # The row's buttons stay one group on one line.
    first = page.locator("#rules tbody tr").nth(1)
    boxes = [first.locator(f"button:has-text('{label}')").bounding_box() for label in ("↑", "Disable", "Delete")]
    assert len({round(b["y"]) for b in boxes}) == 1
    # The spam threshold is as wide as a number.
    assert page.locator("#id_spam_threshold").bounding_box()["width"] < 150
    shot(page, "index-phone")

    dialogs = []

    def answer(accept: bool):
        def handler(dialog):
            dialogs.append(dialog.message)
            dialog.accept() if accept else dialog.dismiss()
        return handler

    page.once("dialog", answer(False))
    first.locator("button:has-text('Delete')").click()
    assert dialogs == ["Delete the rule “Second rule”? This can not be undone."]
    assert Rule.objects.filter(member=member).count() == 2
    page.once("dialog", answer(True))
    first.locator("button:has-text('Delete')").click()
    page.wait_for_selector(".messages")
    assert [r.name for r in Rule.objects.filter(member=member)] == ["Newsletters from the very long list of things"]
    # Deleting a rule published the editor's rules again, so "handmade" is no longer active.
    assert scripts.list_scripts(member).active == editor.EDITOR_SCRIPT
    page.once("dialog", answer(False))
    page.locator("#scripts tr:has-text('handmade') button:has-text('Delete')").click()
    assert dialogs[-1].startswith("Delete the script “handmade”? This can not be undone")
    assert "handmade" in scripts.list_scripts(member).names

    scripts.activate_script(member, "handmade")
    page.goto("/filters/vacation/")
    assert "instead of “handmade”" in page.inner_text("#vacation-form")
    for date_input in ("#id_start", "#id_end"):
        assert page.locator(date_input).bounding_box()["width"] < 300
    assert no_sideways_scrolling(page)
    shot(page, "vacation-phone")
