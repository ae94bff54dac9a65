"""Mail the service itself writes to members: one small function per message."""

from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from django.conf import settings


def _message(to: str, subject: str, body: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = f"{settings.SERVICE_NAME} <postmaster@{settings.SERVICE_DOMAIN}>"
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = make_msgid(domain=settings.SERVICE_DOMAIN)
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(body)
    return msg


def quota_warning(to: str, percent: int, used_mb: float, quota_mb: int) -> EmailMessage:
    return _message(
        to,
        f"Your mailbox is {percent} % full",
        f"Hello,\n\nyour mailbox {to} uses {used_mb} MB of its {quota_mb} MB ({percent} %).\n\n"
        "When it is full, new mail is refused and sent back to its senders. Please delete mail\n"
        "you no longer need (and empty the Trash), or ask for more space on your account page.\n\n"
        f"— {settings.SERVICE_NAME}\n",
    )


def quota_decision(to: str, approved: bool, requested_mb: int, quota_mb: int, note: str = "") -> EmailMessage:
    if approved:
        subject = f"More space for your mailbox: {quota_mb} MB"
        text = f"your request was approved: your mailbox {to} now has {quota_mb} MB."
    else:
        subject = "Your request for more mailbox space"
        text = f"your request for {requested_mb} MB was not approved; your mailbox keeps its {quota_mb} MB."
    body = f"Hello,\n\n{text}\n"
    if note:
        body += f"\nThe administrators wrote: {note}\n"
    body += f"\n— {settings.SERVICE_NAME}\n"
    return _message(to, subject, body)


def security_notice(to: str, subject: str, what: str, when, *, by_admin: bool = False) -> EmailMessage:
    from django.utils import timezone

    stamp = timezone.localtime(when).strftime("%-d %B %Y at %H:%M %Z")
    if by_admin:
        advice = "This was done by an administrator of the service. Ask them if you want to know more."
    else:
        advice = (
            "If this was you, there is nothing to do.\n"
            "If it was not, someone else may know your password: change it now on the Password page,\n"
            "check the Settings page (two-factor authentication, app passwords), and tell the administrators."
        )
    return _message(
        to,
        f"Security notice: {subject}",
        f"Hello,\n\non {stamp}, {what} for your account {to}.\n\n{advice}\n\n— {settings.SERVICE_NAME}\n",
    )
