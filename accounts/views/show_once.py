"""Secrets shown once, on the page a POST redirects to (POST-redirect-GET).

A new app password or new recovery codes are kept in the session by the view that made them
and taken out by the page that shows them, so a reload shows them no more.
"""

from django.http import HttpRequest

ONCE_KEY = "duckmail_show_once"


def keep_for_next_page(request: HttpRequest, **secrets_to_show) -> None:
    """Keep a one-time secret (new recovery codes, a new app password) in the session for
    the page the browser is redirected to, so that reloading that page never repeats the
    POST that made it (POST-redirect-GET)."""
    request.session[ONCE_KEY] = secrets_to_show


def take_for_this_page(request: HttpRequest) -> dict:
    """The one-time secrets kept by `keep_for_next_page`, removed from the session: shown once."""
    data = request.session.pop(ONCE_KEY, None)
    return data if isinstance(data, dict) else {}
