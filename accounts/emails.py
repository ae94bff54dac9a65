"""Mail the service itself writes to members: one small function per message.

The words live in templates, `emails/<name>-subject.txt` and `emails/<name>-body.txt`
(plain text; the subject is one line), so that they can be read and changed without
reading Python. Delivering them is the caller's (accounts.services, over LMTP).
"""

from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from django.conf import settings
from django.template.loader import render_to_string
from django.utils import timezone


def _message(name: str, to: str, **context) -> EmailMessage:
    context = {"to": to, "SERVICE_NAME": settings.SERVICE_NAME, **context}
    # A subject is one header line whatever the template's line breaks (and whatever a
    # value in it holds): no header can be injected through it.
    subject = " ".join(render_to_string(f"emails/{name}-subject.txt", context).split())
    msg = EmailMessage()
    msg["From"] = f"{settings.SERVICE_NAME} <postmaster@{settings.SERVICE_DOMAIN}>"
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = make_msgid(domain=settings.SERVICE_DOMAIN)
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(render_to_string(f"emails/{name}-body.txt", context).strip() + "\n")
    return msg


def quota_warning(to: str, percent: int, used_mb: float, quota_mb: int) -> EmailMessage:
    return _message("quota-warning", to, percent=percent, used_mb=used_mb, quota_mb=quota_mb)


def quota_decision(to: str, approved: bool, requested_mb: int, quota_mb: int, note: str = "") -> EmailMessage:
    return _message("quota-decision", to, approved=approved, requested_mb=requested_mb, quota_mb=quota_mb, note=note)


def security_notice(to: str, subject: str, what: str, when, *, by_admin: bool = False) -> EmailMessage:
    stamp = timezone.localtime(when).strftime("%-d %B %Y at %H:%M %Z")
    return _message("security-notice", to, subject=subject, what=what, stamp=stamp, by_admin=by_admin)
