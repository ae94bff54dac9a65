"""The Django admin: members, addresses, quota requests, the audit log and the admin's own password change."""

import imaplib

import pytest
from django.urls import reverse

from accounts import services
from accounts.models import Address, AuditLog, Member
from tests.helpers import PASSWORD, imap_login


@pytest.fixture
def staff(make_member):
    return make_member("admin", is_staff=True, is_superuser=True, allow_reserved=True)


@pytest.fixture
def staff_client(client, staff):
    client.force_login(staff)
    return client


def test_admin_lists_load_with_search_and_filters(staff_client, alice):
    services.add_alias(alice, "ally")
    services.request_quota(alice, 1024, "more")
    for name in ("accounts_member", "domains_domain", "accounts_address", "accounts_quotarequest", "accounts_auditlog"):
        url = reverse(f"admin:{name}_changelist")
        assert staff_client.get(url).status_code == 200, name
        assert staff_client.get(url, {"q": "alice"}).status_code == 200, name
    page = staff_client.get(reverse("admin:accounts_member_changelist"), {"q": "ally"}).content.decode()
    assert "alice@duckmail.test" in page
    assert staff_client.get(reverse("admin:accounts_member_change", args=[alice.pk])).status_code == 200


def test_admin_creates_a_member_with_a_mailbox(staff_client):
    response = staff_client.post(reverse("admin:accounts_member_add"), {
        "local_part": "Erin", "password": PASSWORD, "display_name": "Erin", "quota_mb": "1024", "max_addresses": "5"})
    assert response.status_code == 302, response.content
    erin = Member.objects.get(email="erin@duckmail.test")
    assert erin.quota_mb == 1024
    assert Address.objects.get(owner=erin).kind == "mailbox"
    assert erin.check_password(PASSWORD)


@pytest.mark.django_db(transaction=True)
def test_admin_disables_a_member_everywhere_and_it_is_audited(mail_stack, staff_client, staff, alice):
    response = staff_client.post(reverse("admin:accounts_member_changelist"),
                                 {"action": "disable_members", "_selected_action": [alice.pk]})
    assert response.status_code == 302
    assert not Member.objects.get(pk=alice.pk).is_active
    with pytest.raises(imaplib.IMAP4.error):
        imap_login("alice@duckmail.test", PASSWORD)
    entry = AuditLog.objects.get(action="member.disabled")
    assert entry.actor == staff and entry.member.pk == alice.pk
    page = staff_client.get(reverse("admin:accounts_auditlog_changelist")).content.decode()
    assert "member.disabled" in page


@pytest.mark.django_db(transaction=True)
def test_admin_quota_change_in_the_form_is_audited_and_reaches_dovecot(mail_stack, staff_client, alice):
    url = reverse("admin:accounts_member_change", args=[alice.pk])
    response = staff_client.post(url, {
        "display_name": "Alice", "is_active": "on", "quota_mb": "777", "max_addresses": "10",
        "addresses-TOTAL_FORMS": "1", "addresses-INITIAL_FORMS": "1", "addresses-MIN_NUM_FORMS": "0",
        "addresses-MAX_NUM_FORMS": "1000", "addresses-0-id": str(alice.addresses.get().pk),
        "addresses-0-owner": str(alice.pk)})
    assert response.status_code == 302, response.content.decode()[:3000]
    assert AuditLog.objects.filter(action="quota.changed", member=alice).exists()
    imap = imap_login("alice@duckmail.test", PASSWORD)
    _, data = imap.getquotaroot("INBOX")
    imap.logout()
    assert b"STORAGE 0 795648" in data[1][0]


def test_members_can_not_reach_the_admin(alice_client):
    response = alice_client.get(reverse("admin:index"))
    assert response.status_code == 302 and "/admin/login/" in response.url


@pytest.mark.django_db(transaction=True)
def test_admin_gives_a_member_who_forgot_their_password_a_new_one(mail_stack, staff_client, staff, alice):
    response = staff_client.post(reverse("admin:accounts_member_changelist"),
                                 {"action": "set_new_password", "_selected_action": [alice.pk]}, follow=True)
    text = response.content.decode()
    assert "New password for alice@duckmail.test: " in text
    password = text.split("New password for alice@duckmail.test: ")[1].split(" ")[0]
    imap_login("alice@duckmail.test", password).logout()
    with pytest.raises(imaplib.IMAP4.error):
        imap_login("alice@duckmail.test", PASSWORD)
    entry = AuditLog.objects.get(action="member.password_changed", member=alice)
    assert entry.actor == staff


@pytest.mark.django_db(transaction=True)
def test_admin_approves_from_the_request_with_a_note_the_member_reads(mail_stack, staff_client, alice):
    from accounts.models import QuotaRequest
    from tests.helpers import bodies

    qr = services.request_quota(alice, 2048, "Photos of ducks")
    page = staff_client.get(reverse("admin:accounts_quotarequest_change", args=[qr.pk])).content.decode()
    assert "Approve (with the note above)" in page
    response = staff_client.post(reverse("admin:accounts_quotarequest_change", args=[qr.pk]),
                                 {"admin_note": "Enjoy the ducks", "_approve": "1"})
    assert response.status_code == 302
    assert QuotaRequest.objects.get(pk=qr.pk).status == "approved"
    assert Member.objects.get(pk=alice.pk).quota_mb == 2048
    assert any("Enjoy the ducks" in body for body in bodies("alice@duckmail.test", PASSWORD))
    # Requests are history: no deleting.
    assert staff_client.post(reverse("admin:accounts_quotarequest_delete", args=[qr.pk]), {"post": "yes"}).status_code == 403


def test_waiting_quota_requests_come_first(staff_client, alice, bob):
    first = services.request_quota(alice, 1024, "first")
    services.decide_quota_request(first, False, actor=None)
    services.request_quota(bob, 1024, "waiting")
    page = staff_client.get(reverse("admin:accounts_quotarequest_changelist")).content.decode()
    assert page.index("bob@duckmail.test") < page.index("alice@duckmail.test")


@pytest.fixture
def viewer_client(client, make_member):
    """A staff member who may only look at members and quota requests."""
    from django.contrib.auth.models import Permission

    viewer = make_member("viewer", is_staff=True)
    viewer.user_permissions.add(*Permission.objects.filter(codename__in=["view_member", "view_quotarequest"]))
    client.force_login(viewer)
    return client


def test_staff_who_may_only_look_can_not_run_actions(viewer_client, alice, make_member):
    root = make_member("root", is_staff=True, is_superuser=True, allow_reserved=True)
    qr = services.request_quota(alice, 2048, "more")
    for action, pk in (("set_new_password", root.pk), ("disable_members", alice.pk), ("reset_two_factor", alice.pk)):
        viewer_client.post(reverse("admin:accounts_member_changelist"), {"action": action, "_selected_action": [pk]})
    viewer_client.post(reverse("admin:accounts_quotarequest_changelist"), {"action": "approve", "_selected_action": [qr.pk]})
    root.refresh_from_db()
    assert root.check_password(PASSWORD)
    assert Member.objects.get(pk=alice.pk).is_active
    assert services.QuotaRequest.objects.get(pk=qr.pk).status == "pending"


def test_only_a_superuser_gives_an_administrator_a_new_password(client, make_member):
    from django.contrib.auth.models import Permission

    helper = make_member("helper", is_staff=True)
    helper.user_permissions.add(*Permission.objects.filter(codename__in=["view_member", "change_member"]))
    other_admin = make_member("boss", is_staff=True)
    client.force_login(helper)
    client.post(reverse("admin:accounts_member_changelist"),
                {"action": "set_new_password", "_selected_action": [other_admin.pk]})
    other_admin.refresh_from_db()
    assert other_admin.check_password(PASSWORD)
    # Nor can they make themselves (or anyone) a superuser.
    page = client.get(reverse("admin:accounts_member_change", args=[helper.pk])).content.decode()
    assert 'name="is_superuser"' not in page and 'name="is_staff"' not in page


def test_the_admin_change_password_goes_to_the_member_password_page(client, make_member):
    admin_member = make_member("boss", is_staff=True, is_superuser=True)
    client.force_login(admin_member)
    response = client.get(reverse("admin:password_change"))
    assert response.status_code == 302 and response.url == reverse("password_change")
    response = client.post(reverse("admin:password_change"), {
        "old_password": PASSWORD, "new_password1": "New-Passw0rd-here", "new_password2": "New-Passw0rd-here"})
    admin_member.refresh_from_db()
    assert admin_member.check_password(PASSWORD)  # nothing changed behind the member flow's back
    # Through the member page the change is audited.
    client.post(reverse("password_change"), {
        "old_password": PASSWORD, "new_password1": "New-Passw0rd-here", "new_password2": "New-Passw0rd-here"})
    assert AuditLog.objects.filter(action="member.password_changed", member=admin_member).exists()


@pytest.fixture
def helper_client(client, make_member):
    """A staff member with every admin permission who is not a superuser."""
    from django.contrib.auth.models import Permission

    helper = make_member("helper", is_staff=True)
    helper.user_permissions.set(Permission.objects.all())
    client.force_login(helper)
    return client


def test_staff_can_not_disable_or_reset_an_administrator(helper_client, staff, alice, enable_two_factor):
    enable_two_factor(staff)
    changelist = reverse("admin:accounts_member_changelist")
    response = helper_client.post(changelist, {"action": "disable_members", "_selected_action": [staff.pk, alice.pk]},
                                  follow=True)
    assert "Only a superuser can do that to an administrator: admin@duckmail.test" in response.content.decode()
    assert Member.objects.get(pk=staff.pk).is_active
    assert not Member.objects.get(pk=alice.pk).is_active
    helper_client.post(changelist, {"action": "reset_two_factor", "_selected_action": [staff.pk]})
    from accounts import twofactor

    assert twofactor.two_factor_enabled(staff)


def test_staff_see_an_administrators_page_but_can_not_change_it(helper_client, staff):
    url = reverse("admin:accounts_member_change", args=[staff.pk])
    assert helper_client.get(url).status_code == 200
    response = helper_client.post(url, {"display_name": "Owned", "is_active": "", "quota_mb": "1", "max_addresses": "1"})
    assert response.status_code == 403
    staff.refresh_from_db()
    assert staff.is_active and staff.display_name != "Owned"


def test_an_addresss_kind_and_owner_do_not_change_in_the_admin(staff_client, staff, alice):
    alias = services.add_alias(alice, "ally")
    response = staff_client.post(reverse("admin:accounts_address_change", args=[alias.pk]), {
        "local_part": "hijack", "kind": "redirection", "owner": staff.pk, "keep_copy": "",
        "targets-TOTAL_FORMS": "0", "targets-INITIAL_FORMS": "0"})
    assert response.status_code == 302
    alias.refresh_from_db()
    assert (alias.local_part, alias.kind, alias.owner_id) == ("ally", "alias", alice.pk)


def test_staff_can_not_change_or_delete_an_administrators_addresses(helper_client, staff):
    mailbox = Address.objects.get(owner=staff)
    assert helper_client.post(reverse("admin:accounts_address_change", args=[mailbox.pk]), {
        "keep_copy": "on", "targets-TOTAL_FORMS": "0", "targets-INITIAL_FORMS": "0"}).status_code == 403
    assert helper_client.post(reverse("admin:accounts_address_delete", args=[mailbox.pk]), {"post": "yes"}).status_code == 403
    assert Address.objects.filter(pk=mailbox.pk).exists()


def test_only_superusers_write_the_global_rules(helper_client, staff):
    from filters.models import GlobalRule
    from tests.helpers import restore_shipped_global_rules

    rule = restore_shipped_global_rules()[0]
    url = reverse("admin:filters_globalrule_change", args=[rule.pk])
    assert helper_client.get(url).status_code == 200  # may read it
    response = helper_client.post(url, {"description": "x", "script": "discard;", "offered": "on"})
    assert response.status_code == 403
    assert GlobalRule.objects.get(pk=rule.pk).script == rule.script
    assert helper_client.get(reverse("admin:filters_globalrule_add")).status_code == 403


@pytest.mark.django_db(transaction=True)
def test_the_member_list_fits_a_1280_pixel_screen(page, staff, make_member):
    # The columns an admin scans (usage, addresses, state) must be there without scrolling sideways,
    # also for members with long addresses and names.
    make_member("a-member-with-a-rather-long-address-for-the-list", display_name="Somebody With A Long Display Name")
    make_member("carol", display_name="Carol")
    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto("/login/")
    page.fill("#id_username", staff.email)
    page.fill("#id_password", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url("**/account/")
    page.goto(reverse("admin:accounts_member_changelist"))
    assert page.locator("#result_list").is_visible()
    # The list scrolls inside its own box: every column must be within that box, not just the window.
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280
    box = page.eval_on_selector(".results", "e => ({right: e.getBoundingClientRect().right, fits: e.scrollWidth <= e.clientWidth})")
    assert box["fits"] and box["right"] <= 1280
    rights = page.eval_on_selector_all("#result_list th, #result_list td",
                                       "els => els.map(e => e.getBoundingClientRect().right)")
    assert rights and max(rights) <= box["right"] + 0.5
