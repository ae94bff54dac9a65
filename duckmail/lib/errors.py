"""Errors shared by the protocol modules."""


class BackendUnavailable(Exception):
    """A server we depend on (Dovecot, Postfix, Redis) could not be reached or failed.

    Views that hold typed input catch it and re-render their form with a message; any
    that escapes becomes a clear "try again shortly" page (duckmail.middleware), never a
    stack trace.
    """

    service = "mail server"
