"""IMAP: the one module that talks IMAP to Dovecot (imapclient). Stateless.

It knows the protocol, not who may use it: which credentials a session logs in with
(the web session's token, or the workers' master user) is decided by
accounts.mailaccess, the only caller that opens sessions.
"""

from contextlib import contextmanager
from dataclasses import dataclass

from django.conf import settings
from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError

from .errors import BackendUnavailable


class MailServerError(BackendUnavailable):
    """Dovecot could not be reached or refused the request (not a bad password)."""

    service = "mail server (IMAP)"


class LoginFailed(Exception):
    """Dovecot refused the credentials."""


@dataclass(frozen=True)
class QuotaUsage:
    used_kb: int
    limit_kb: int | None


@contextmanager
def session(username: str, password: str, *, client_ip: str | None = None, host: str | None = None,
            port: int | None = None):
    """An authenticated IMAP session; logs out at the end.

    `client_ip`: the member's own address, passed with IMAP ID so that Dovecot (which
    trusts the web host, `login_trusted_networks`) logs it and keeps one member's failed
    logins from slowing down everyone else's.
    """
    try:
        client = IMAPClient(
            host or settings.MAIL_HOST, port=port or settings.IMAP_PORT, ssl=False, timeout=settings.MAIL_TIMEOUT
        )
    except OSError as exc:
        raise MailServerError(f"The mail server is not reachable ({exc}).") from exc
    try:
        try:
            if client_ip:
                client.id_({"x-originating-ip": client_ip})
            client.login(username, password)
        except IMAPClientError as exc:
            raise LoginFailed(str(exc)) from exc
        yield client
    finally:
        try:
            client.logout()
        except (IMAPClientError, OSError):
            pass


def quota_usage(client: IMAPClient) -> QuotaUsage:
    """STORAGE usage and limit of the INBOX quota root, in KiB."""
    _roots, quotas = client.get_quota_root("INBOX")
    for quota in quotas:
        if quota.resource.upper() == "STORAGE":
            return QuotaUsage(used_kb=int(quota.usage), limit_kb=int(quota.limit))
    return QuotaUsage(used_kb=0, limit_kb=None)
