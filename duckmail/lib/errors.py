"""One error tree for backends that are down.

Every protocol module raises a subclass of `BackendUnavailable` when its server can not
be reached or fails (IMAP, ManageSieve, LMTP/SMTP, the throttle's Redis; clamd and DNS
when their modules come). Views that hold typed input catch the one base class and keep
the form; anything that escapes becomes the clear "try again shortly" page with status
503 (duckmail.middleware), never a stack trace.

Failures raised by libraries we do not wrap — PostgreSQL through the ORM, Redis through
Celery's publisher — are mapped by `unavailable_service`, the one place that decides
what counts as "a backend is down".
"""

from __future__ import annotations


class BackendUnavailable(Exception):
    """A server we depend on could not be reached or failed; nothing the member did is at fault."""

    service = "mail server"


def unavailable_service(exc: BaseException | None) -> str | None:
    """The name of the backend that `exc` says is down (for the 503 page), or None."""
    if exc is None:
        return None
    if isinstance(exc, BackendUnavailable):
        return exc.service
    # Imported here: this module is imported by the protocol modules, which must not pull
    # in the ORM or the broker client just to define their errors.
    from django.db import InterfaceError, OperationalError
    from kombu.exceptions import OperationalError as BrokerError
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import TimeoutError as RedisTimeoutError

    if isinstance(exc, (OperationalError, InterfaceError)):
        return "database"
    if isinstance(exc, (RedisConnectionError, RedisTimeoutError, BrokerError)):
        return "task queue"
    return None
