"""Keep Dovecot's logins and deliveries answering while PostgreSQL is down, and back at once after.

Run as `manage.py watch_mail_database` next to Dovecot (`make run` and the production units
supervise it). Dovecot 2.3.19's SQL pool (lib-sql, driver-sqlpool.c) has no setting for what
it does when the database is gone:

- a lookup that finds no connected connection waits in the pool's queue until one connects
  or 60 s pass (SQL_QUERY_TIMEOUT_SECS): a login asks two passdbs, so IMAP with the main
  password hung up to 120 s and LMTP's RCPT 60 s;
- each connection retries after a delay that grows fivefold per failed attempt (1, 5, 25,
  125 … s, up to 30 min; SQL_CONNECT_MIN/MAX_DELAY), and a pending retry is never brought
  forward: after PostgreSQL returns, logins stayed refused until the last retry came due
  (~115 s measured);
- an auth process started (or reloaded) while PostgreSQL is down crashed (signal 11) and
  was restarted with growing throttling.

libpq settings do not help: a stopped server on loopback refuses at once, so the waiting is
Dovecot's own. So this watcher checks the database every `interval` seconds, the way Dovecot
reaches it (the mail role, the same host and port), and when the answer changes it points
`auth-databases.conf.ext` at the other variant and reloads Dovecot:

- AVAILABLE: the SQL passdbs and userdb;
- UNAVAILABLE: a checkpassword program that only exits 111, so every login is
  `NO [UNAVAILABLE]` and every RCPT a 451 at once (Postfix keeps the mail queued).

A reload starts a new auth process with fresh connections, so logins work again within one
interval of PostgreSQL's return; open IMAP sessions stay (a login that was waiting on the old
auth process is cut with `BYE Shutting down`, a temporary failure: clients log in again).
A server that hangs (accepts and never answers) counts as down once the check's `timeout`
runs out.

Postfix answers 451 by itself while the database is down (right: the sender keeps the mail),
but its pgsql client (dict_pgsql.c) leaves a host that failed alone for 60 s
(RETRY_CONN_INTV, no setting), in every smtpd, cleanup and trivial-rewrite process: mail
kept being refused and deferred for up to a minute after PostgreSQL was back, and deferred
mail then waited for the next queue run (minutes). So on the database's return the watcher
also runs `postfix reload` (new processes, new connections) and `postqueue -f` (deferred mail
goes out now).
"""

import logging
import subprocess
import time
from pathlib import Path

import psycopg

log = logging.getLogger(__name__)

CURRENT = "auth-databases.conf.ext"  # the file dovecot.conf includes
AVAILABLE = "auth-sql.conf.ext"
UNAVAILABLE = "auth-unavailable.conf.ext"


def database_answers(timeout: float = 2.0) -> bool:
    """Whether PostgreSQL accepts a connection of the mail role and answers a query, within `timeout` seconds."""
    from . import config

    db = config._db_params()
    try:
        # connect_timeout bounds the whole handshake (a frozen server accepts the TCP
        # connection and never answers); the query then has the rest of the budget.
        with psycopg.connect(host=db["db_host"], port=db["db_port"], dbname=db["db_name"], user=db["db_user"],
                             password=db["db_password"] or None, connect_timeout=max(1, round(timeout)),
                             options=f"-c statement_timeout={int(timeout * 1000)}") as conn:
            conn.execute("SELECT 1")
        return True
    except psycopg.Error as exc:
        log.debug("database check failed: %s", exc)
        return False


def select(dovecot_dir: Path, available: bool) -> bool:
    """Point the included file at the variant for `available`; True if it changed."""
    wanted = (dovecot_dir / (AVAILABLE if available else UNAVAILABLE)).read_text()
    current = dovecot_dir / CURRENT
    if current.exists() and current.read_text() == wanted:
        return False
    tmp = current.with_suffix(".tmp")
    tmp.write_text(wanted)
    tmp.replace(current)
    return True


def reload(dovecot_dir: Path) -> None:
    result = subprocess.run(["doveadm", "-c", str(dovecot_dir / "dovecot.conf"), "reload"], capture_output=True,
                            text=True, timeout=15, check=False)
    if result.returncode != 0:
        # Dovecot not running (yet): it reads the file when it starts.
        log.warning("doveadm reload: %s", result.stderr.strip())


def _run(args: list[str]) -> None:
    result = subprocess.run(args, capture_output=True, text=True, timeout=30, check=False)
    if result.returncode != 0:
        log.warning("%s: %s", " ".join(args[:1] + args[3:]), result.stderr.strip())


def refresh_postfix(postfix_dir: Path) -> None:
    """New Postfix processes (fresh database connections), then every deferred mail tried again."""
    _run(["postfix", "-c", str(postfix_dir), "reload"])
    _run(["postqueue", "-c", str(postfix_dir), "-f"])


def check_once(dovecot_dir: Path, timeout: float = 2.0, postfix_dir: Path | None = None) -> bool:
    """One check; switch and reload if the database's state changed. Returns whether it answers."""
    available = database_answers(timeout)
    if select(dovecot_dir, available):
        if available:
            log.warning("PostgreSQL answers again: Dovecot uses it again, Postfix retries its queue")
        else:
            log.error("PostgreSQL does not answer: Dovecot answers logins and deliveries with temporary failures")
        reload(dovecot_dir)
        if available and postfix_dir is not None:
            refresh_postfix(postfix_dir)
    return available


def watch(dovecot_dir: Path, interval: float = 1.0, timeout: float = 2.0, postfix_dir: Path | None = None) -> None:
    """Check forever (until interrupted)."""
    while True:
        started = time.monotonic()
        check_once(dovecot_dir, timeout, postfix_dir)
        time.sleep(max(0.0, interval - (time.monotonic() - started)))
