"""SMTP and LMTP: the one module that hands mail to a mail server."""

import smtplib
from email.message import EmailMessage

from django.conf import settings

from .errors import BackendUnavailable


class DeliveryError(BackendUnavailable):
    """The server did not accept the mail (or could not be reached); the sender keeps it and retries."""

    service = "mail delivery service"


def deliver(recipient: str, message: bytes | EmailMessage, *, sender: str = "") -> None:
    """Deliver one message to a local mailbox over Dovecot's LMTP."""
    data = message.as_bytes() if isinstance(message, EmailMessage) else message
    try:
        with smtplib.LMTP(settings.MAIL_HOST, settings.LMTP_PORT, timeout=settings.MAIL_TIMEOUT) as lmtp:
            refused = lmtp.sendmail(sender or f"postmaster@{settings.SERVICE_DOMAIN}", [recipient], data)
    except (smtplib.SMTPException, OSError) as exc:
        raise DeliveryError(str(exc)) from exc
    if refused:
        raise DeliveryError(str(refused))
