"""Middleware of the whole site: the Content-Security-Policy header, and the 503 page.

A backend that is down gets a clear 503 page, never a stack trace.

What counts as "down" is decided once, by duckmail.lib.errors.unavailable_service: our
protocol modules' BackendUnavailable, and PostgreSQL's or Redis's connection errors.
Failures in a view reach the middleware below; failures before the view (the session or
the logged-in member read from a database that is down) reach Django's 500 handler,
which is `server_error` below.
"""

import logging
import sys

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.shortcuts import render
from django.views import defaults

from duckmail.lib.errors import unavailable_service

log = logging.getLogger(__name__)


def backend_unavailable(request, service: str):
    """The 503 page. With the database down nothing may read it again: no member, no messages."""
    if service == "database":
        request.user = AnonymousUser()
        request._messages = []  # what django.contrib.messages reads; its storage needs the session
    response = render(request, "backend_unavailable.html", {"service": service}, status=503)
    response["Retry-After"] = "30"
    return response


class ContentSecurityPolicyMiddleware:
    """Every answer carries settings.CONTENT_SECURITY_POLICY: scripts, styles and images only
    from the site itself, no inline script, and no framing of the site by anyone."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", settings.CONTENT_SECURITY_POLICY)
        return response


class BackendUnavailableMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        service = unavailable_service(exception)
        if service is None:
            return None
        log.warning("%s unavailable on %s: %s", service, request.path, exception)
        return backend_unavailable(request, service)


def server_error(request):
    """Django's handler500: the 503 page when the failure was a backend being down."""
    service = unavailable_service(sys.exc_info()[1])
    if service is not None:
        log.warning("%s unavailable on %s before the view: %s", service, request.path, sys.exc_info()[1])
        return backend_unavailable(request, service)
    return defaults.server_error(request)
