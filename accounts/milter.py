"""The milter protocol adapter of the From: check (accounts/senders.py holds the rule).

Postfix asks it at the end of each message on the submission and reinjection services
(`smtpd_milters` in master.cf, each naming itself with `milter_macro_daemon_name`). It is
pymilter over Sendmail's libmilter: one instance per Postfix connection, its callbacks run
by libmilter's threads. Those are not one Python thread per connection (pymilter carries a
connection's thread state from one OS thread to the next), which Django's per-thread
database connections can not bear; so the lookups run in a small pool of ordinary threads
of our own, each keeping its database connection.

Nothing unchecked gets through: a refusal is a permanent 550 at end of data, any failure
(PostgreSQL down, a bug) a temporary 451 so the client keeps the mail and tries again;
when this process is not running at all, Postfix's `milter_default_action = tempfail`
does the same.
"""

import logging
from concurrent.futures import ThreadPoolExecutor

import Milter
from django.db import connection

from . import senders

log = logging.getLogger(__name__)

# milter_macro_daemon_name of the reinjection service in master.cf.
REINJECT_SERVICE = "reinject"


_database_threads = ThreadPoolExecutor(max_workers=4, thread_name_prefix="sender-check")


def _with_database(check, *args):
    """Run check(*args) in one of our database threads, and wait for it."""

    def run():
        connection.close_if_unusable_or_obsolete()
        try:
            return check(*args)
        except Exception:
            connection.close()  # opened afresh next time (PostgreSQL may be back)
            raise

    return _database_threads.submit(run).result()


def _reply_text(text: str) -> str:
    # libmilter drops a reply with a lone '%' and keeps '%%' doubled: no '%' at all.
    return text.replace("%", "?")


class SenderCheck(Milter.Base):
    def __init__(self):
        self._reset()

    def _reset(self) -> None:
        self.envelope_sender = ""
        self.login = ""
        self.service = ""
        self.headers: list[bytes] = []

    def envfrom(self, mailfrom, *params):
        self._reset()
        self.envelope_sender = mailfrom
        self.login = self.getsymval("{auth_authen}") or ""
        self.service = self.getsymval("{daemon_name}") or ""
        return Milter.CONTINUE

    @Milter.decode("bytes")
    def header(self, name, value):
        # As received: the rule parses them with the email package.
        self.headers.append(name.encode("ascii", "surrogateescape") + b": " + value + b"\r\n")
        return Milter.CONTINUE

    def eom(self):
        block = b"".join(self.headers)
        try:
            if self.service == REINJECT_SERVICE:
                refusal = _with_database(senders.check_reinjected, self.envelope_sender, block)
            elif self.login:
                refusal = _with_database(senders.check_submission, self.login, block)
            else:
                refusal = senders.Refusal("Log in to send mail")
        except Exception:
            log.exception("sender check failed; the client is told to try again later")
            self.setreply("451", "4.3.0", "The sender check is not available right now; try again later")
            return Milter.TEMPFAIL
        if refusal is not None:
            log.info("refused %s mail from %r (login %r): %s", self.service or "submission", self.envelope_sender,
                     self.login, refusal.text)
            self.setreply("550", "5.7.1", _reply_text(refusal.text))
            return Milter.REJECT
        return Milter.ACCEPT


def serve(host: str, port: int, timeout: int = 60) -> None:
    """Answer Postfix on host:port until SIGTERM/SIGINT (libmilter handles both)."""
    Milter.factory = SenderCheck
    # Accept, reject and set the reply only: this milter never changes a message.
    Milter.set_flags(0)
    Milter.runmilter("duckmail-sender-check", f"inet:{port}@{host}", timeout)
