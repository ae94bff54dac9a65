"""Sudo mode: when this web session last proved the member's password.

Sensitive changes ask for the password again once SUDO_MODE_SECONDS have passed since then
(accounts.decorators holds the check for views). Every login counts as a fresh proof.
"""

import time

from django.conf import settings
from django.http import HttpRequest

AUTH_AT_KEY = "duckmail_auth_at"


def mark_authenticated(request: HttpRequest) -> None:
    """Remember when this session last proved the password (sudo mode counts from here)."""
    request.session[AUTH_AT_KEY] = int(time.time())


def on_user_logged_in(sender, request, user, **kwargs) -> None:
    # Every login (including the second step of a 2FA login) is a fresh authentication.
    if request is not None and hasattr(request, "session"):
        mark_authenticated(request)


def sudo_is_fresh(request: HttpRequest) -> bool:
    auth_at = request.session.get(AUTH_AT_KEY)
    return isinstance(auth_at, int) and time.time() - auth_at < settings.SUDO_MODE_SECONDS
