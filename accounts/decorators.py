"""View decorators of the accounts app: sudo mode (the password asked again before a change).

Other apps' views use them too (filters: a rule that forwards mail needs sudo mode).
"""

from functools import wraps
from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse

from .navigation import safe_next
from .sudo import sudo_is_fresh


def require_sudo_mode(view):
    """Ask for the password again if this session proved it more than SUDO_MODE_SECONDS ago.

    After confirming, the member comes back to the page (for a GET) or to the page the form
    was on (for a POST, whose data is not replayed: they submit again, knowingly).
    """

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        return sudo_redirect(request) or view(request, *args, **kwargs)

    return wrapped


def sudo_redirect(request: HttpRequest) -> HttpResponse | None:
    """None if this session proved the password recently, else the redirect to confirm it.

    For views that need sudo mode only for some requests (e.g. a filter rule that forwards mail).
    """
    if sudo_is_fresh(request):
        return None
    came_from = safe_next(request, request.META.get("HTTP_REFERER"))
    back = request.get_full_path() if request.method == "GET" else came_from
    # "Cancel" on the sudo page goes back to where the member was, never to a page
    # that would ask again.
    return redirect(f"{reverse('sudo')}?{urlencode({'next': back, 'cancel': came_from})}")
