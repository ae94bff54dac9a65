"""Celery tasks of the antispam: adapters that load by id and call a service."""

from celery import shared_task

from accounts.models import Member
from duckmail.lib import imap

from . import services


@shared_task(autoretry_for=(imap.MailServerError,), retry_backoff=60, max_retries=5, ignore_result=True)
def expire_junk(member_id: int) -> int | None:
    member = Member.objects.filter(pk=member_id, is_active=True).first()
    if member is None:
        return None
    return services.expire_junk(member).total


@shared_task
def expire_all_junk() -> int:
    """Periodic (beat): queue the Junk expiry of every enabled member with a mailbox."""
    ids = list(Member.objects.filter(is_active=True, addresses__kind="mailbox").values_list("pk", flat=True).distinct())
    for member_id in ids:
        expire_junk.delay(member_id)
    return len(ids)


@shared_task(autoretry_for=(imap.MailServerError,), retry_backoff=60, max_retries=5, ignore_result=True)
def train_sync_folders(member_id: int) -> int | None:
    member = Member.objects.filter(pk=member_id, is_active=True).first()
    if member is None:
        return None
    done = services.train_sync_folders(member)
    return done.spam + done.ham


@shared_task
def train_all_sync_folders() -> int:
    """Periodic (beat, every two hours): queue the Sync folders' training of every member."""
    ids = list(Member.objects.filter(is_active=True, addresses__kind="mailbox").values_list("pk", flat=True).distinct())
    for member_id in ids:
        train_sync_folders.delay(member_id)
    return len(ids)
