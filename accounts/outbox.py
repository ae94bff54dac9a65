"""The outbox: every mail the service owes a member, kept until Dovecot has it.

`queue_mail` writes the mail in the caller's transaction (so it exists exactly when the
change it tells of does) and hands its delivery to a worker once that commits. `deliver`
sends one row; `sweep` (every minute, from beat) retries whatever is still unsent and due.
A queueing failure (Redis down), a worker killed mid-task or Dovecot down for hours only
delays a mail: the row stays until it is delivered, or dropped because its member was
disabled or deleted meanwhile.

Never twice: a row is delivered only while locked (`SELECT … FOR UPDATE SKIP LOCKED`),
and only if `sent_at` is still empty; `sent_at` is set in that same transaction. So two
workers (the task and the sweep, or two sweeps) never send one row, and a sent row is
never sent again.
"""

import logging
import smtplib
import socket
from datetime import timedelta
from email.message import EmailMessage

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from duckmail.lib import lmtp
from duckmail.queue import enqueue_on_commit

from .models import Member, OutboxMail

log = logging.getLogger(__name__)

# Retry after 1, 2, 4, … minutes, at most an hour apart, for as long as the member exists.
RETRY_FIRST = timedelta(minutes=1)
RETRY_MAX = timedelta(hours=1)
# Rows one sweep tries at most (oldest first); the next sweep takes the rest.
SWEEP_BATCH = 100

# What an unreachable server raises (under DeliveryError): one such failure ends a sweep,
# as the rest of its batch would only wait for the same timeout.
_UNREACHABLE = (ConnectionError, TimeoutError, socket.gaierror, smtplib.SMTPServerDisconnected, smtplib.SMTPConnectError)


def queue_mail(member: Member, message: EmailMessage, kind: OutboxMail.Kind) -> OutboxMail:
    """Keep `message` for `member` in the current transaction; a worker delivers it after the commit."""
    mail = OutboxMail.objects.create(
        member=member, recipient=member.email, kind=kind, message=message.as_bytes(), message_id=message["Message-ID"],
    )
    enqueue_on_commit("accounts.tasks.deliver_outbox_mail", mail.pk)
    return mail


def retry_delay(attempts: int) -> timedelta:
    # The exponent is bounded: months of hourly retries must not overflow timedelta.
    return min(RETRY_MAX, RETRY_FIRST * 2 ** min(attempts - 1, 16))


def deliver(pk: int) -> bool:
    """Deliver one outbox mail unless it was sent, dropped, or is being sent by another worker.

    Returns whether it was delivered now. A delivery failure is recorded on the row (and
    raised as DeliveryError once that is committed); the sweep retries it later.
    """
    failure = None
    with transaction.atomic():
        mail = (
            OutboxMail.objects.select_for_update(skip_locked=True, of=("self",)).select_related("member")
            .filter(pk=pk, sent_at__isnull=True, dropped_at__isnull=True).first()
        )
        if mail is None:
            return False  # sent or dropped already, or another worker holds it right now
        now = timezone.now()
        if mail.member is None or not mail.member.is_active:
            mail.dropped_at = now
            mail.last_error = "member deleted" if mail.member is None else "member disabled"
            mail.save(update_fields=["dropped_at", "last_error"])
            log.warning("dropped outbox mail %s (%s) to %s: %s", mail.pk, mail.kind, mail.recipient, mail.last_error)
            return False
        mail.attempts += 1
        try:
            lmtp.deliver(mail.recipient, bytes(mail.message))
        except lmtp.DeliveryError as exc:
            failure = exc
            mail.last_error = str(exc)[:500]
            mail.next_attempt_at = now + retry_delay(mail.attempts)
            mail.save(update_fields=["attempts", "last_error", "next_attempt_at"])
            log.warning("outbox mail %s to %s not delivered (attempt %s, next at %s): %s",
                        mail.pk, mail.recipient, mail.attempts, mail.next_attempt_at, exc)
        else:
            # At least once, not exactly once: Dovecot has the mail from here on, and only
            # this UPDATE and the COMMIT make the row say so. If the process dies, or the
            # database goes away, in between, the row stays unsent and the sweep delivers it
            # again. Nothing else runs in that window, so it is milliseconds wide; and the
            # copy carries the same Message-ID (fixed when the row was written), so it is
            # recognisable as a duplicate.
            mail.sent_at = timezone.now()
            mail.last_error = ""
            mail.save(update_fields=["attempts", "last_error", "sent_at"])
    if failure is not None:
        raise failure  # after the commit: the attempt stays recorded
    return True


def sweep(batch: int = SWEEP_BATCH) -> int:
    """Deliver what is unsent and due, oldest first; purge what is done and old. Returns how many were sent."""
    purge()
    due = (
        OutboxMail.objects.filter(sent_at__isnull=True, dropped_at__isnull=True, next_attempt_at__lte=timezone.now())
        .order_by("created_at", "pk").values_list("pk", flat=True)[:batch]
    )
    sent = 0
    # One transaction per row: a row counts as sent as soon as it is, whatever happens to the rest.
    for pk in list(due):
        try:
            sent += deliver(pk)
        except lmtp.DeliveryError as exc:
            if isinstance(exc.__cause__, _UNREACHABLE):
                break
    return sent


def purge() -> int:
    """Drop rows sent or dropped more than OUTBOX_KEEP_DAYS ago (they stay that long for the admin)."""
    cutoff = timezone.now() - timedelta(days=settings.OUTBOX_KEEP_DAYS)
    deleted, _ = OutboxMail.objects.filter(Q(sent_at__lt=cutoff) | Q(dropped_at__lt=cutoff)).delete()
    return deleted
