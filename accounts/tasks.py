"""Celery tasks: adapters that load by id and call a service."""

import logging

from celery import shared_task

from duckmail.lib import imap, lmtp

from . import services
from .models import AuditLog, Member, QuotaRequest

log = logging.getLogger(__name__)


@shared_task(autoretry_for=(imap.MailServerError, lmtp.DeliveryError), retry_backoff=30, max_retries=3, ignore_result=True)
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


@shared_task(autoretry_for=(lmtp.DeliveryError,), retry_backoff=60, max_retries=5, ignore_result=True)
def notify_quota_decision(request_id: int) -> None:
    qr = QuotaRequest.objects.select_related("member").filter(pk=request_id).first()
    if qr is not None and qr.status != QuotaRequest.Status.PENDING:
        services.notify_quota_decision(qr)


@shared_task
def purge_expired_mail_tokens() -> int:
    """Periodic (beat): drop web-session tokens of sessions that simply expired."""
    from . import websessions

    return websessions.purge_expired()


@shared_task(autoretry_for=(lmtp.DeliveryError,), retry_backoff=60, max_retries=5, ignore_result=True)
def send_security_notice(audit_id: int) -> None:
    entry = AuditLog.objects.select_related("member", "actor").filter(pk=audit_id).first()
    if entry is not None and entry.member is not None and entry.member.is_active:
        services.send_security_notice(entry)
