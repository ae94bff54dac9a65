"""The Django admin: members, addresses, quota requests, audit log."""

import imaplib

import pytest
from django.urls import reverse

from accounts import services
from accounts.models import Address, AuditLog, Member
from tests.conftest import PASSWORD
from tests.helpers import imap_login


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
    for name in ("member", "domain", "address", "quotarequest", "auditlog"):
        url = reverse(f"admin:accounts_{name}_changelist")
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
