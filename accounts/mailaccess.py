"""The one way to reach a member's mail on Dovecot (IMAP, ManageSieve): always as the member.

Who logs in is decided where a unit of work starts, never guessed:

- **A web request** is bound by `accounts.websessions.WebMailAuthMiddleware`. Dovecot
  sees the web session's own token (see accounts.websessions) and, over IMAP `ID`, the
  member's client address (the throttle's idea of it, so a proxy in front changes
  nothing), and a view can only ever act as the member who is logged in.
- **A worker** — every Celery task (bound by the task signals below), a management
  command, a test that calls services directly — enters `as_worker()`. Dovecot sees the
  workers' master user logged in *as* the member, so it still applies exactly that
  member's rights (ACLs, their own scripts only).

Services call `imap(member)` / `sieve(member)` and get whichever is bound. There is no
fallback: with nothing bound they raise `NoMailAccess`, and `as_worker()` inside a web
request raises `MasterUserInWebRequest` — the web must never hold more power than the
member. Every server failure, a refused login included (neither principal's credentials
are the member's to get wrong), is a `BackendUnavailable`.
"""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from contextvars import ContextVar, Token

from celery import signals
from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from duckmail.lib import imap as imap_protocol
from duckmail.lib import managesieve
from mailstack import credentials

from .models import MailToken, Member
from .throttle import client_address

# The web's kept IMAP connections in this process, one per web session's token (its hash
# is the key). Workers log in per unit of work instead: they run rarely per member.
web_pool = imap_protocol.Pool(settings.IMAP_POOL_SIZE, settings.IMAP_POOL_IDLE_SECONDS)


def _token_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _token_still_valid(token_hash: str, username: str) -> bool:
    # Revocation deletes the row (logout, password change, 2FA reset): a connection that
    # logged in with it must not outlive it, in this process or any other. And it is only
    # ever the token's own member's: another member's session presenting a copied cookie
    # must not be handed the connection that cookie's owner logged in.
    return (MailToken.objects.filter(token_hash=token_hash, kind=MailToken.Kind.WEB_SESSION, member__email=username)
            .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=timezone.now())).exists())


def forget_web_tokens(token_hashes) -> None:
    """Log out this process's kept connections of revoked web tokens (others notice at reuse)."""
    for token_hash in token_hashes:
        web_pool.discard(token_hash)


class NoMailAccess(RuntimeError):
    """Mail was asked for where no principal is bound (neither a web request nor a worker): a bug."""


class MasterUserInWebRequest(RuntimeError):
    """Code running for a web request asked for the master user: a bug, never a fallback."""


class _Worker:
    """Celery workers and commands: the master user, logged in as the member."""

    @staticmethod
    def imap(member: Member):
        return _refusal_is_unavailable(
            imap_protocol.session(credentials.master_login(member.email), credentials.master_password()),
            "The mail server refused the workers' master user.",
        )

    @staticmethod
    def sieve(member: Member):
        # A refused login is already a SieveUnavailable (a BackendUnavailable).
        return managesieve.session(credentials.master_login(member.email), credentials.master_password())


class _WebRequest:
    """A web request's member, through the web session's own token."""

    def __init__(self, auth):
        self.auth = auth  # accounts.websessions.WebMailAuth

    def _client_ip(self) -> str | None:
        address = client_address(self.auth.request)
        try:
            return str(ipaddress.ip_address(address))
        except ValueError:
            return None

    def imap(self, member: Member):
        return self._with_renewal(self._kept_imap, member, imap_protocol.LoginFailed, imap_protocol.MailServerError)

    def _kept_imap(self, username: str, secret: str):
        """The web session's kept connection (logged in on its first use, with the member's
        address of that moment for Dovecot's log)."""
        token_hash = _token_hash(secret)
        client_ip = self._client_ip()
        return web_pool.connection(
            token_hash,
            lambda: imap_protocol.connect(username, secret, client_ip=client_ip),
            lambda: _token_still_valid(token_hash, username),
        )

    def sieve(self, member: Member):
        return self._with_renewal(managesieve.session, member, managesieve.SieveLoginRefused,
                                  managesieve.SieveUnavailable)

    @contextmanager
    def _with_renewal(self, open_session, member: Member, login_refused: type[Exception],
                      unavailable: type[Exception], **kwargs) -> Iterator:
        with ExitStack() as stack:
            try:
                session = stack.enter_context(open_session(*self.auth.credentials(member), **kwargs))
            except login_refused:
                # The browser's token was revoked (say, by a password change in another
                # session): mint a fresh one for this still-valid web session, try once more.
                if transaction.get_connection().in_atomic_block:
                    # Dovecot would not see a token written inside an open transaction.
                    raise unavailable("Your web session's access to the mail server was renewed. "
                                      "Please reload the page and try again; nothing was changed.")
                try:
                    session = stack.enter_context(open_session(*self.auth.credentials(member, renew=True), **kwargs))
                except login_refused as exc:
                    raise unavailable(f"The mail server refused the web session's login ({exc}).") from exc
            yield session


_principal: ContextVar[_Worker | _WebRequest | None] = ContextVar("duckmail_mail_principal", default=None)


def _bound():
    principal = _principal.get()
    if principal is None:
        raise NoMailAccess("no mail principal is bound: use it from a web request, a Celery task, or as_worker()")
    return principal


def imap(member: Member):
    """An IMAP session (imapclient) as `member`, with the bound principal's credentials."""
    return _bound().imap(member)


def sieve(member: Member):
    """A ManageSieve session (duckmail.lib.managesieve.Session) as `member`."""
    return _bound().sieve(member)


@contextmanager
def as_worker() -> Iterator[None]:
    """Act as a worker (master user as the member) inside this block: commands and tests.

    Refused inside a web request.
    """
    if isinstance(_principal.get(), _WebRequest):
        raise MasterUserInWebRequest("the master user is for workers, not for web requests")
    token = _principal.set(_Worker())
    try:
        yield
    finally:
        _principal.reset(token)


@contextmanager
def as_web_request(auth) -> Iterator[None]:
    """Act as the member of the request behind `auth` (a websessions.WebMailAuth): the middleware."""
    token = _principal.set(_WebRequest(auth))
    try:
        yield
    finally:
        _principal.reset(token)


@contextmanager
def _refusal_is_unavailable(session_cm, message: str) -> Iterator:
    with ExitStack() as stack:
        try:
            client = stack.enter_context(session_cm)
        except imap_protocol.LoginFailed as exc:
            raise imap_protocol.MailServerError(f"{message} ({exc})") from exc
        yield client


# Every Celery task is a worker. An eager task (tests, CELERY_EAGER in development) runs
# inline, even inside a web request's thread, and is still worker code: the binding
# replaces the request's for the task's duration only.
_task_tokens: dict[str, Token] = {}


@signals.task_prerun.connect
def _bind_worker_for_task(task_id=None, **kwargs) -> None:
    _task_tokens[task_id] = _principal.set(_Worker())


@signals.task_postrun.connect
def _unbind_worker_after_task(task_id=None, **kwargs) -> None:
    token = _task_tokens.pop(task_id, None)
    if token is not None:
        _principal.reset(token)
