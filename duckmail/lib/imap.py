"""IMAP: the one module that talks IMAP to Dovecot (imapclient).

It knows the protocol, not who may use it: which credentials a session logs in with
(the web session's token, or the workers' master user) is decided by
accounts.mailaccess, the only caller that opens sessions.

`session()` is one login for one unit of work (workers). `Pool` keeps logged-in
connections between web requests, one per web session: a login, a SELECT of a big folder
and its first body read cost far more than the command a page needs, so a page must not
repeat them.
"""

import imaplib
import select
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from django.conf import settings
from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientAbortError, IMAPClientError

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


def connect(username: str, password: str, *, client_ip: str | None = None, host: str | None = None,
            port: int | None = None) -> IMAPClient:
    """A logged-in IMAP connection (the caller logs it out: `logout()`).

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
        if client_ip:
            client.id_({"x-originating-ip": client_ip})
        client.login(username, password)
    except IMAPClientAbortError as exc:
        logout(client)
        raise MailServerError(f"The mail server closed the connection ({exc}).") from exc
    except IMAPClientError as exc:
        logout(client)
        raise LoginFailed(str(exc)) from exc
    except OSError as exc:
        logout(client)
        raise MailServerError(f"The mail server is not reachable ({exc}).") from exc
    return client


def logout(client: IMAPClient) -> None:
    """Log out, or just drop a connection that is broken already."""
    try:
        client.logout()
    except (IMAPClientError, OSError):
        try:
            client.shutdown()
        except (IMAPClientError, OSError):
            pass


@contextmanager
def session(username: str, password: str, *, client_ip: str | None = None, host: str | None = None,
            port: int | None = None):
    """An authenticated IMAP session for one unit of work; logs out at the end."""
    client = connect(username, password, client_ip=client_ip, host=host, port=port)
    try:
        yield client
    finally:
        logout(client)


# What says that a connection is gone rather than that one command was refused.
BROKEN = (IMAPClientAbortError, imaplib.IMAP4.abort, OSError)


@dataclass(eq=False)
class _Kept:
    key: str
    client: IMAPClient
    last_used: float = field(default_factory=time.monotonic)
    busy: bool = True


class Pool:
    """Logged-in IMAP connections kept between requests, one per key (a web session), thread-safe.

    At most `size` connections are kept in this process (the least recently used idle one
    makes room; when all are busy a request gets a connection of its own for its
    duration). One request at a time uses a kept connection; a second request of the same
    key meanwhile (parallel htmx requests) gets a connection of its own too. A connection
    idle for longer than `idle_seconds` is logged out at the next checkout (of any key).
    A kept connection that the server closed meanwhile (Dovecot restarted, the member
    kicked) is noticed before it is handed out, without a round trip, and replaced; one
    that breaks while in use is dropped and the error goes to the caller.
    """

    def __init__(self, size: int, idle_seconds: float):
        self.size = size
        self.idle_seconds = idle_seconds
        self._lock = threading.Lock()
        self._kept: dict[str, _Kept] = {}

    def __len__(self) -> int:
        return len(self._kept)

    @contextmanager
    def connection(self, key: str, connect: Callable[[], IMAPClient],
                   still_valid: Callable[[], bool] = lambda: True) -> Iterator[IMAPClient]:
        """A logged-in connection for `key`: the kept one, or a new one from `connect()`.

        `still_valid()` is asked before a kept connection is reused (the credentials it
        logged in with may have been revoked since); False drops it and raises nothing:
        `connect()` then decides."""
        kept, retired = self._checkout(key)
        for old in retired:
            logout(old.client)
        if kept is not None and not (self._alive(kept.client) and still_valid()):
            self._forget(kept)
            logout(kept.client)
            kept = None
        if kept is None:
            client = connect()
            kept = self._keep(key, client)
        else:
            client = kept.client
        try:
            yield client
        except BROKEN:
            self._drop(kept, client)
            raise
        except BaseException:
            self._release(kept, client)
            raise
        else:
            self._release(kept, client)

    def discard(self, key: str) -> None:
        """Log out the connection kept for `key` (logout, a revoked token); a busy one goes when released."""
        with self._lock:
            kept = self._kept.get(key)
            if kept is None:
                return
            del self._kept[key]
            busy = kept.busy
        if not busy:
            logout(kept.client)

    def close_all(self) -> None:
        with self._lock:
            idle = [k for k in self._kept.values() if not k.busy]
            self._kept.clear()
        for kept in idle:
            logout(kept.client)

    # The bookkeeping, under the lock. No network I/O happens while it is held.

    def _checkout(self, key: str) -> tuple[_Kept | None, list[_Kept]]:
        now = time.monotonic()
        with self._lock:
            retired = [k for k in self._kept.values() if not k.busy and now - k.last_used > self.idle_seconds]
            for k in retired:
                del self._kept[k.key]
            kept = self._kept.get(key)
            if kept is not None and not kept.busy:
                kept.busy = True
                return kept, retired
            return None, retired

    def _keep(self, key: str, client: IMAPClient) -> _Kept | None:
        """Keep the new connection if there is (or can be made) room; None: it is the request's own."""
        evicted = None
        with self._lock:
            if key in self._kept:
                return None  # the key's kept connection is busy with another request
            if len(self._kept) >= self.size:
                idle = [k for k in self._kept.values() if not k.busy]
                if not idle:
                    return None
                evicted = min(idle, key=lambda k: k.last_used)
                del self._kept[evicted.key]
            kept = self._kept[key] = _Kept(key, client)
        if evicted is not None:
            logout(evicted.client)
        return kept

    def _forget(self, kept: _Kept) -> None:
        with self._lock:
            if self._kept.get(kept.key) is kept:
                del self._kept[kept.key]

    def _release(self, kept: _Kept | None, client: IMAPClient) -> None:
        if kept is not None:
            with self._lock:
                if self._kept.get(kept.key) is kept:
                    kept.busy = False
                    kept.last_used = time.monotonic()
                    return
        logout(client)  # the request's own, or discarded while in use

    def _drop(self, kept: _Kept | None, client: IMAPClient) -> None:
        if kept is not None:
            self._forget(kept)
        logout(client)

    @staticmethod
    def _alive(client: IMAPClient) -> bool:
        """Whether the server still has this connection. An idle IMAP connection receives
        nothing unasked, so anything readable (EOF, or an untagged BYE) means it is gone."""
        try:
            sock = client.socket()
            readable, _, _ = select.select([sock], [], [], 0)
        except (OSError, ValueError):
            return False
        return not readable


def quota_usage(client: IMAPClient) -> QuotaUsage:
    """STORAGE usage and limit of the INBOX quota root, in KiB."""
    _roots, quotas = client.get_quota_root("INBOX")
    for quota in quotas:
        if quota.resource.upper() == "STORAGE":
            return QuotaUsage(used_kb=int(quota.usage), limit_kb=int(quota.limit))
    return QuotaUsage(used_kb=0, limit_kb=None)
