"""The outbox: a mail the service owes a member survives Redis down, a lost worker and Dovecot down,
and is delivered once."""

import logging
import os
import subprocess
import sys
import threading
import time
from datetime import timedelta

import pytest
from django.conf import settings
from django.db import connection, connections
from django.urls import reverse
from django.utils import timezone

from accounts import outbox, services
from accounts.models import AuditAction, AuditLog, OutboxMail
from accounts.tasks import refresh_quota_usage, send_security_notice, sweep_outbox
from duckmail.lib import lmtp
from tests.helpers import PASSWORD, imap_login, lmtp_send, make_mail, subjects

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("as_worker")]

NEW_PASSWORD = "New-Passw0rd-here"
NOTICE = "Security notice: Your password was changed"
CLOSED_PORT = 1  # nothing listens (tests/conftest.py)


@pytest.fixture
def lmtp_down(mail_stack, settings):
    """Dovecot's LMTP unreachable until the test calls the fixture's result."""
    port = settings.LMTP_PORT
    settings.LMTP_PORT = CLOSED_PORT

    def back_up():
        settings.LMTP_PORT = port

    return back_up


def time_passes() -> None:
    """The backoff is over: every unsent mail is due."""
    OutboxMail.objects.filter(sent_at__isnull=True).update(next_attempt_at=timezone.now())


def test_a_change_made_while_redis_is_down_is_announced_by_the_sweep(mail_stack, alice):
    # A real web process whose broker is unreachable (not the test's eager Celery): it makes
    # the change, and queueing its delivery fails.
    script = (
        "from accounts import services\n"
        "from accounts.models import Member\n"
        f"services.change_password(Member.objects.get(email='alice@duckmail.test'), {NEW_PASSWORD!r})\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "DUCKMAIL_CELERY_EAGER"}
    env.update(DUCKMAIL_DEBUG="1", DUCKMAIL_REDIS_URL=f"redis://127.0.0.1:{CLOSED_PORT}/0",
               DUCKMAIL_DB_NAME=connection.settings_dict["NAME"], DUCKMAIL_MAILCONFIG_DIR=settings.MAILCONFIG_DIR)
    result = subprocess.run([sys.executable, "manage.py", "shell", "-c", script], env=env, cwd=settings.BASE_DIR,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "could not queue accounts.tasks.deliver_outbox_mail" in result.stderr + result.stdout
    mail = OutboxMail.objects.get()
    assert (mail.recipient, mail.kind, mail.sent_at, mail.attempts) == ("alice@duckmail.test", "security_notice", None, 0)
    assert subjects("alice@duckmail.test", NEW_PASSWORD) == []

    assert sweep_outbox() == 1
    assert subjects("alice@duckmail.test", NEW_PASSWORD) == [NOTICE]
    assert OutboxMail.objects.get().sent_at is not None


def test_with_dovecot_down_the_mail_waits_and_is_delivered_once_when_it_is_back(lmtp_down, alice):
    services.change_password(alice, NEW_PASSWORD)
    mail = OutboxMail.objects.get()
    assert mail.sent_at is None and mail.attempts == 1
    assert "Connection refused" in mail.last_error
    assert mail.next_attempt_at > timezone.now() + timedelta(seconds=50)
    assert sweep_outbox() == 0  # not due yet

    time_passes()
    assert sweep_outbox() == 0  # still down: tried again, waits twice as long
    mail.refresh_from_db()
    assert mail.attempts == 2 and mail.sent_at is None
    assert mail.next_attempt_at > timezone.now() + timedelta(seconds=110)

    lmtp_down()  # Dovecot is back
    assert sweep_outbox() == 0  # the backoff still holds
    time_passes()
    assert sweep_outbox() == 1
    assert sweep_outbox() == 0
    time_passes()
    assert sweep_outbox() == 0
    assert subjects("alice@duckmail.test", NEW_PASSWORD) == [NOTICE]
    mail.refresh_from_db()
    assert mail.sent_at is not None and mail.attempts == 3 and mail.last_error == ""


def test_two_workers_delivering_one_mail_send_it_once(lmtp_down, alice, monkeypatch):
    services.change_password(alice, NEW_PASSWORD)
    pk = OutboxMail.objects.get().pk
    lmtp_down()
    real_deliver = lmtp.deliver

    def slow_deliver(*args, **kwargs):
        real_deliver(*args, **kwargs)
        time.sleep(0.5)  # the other worker arrives while this one holds the row

    monkeypatch.setattr(lmtp, "deliver", slow_deliver)
    start = threading.Barrier(2)
    results = []

    def worker():
        try:
            start.wait()
            results.append(outbox.deliver(pk))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(results) == [False, True]
    assert outbox.deliver(pk) is False  # and once more, later
    assert subjects("alice@duckmail.test", NEW_PASSWORD) == [NOTICE]


def test_the_mail_delivered_late_is_the_one_written_at_the_change(lmtp_down, alice):
    # Built when the change was made, Message-ID included: any late copy is recognisably that mail.
    services.change_password(alice, NEW_PASSWORD)
    mail = OutboxMail.objects.get()
    lmtp_down()
    time_passes()
    assert sweep_outbox() == 1
    imap = imap_login("alice@duckmail.test", NEW_PASSWORD)
    try:
        imap.select("INBOX", readonly=True)
        _, data = imap.fetch("1", "(BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
    finally:
        imap.logout()
    assert data[0][1].decode().split(":", 1)[1].strip() == mail.message_id


def test_mail_to_a_member_disabled_or_deleted_meanwhile_is_dropped(lmtp_down, alice, bob, caplog):
    services.change_password(alice, NEW_PASSWORD)
    services.change_password(bob, NEW_PASSWORD)
    services.set_member_active(alice, False, actor=None)
    bob.delete()
    lmtp_down()
    time_passes()
    with caplog.at_level(logging.WARNING, logger="accounts.outbox"):
        assert sweep_outbox() == 0
    dropped = {m.recipient: m for m in OutboxMail.objects.all()}
    assert dropped["alice@duckmail.test"].last_error == "member disabled"
    assert dropped["bob@duckmail.test"].last_error == "member deleted"
    assert all(m.dropped_at is not None and m.sent_at is None and m.attempts == 1 for m in dropped.values())
    assert "dropped outbox mail" in caplog.text
    # Not retried, even once the member is back.
    services.set_member_active(alice, True, actor=None)
    time_passes()
    assert sweep_outbox() == 0
    assert subjects("alice@duckmail.test", NEW_PASSWORD) == []


def test_the_sweep_takes_the_oldest_first_and_stops_at_an_unreachable_server(lmtp_down, alice, bob, stranger):
    for member in (alice, bob, stranger):
        services.change_password(member, NEW_PASSWORD)
    time_passes()
    assert sweep_outbox() == 0
    # One knock on the closed door, not one per mail.
    assert sorted(OutboxMail.objects.values_list("attempts", flat=True)) == [1, 1, 2]
    assert OutboxMail.objects.get(attempts=2).recipient == "alice@duckmail.test"
    lmtp_down()
    time_passes()
    assert outbox.sweep(batch=2) == 2
    assert OutboxMail.objects.get(sent_at__isnull=True).recipient == "mallory@duckmail.test"
    assert sweep_outbox() == 1


def test_the_retry_delay_doubles_up_to_an_hour():
    assert [outbox.retry_delay(n) for n in (1, 2, 3)] == [timedelta(minutes=1), timedelta(minutes=2),
                                                          timedelta(minutes=4)]
    assert outbox.retry_delay(30) == outbox.retry_delay(10_000) == timedelta(hours=1)


def test_sent_mail_is_purged_after_the_keep_days(mail_stack, alice, bob, settings):
    settings.OUTBOX_KEEP_DAYS = 7
    services.change_password(alice, NEW_PASSWORD)
    services.change_password(bob, NEW_PASSWORD)
    OutboxMail.objects.filter(recipient="alice@duckmail.test").update(sent_at=timezone.now() - timedelta(days=8))
    assert sweep_outbox() == 0
    assert list(OutboxMail.objects.values_list("recipient", flat=True)) == ["bob@duckmail.test"]


def test_a_quota_warning_survives_dovecot_down_without_re_arming_the_level(mail_stack, alice, settings):
    services.set_quota(alice, 1, actor=None)
    lmtp_send("alice@duckmail.test", make_mail("alice@duckmail.test", "Filler", "a" * 860_000))
    port = settings.LMTP_PORT
    settings.LMTP_PORT = CLOSED_PORT
    assert refresh_quota_usage(alice.pk) == 80
    assert refresh_quota_usage(alice.pk) is None  # the level is warned about, in the outbox
    warning = OutboxMail.objects.get(kind="quota_warning")
    assert warning.sent_at is None and warning.last_error
    settings.LMTP_PORT = port
    time_passes()
    assert sweep_outbox() == 1
    assert sum(s.startswith("Your mailbox is 8") for s in subjects("alice@duckmail.test", PASSWORD)) == 1


def test_a_security_notice_queued_before_the_upgrade_goes_through_the_outbox(mail_stack, alice):
    # What the code before the outbox left: an audit entry and a task in Redis, no outbox row.
    entry = AuditLog.objects.create(action=AuditAction.MEMBER_PASSWORD_CHANGED, actor=alice, member=alice)
    send_security_notice(entry.pk)
    assert OutboxMail.objects.get().sent_at is not None
    assert subjects("alice@duckmail.test", PASSWORD) == [NOTICE]


def test_admins_see_the_outbox_and_can_not_change_it(lmtp_down, alice, admin_client):
    services.change_password(alice, NEW_PASSWORD)
    mail = OutboxMail.objects.get()
    page = admin_client.get(reverse("admin:accounts_outboxmail_changelist")).content.decode()
    assert "alice@duckmail.test" in page and "Connection refused" in page
    assert admin_client.get(reverse("admin:accounts_outboxmail_change", args=[mail.pk])).status_code == 200
    assert admin_client.post(reverse("admin:accounts_outboxmail_delete", args=[mail.pk]), {"post": "yes"}).status_code == 403
    assert OutboxMail.objects.filter(pk=mail.pk).exists()
