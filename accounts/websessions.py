"""The web's own logins to Dovecot: one token per web session, never a password, never the master user.

Passwords are checked once, tokens after that: the member proves who they are to the web
(password, then a code with 2FA). When a page first needs Dovecot
(IMAP, ManageSieve), the web mints a random token for that web session. The database
keeps only its SHA-256 (a `web` MailToken, bound to the session key, expiring with the
session, usable only from the web's own addresses, `WEB_MAIL_NETS`); the secret itself
lives only in an HttpOnly cookie in the member's browser. Dovecot checks it in the fast
token passdb, so the web acts with exactly the member's own rights, and a copy of the
database opens no mailbox.

Services reach Dovecot through accounts.mailaccess; the middleware below binds each
request there, so that services need no request argument. A token revoked meanwhile
(password change) is replaced once, transparently (`WebMailAuth.credentials(renew=True)`).
"""

import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.signals import user_logged_out
from django.core.exceptions import PermissionDenied
from django.dispatch import receiver
from django.utils import timezone

from . import mailaccess
from .models import MailToken, Member

SESSION_TOKEN_ID = "duckmail_mail_token_id"


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class WebMailAuth:
    """The mail credentials of one web request's member."""

    def __init__(self, request):
        self.request = request
        self.minted: str | None = None

    def credentials(self, member: Member, *, renew: bool = False) -> tuple[str, str]:
        if not self.request.user.is_authenticated or self.request.user.pk != member.pk:
            # A view may only ever act as the member who is logged in.
            raise PermissionDenied
        secret = None if renew else (self.minted or self.request.COOKIES.get(settings.WEB_MAIL_COOKIE_NAME))
        return member.email, secret or self._mint(member)

    def _mint(self, member: Member) -> str:
        session = self.request.session
        if not session.session_key:
            session.save()
        _revoke(session)
        secret = secrets.token_urlsafe(32)
        token = MailToken.objects.create(
            member=member,
            kind=MailToken.Kind.WEB_SESSION,
            name="Web session",
            token_hash=_hash(secret),
            session_key=session.session_key,
            expires_at=timezone.now() + timedelta(seconds=settings.SESSION_COOKIE_AGE),
            allow_nets=settings.WEB_MAIL_NETS,
        )
        # The session data, not the session key, ties the token to the session: the key
        # changes (cycle_key) at sudo confirmations and password changes, the data stays.
        session[SESSION_TOKEN_ID] = token.pk
        # Saved now: SessionMiddleware skips saving on a 5xx answer, and the token must
        # stay findable (and revocable at logout) whatever the response.
        session.save()
        session.modified = False  # (saved; the middleware need not save it again)
        self.minted = secret
        return secret


def _revoke(session) -> None:
    """Delete the web session's token (found by the id kept in the session, or its key)."""
    tokens = MailToken.objects.filter(kind=MailToken.Kind.WEB_SESSION)
    token_id = session.get(SESSION_TOKEN_ID)
    if token_id:
        revoked = tokens.filter(pk=token_id)
        mailaccess.forget_web_tokens(list(revoked.values_list("token_hash", flat=True)))
        revoked.delete()
    if session.session_key:
        revoked = tokens.filter(session_key=session.session_key)
        mailaccess.forget_web_tokens(list(revoked.values_list("token_hash", flat=True)))
        revoked.delete()


class WebMailAuthMiddleware:
    """Binds each request for accounts.mailaccess; hands a new token's secret to the browser."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        auth = WebMailAuth(request)
        name = settings.WEB_MAIL_COOKIE_NAME
        if request.user.is_authenticated and not request.COOKIES.get(name):
            # Minted before the view runs: a view may first reach Dovecot inside a
            # transaction, where Dovecot could not see a token written then.
            auth.credentials(request.user)
        with mailaccess.as_web_request(auth):
            response = self.get_response(request)
        if (
            not auth.minted
            and request.method == "POST"
            and request.user.is_authenticated
            and request.COOKIES.get(name)
            and not MailToken.objects.filter(pk=request.session.get(SESSION_TOKEN_ID) or 0).exists()
        ):
            # This request revoked the session's token (a password change keeps the
            # session but ends its mail access): drop the cookie, so that the next request
            # mints a new token before its view runs.
            response.delete_cookie(name, samesite="Lax")
        elif auth.minted and request.user.is_authenticated:
            response.set_cookie(
                name, auth.minted, max_age=settings.SESSION_COOKIE_AGE, secure=settings.SESSION_COOKIE_SECURE,
                httponly=True, samesite="Lax",
            )
        elif name in request.COOKIES and not request.user.is_authenticated:
            response.delete_cookie(name, samesite="Lax")
        return response


@receiver(user_logged_out)
def revoke_on_logout(sender, request, user, **kwargs) -> None:
    if request is not None:
        _revoke(request.session)


def purge_expired() -> int:
    """Delete expired tokens (web sessions that were never logged out of)."""
    deleted, _ = MailToken.objects.filter(expires_at__lt=timezone.now()).delete()
    return deleted
