"""Quotas: the database says, Dovecot enforces and reports, the account page shows."""

import pytest
from django.urls import reverse

from accounts import services
from accounts.models import AuditLog, Member, QuotaRequest
from accounts.tasks import refresh_quota_usage
from tests.helpers import PASSWORD, imap_login, lmtp_send, make_mail, subjects

# Tasks called straight from a test run as the workers they are written for.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("as_worker")]


def dovecot_quota(email: str) -> tuple[int, int]:
    imap = imap_login(email, PASSWORD)
    try:
        _, data = imap.getquotaroot("INBOX")
    finally:
        imap.logout()
    # [b'INBOX "User quota"'], [b'"User quota" (STORAGE used limit)']
    used, limit = data[1][0].decode().split("STORAGE ")[1].rstrip(")").split()
    return int(used), int(limit)


def test_dovecot_enforces_the_quota_from_the_database_before_and_after_approval(mail_stack, alice, admin_client):
    assert dovecot_quota("alice@duckmail.test") == (0, 512 * 1024)
    services.request_quota(alice, 2048, "Duck photos")
    qr = QuotaRequest.objects.get(member=alice)
    response = admin_client.post(reverse("admin:accounts_quotarequest_changelist"),
                                 {"action": "approve", "_selected_action": [qr.pk]})
    assert response.status_code == 302
    qr.refresh_from_db()
    assert qr.status == "approved" and qr.decided_by is not None
    assert Member.objects.get(pk=alice.pk).quota_mb == 2048
    used, limit = dovecot_quota("alice@duckmail.test")
    assert limit == 2048 * 1024
    assert AuditLog.objects.filter(action="quota.request_approved", member=alice).exists()
    # The member hears about it in their INBOX.
    assert subjects("alice@duckmail.test", PASSWORD) == ["More space for your mailbox: 2048 MB"]


def test_a_rejected_request_changes_nothing(mail_stack, alice, admin_client):
    services.request_quota(alice, 2048, "Duck photos")
    qr = QuotaRequest.objects.get(member=alice)
    admin_client.post(reverse("admin:accounts_quotarequest_changelist"), {"action": "reject", "_selected_action": [qr.pk]})
    assert QuotaRequest.objects.get(pk=qr.pk).status == "rejected"
    assert dovecot_quota("alice@duckmail.test")[1] == 512 * 1024
    assert subjects("alice@duckmail.test", PASSWORD) == ["Your request for more mailbox space"]


def test_usage_on_the_account_page_follows_a_delivery(mail_stack, alice, alice_client):
    # Never measured: the page says so (and asks a worker for the figure).
    assert b"Usage is being measured" in alice_client.get(reverse("account")).content
    assert b"0.0 MB of 512 MB used" in alice_client.get(reverse("account")).content
    lmtp_send("alice@duckmail.test", make_mail("alice@duckmail.test", "Big", "duck " * 120_000))
    refresh_quota_usage(alice.pk)
    page = alice_client.get(reverse("account")).content.decode()
    used_kb, _ = dovecot_quota("alice@duckmail.test")
    assert used_kb > 500
    assert f"{round(used_kb / 1024, 1)} MB of 512 MB used" in page


def test_members_are_warned_at_80_and_95_percent_once_each(mail_stack, alice, alice_client):
    services.set_quota(alice, 1, actor=None)  # 1 MB
    lmtp_send("alice@duckmail.test", make_mail("alice@duckmail.test", "Filler", "a" * 860_000))
    assert refresh_quota_usage(alice.pk) == 80
    page = alice_client.get(reverse("account")).content.decode()
    assert "Your mailbox is 8" in page and "% full" in page
    assert "Your mailbox is 8" in " ".join(subjects("alice@duckmail.test", PASSWORD))
    # No second mail for the same level.
    assert refresh_quota_usage(alice.pk) is None
    lmtp_send("alice@duckmail.test", make_mail("alice@duckmail.test", "More", "b" * 110_000))
    assert refresh_quota_usage(alice.pk) == 95
    warnings = [s for s in subjects("alice@duckmail.test", PASSWORD) if s.startswith("Your mailbox is")]
    assert len(warnings) == 2
    assert AuditLog.objects.filter(action="quota.warning_sent", member=alice).count() == 2


def test_mail_over_quota_is_refused(mail_stack, alice):
    import smtplib

    services.set_quota(alice, 1, actor=None)
    with pytest.raises(smtplib.SMTPDataError) as exc:
        lmtp_send("alice@duckmail.test", make_mail("alice@duckmail.test", "Too big", "c" * 1_200_000))
    assert b"quota" in exc.value.smtp_error.lower()


def test_visiting_the_account_page_refreshes_a_stale_usage_figure(mail_stack, alice, alice_client):
    from datetime import timedelta

    from django.utils import timezone

    lmtp_send("alice@duckmail.test", make_mail("alice@duckmail.test", "Big", "duck " * 120_000))
    alice_client.get(reverse("account"))  # queues a refresh (run inline in tests)
    alice.refresh_from_db()
    assert alice.quota_used_kb > 500 and alice.quota_checked_at is not None
    # A fresh figure is not asked for again.
    Member.objects.filter(pk=alice.pk).update(quota_used_kb=1)
    alice_client.get(reverse("account"))
    assert Member.objects.get(pk=alice.pk).quota_used_kb == 1
    Member.objects.filter(pk=alice.pk).update(quota_checked_at=timezone.now() - timedelta(minutes=6))
    alice_client.get(reverse("account"))
    assert Member.objects.get(pk=alice.pk).quota_used_kb > 500
