"""Where to send the browser next: the one check of a `next` URL taken from a request.

Used by the login views and by the sudo-mode redirect, which both take a place to go on to
from the query string, a form field or the Referer header.
"""

from django.conf import settings
from django.http import HttpRequest
from django.shortcuts import resolve_url
from django.utils.http import url_has_allowed_host_and_scheme


def safe_next(request: HttpRequest, url: str | None) -> str:
    """A local path to go on to, or the account page.

    A bare word does not pass: `redirect()` would take it for a URL name (NoReverseMatch,
    a 500 on a crafted login link).
    """
    if url and url.startswith(("/", "http://", "https://")) and url_has_allowed_host_and_scheme(
        url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return url
    return resolve_url(settings.LOGIN_REDIRECT_URL)
