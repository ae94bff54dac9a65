"""Celery tasks: adapters that load by id and call a service."""

import logging

from celery import shared_task

from duckmail.lib import imap, lmtp

from . import outbox, services
from .models import AuditLog, Member, OutboxMail, QuotaRequest

log = logging.getLogger(__name__)


@shared_task(autoretry_for=(imap.MailServerError,), retry_backoff=30, max_retries=3, ignore_result=True)
def refresh_quota_usage(member_id: int) -> int | None:
    member = Member.objects.filter(pk=member_id, is_active=True).first()
    if member is None:
        return None
    return services.refresh_quota_usage(member)


@shared_task
def refresh_all_quota_usage() -> int:
    """Periodic (beat): queue a refresh for every enabled member with a mailbox."""
    ids = list(Member.objects.filter(is_active=True, addresses__kind="mailbox").values_list("pk", flat=True))
    for member_id in ids:
        refresh_quota_usage.delay(member_id)
    return len(ids)


@shared_task
def purge_expired_mail_tokens() -> int:
    """Periodic (beat): drop web-session tokens of sessions that simply expired."""
    from . import websessions

    return websessions.purge_expired()


@shared_task(ignore_result=True)
def deliver_outbox_mail(mail_id: int) -> bool:
    """Deliver one outbox mail as soon as its change committed. No retries of its own: a
    failure stays on the row, and sweep_outbox tries again when it is due."""
    try:
        return outbox.deliver(mail_id)
    except lmtp.DeliveryError:
        return False  # recorded on the row and logged


@shared_task(ignore_result=True)
def sweep_outbox() -> int:
    """Periodic (beat, every minute): deliver the outbox mails still unsent and due."""
    return outbox.sweep()


# Queued by the code before the outbox (issue 13) and possibly still in Redis at the upgrade:
# they now put their mail in the outbox. Remove them one release later.
@shared_task(ignore_result=True)
def send_security_notice(audit_id: int) -> None:
    entry = AuditLog.objects.select_related("member", "actor").filter(pk=audit_id).first()
    if entry is not None and entry.member is not None:
        outbox.queue_mail(entry.member, services.security_notice(entry), OutboxMail.Kind.SECURITY_NOTICE)


@shared_task(ignore_result=True)
def notify_quota_decision(request_id: int) -> None:
    qr = QuotaRequest.objects.select_related("member").filter(pk=request_id).first()
    if qr is not None and qr.status != QuotaRequest.Status.PENDING:
        outbox.queue_mail(qr.member, services.quota_decision(qr), OutboxMail.Kind.QUOTA_DECISION)
