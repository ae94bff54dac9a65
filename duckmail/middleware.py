import logging

from django.shortcuts import render

from duckmail.lib.errors import BackendUnavailable

log = logging.getLogger(__name__)


class BackendUnavailableMiddleware:
    """Turn an unreachable backend into a clear 503 page instead of a stack trace."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if isinstance(exception, BackendUnavailable):
            log.warning("backend unavailable on %s: %s", request.path, exception)
            return render(request, "backend_unavailable.html", {"service": exception.service}, status=503)
        return None
