"""Every page carries a Content-Security-Policy that allows no inline script, and the pages
still work under it in a real browser (confirmations, printing, the rule editor)."""

import pytest
from django.urls import reverse

from tests.helpers import PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)


def test_every_answer_carries_the_policy(client, alice, make_member):
    pages = [reverse("login"), reverse("signup"), "/no-such-page/"]
    for url in pages:
        policy = client.get(url)["Content-Security-Policy"]
        assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy, url
        assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    staff = make_member("admin", is_staff=True, is_superuser=True, allow_reserved=True)
    client.force_login(staff)
    for url in (reverse("account"), reverse("security"), reverse("admin:index")):
        assert "default-src 'self'" in client.get(url)["Content-Security-Policy"], url


def _violations(page) -> list[str]:
    seen = []
    page.on("console", lambda msg: seen.append(msg.text) if "Content Security Policy" in msg.text else None)
    return seen


def test_the_pages_work_under_the_policy_in_a_browser(page, mail_stack, make_member):
    """Removing an alias asks first (no inline onsubmit), the admin and the Filters page
    load without a single violation."""
    from accounts import services

    member = make_member("admin", is_staff=True, is_superuser=True, allow_reserved=True)
    services.add_alias(member, "spare")
    violations = _violations(page)
    page.goto("/login/")
    page.fill("#id_username", "admin")
    page.fill("#id_password", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url("**/account/")
    asked = []

    def dismiss(dialog):
        asked.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", dismiss)
    page.click("form[data-confirm] button")
    assert asked == ["Remove spare@duckmail.test? Mail sent to it will bounce."]
    assert page.url.endswith("/account/")  # dismissed: nothing was sent
    for url in ("/filters/", "/filters/rules/new/", "/admin/", "/admin/accounts/member/", "/account/security/"):
        page.goto(url)
        page.wait_for_load_state("load")
    assert violations == []

