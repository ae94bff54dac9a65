"""The login throttle for mail programs: Dovecot's auth policy server (`manage.py run_auth_policy`).

Dovecot 2.3 asks an HTTP/JSON "auth policy" server about every authentication (IMAP, POP3,
ManageSieve, and SMTP AUTH through Postfix's Dovecot SASL) — see the `auth_policy_*`
settings in deploy/dovecot/dovecot.conf. The protocol, as Dovecot 2.3.19 speaks it here:

- `POST <url>?command=allow` **before any passdb runs**, with a JSON object of the
  attributes in `auth_policy_request_attributes` (mailstack.config.AUTH_POLICY_ATTRIBUTES, strings,
  plus `"tls": bool`) and the API header. The answer `{"status": N, "msg": "…"}`: N < 0
  refuses the login (IMAP says `NO [ALERT] msg` and drops the connection), 0 allows it,
  N > 0 delays it by N seconds. No answer, a non-2xx answer or bad JSON count as a
  refusal (`auth_policy_reject_on_fail = yes`), with Dovecot's generic "Authentication failed".
- `POST <url>?command=report` after the passdbs have decided, with the same attributes
  plus `"success": bool` and `"policy_reject": bool`; the answer is not read. 2.3.19
  sends no `tried_password` field, and `success` is false for a temporary failure
  (database down) just as for a wrong password.
- A second `allow` after a successful authentication (`auth_policy_check_after_auth`) is
  switched off: the decision here is made before, and an extra round trip would only cost.

What this server decides, with accounts.throttle's counters and rules (one throttle, one
budget for web and mail logins of an account):

- A failed login (a wrong main password, or a wrong app password, which falls through
  to the main password) counts against the account as typed and the client's address
  (`rip`: the real client, or the member's own address the web forwards with IMAP ID).
  Past the limits the account or address is locked, doubling; a locked attempt is refused
  in the `allow` step, **before Dovecot computes any Argon2 hash**.
- Addresses the account logged in from successfully lately (web or mail,
  `THROTTLE_KNOWN_ADDRESS_DAYS`) count against a key of their own: strangers guessing from
  elsewhere lock out strangers, not the owner's mail programs at home.
- A valid app password or web token is a 256-bit random secret, never a guess: when the
  counters would refuse an attempt (locked, or too many in flight at once), the attempt is
  let through if what was typed is one of the account's unexpired tokens (Dovecot sends
  only its SHA-256, `%{sha256:password}`, the hash the token passdb itself looks up). So an
  attacker locks out no mail program that uses an app password, nor the web's own token
  logins. The database is asked only then, never for the common case.
- Redis down: fail closed like the web — refused with a temporary message — except, again,
  a valid token. The policy server down: Dovecot refuses every login ("Authentication
  failed"); the supervisor (`make run`, systemd) restarts it within seconds.
- A failure reported while the database does not answer is not counted: it was Dovecot's
  temporary failure, no password was checked, and members must not be locked out by an outage.
- Master-user logins (`member*duckmail-worker`, the Celery workers) count against the
  master user's own name: a member under attack does not stop the workers.
"""

import dataclasses
import hmac
import json
import logging
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.db.models import Q
from django.utils import timezone

from mailstack import credentials

from . import throttle
from .models import MailToken

log = logging.getLogger(__name__)

# What Dovecot sends: mailstack.config.AUTH_POLICY_ATTRIBUTES (login, user, remote, protocol,
# session, secret_sha256), rendered into dovecot.conf.

UNAVAILABLE_MESSAGE = "The login service is temporarily unavailable. Please try again in a few minutes."

# Seconds to wait for the database when a token must be recognised (Dovecot gives up after 2).
DB_TIMEOUT = 1.0
MAX_BODY = 65536


@dataclass(frozen=True)
class Attempt:
    """One authentication as Dovecot describes it."""

    account: str
    address: str
    protocol: str
    session: str
    secret_sha256: str

    @classmethod
    def from_json(cls, data: dict) -> "Attempt":
        login = str(data.get("login") or "").strip().lower()
        user = str(data.get("user") or "").strip().lower()
        if user and user != login and user == settings.DOVECOT_MASTER_USER.lower():
            login = user
        return cls(
            account=login or user,
            address=str(data.get("remote") or "") or "unknown",
            protocol=str(data.get("protocol") or ""),
            session=str(data.get("session") or ""),
            secret_sha256=str(data.get("secret_sha256") or "").lower(),
        )

    def throttle(self) -> throttle.LoginThrottle:
        known = throttle.is_known_address(self.account, self.address)
        return throttle.LoginThrottle(self.account, self.address, known_device=known)


class Policy:
    """The decisions (no HTTP here). Thread-safe: the HTTP server calls it from many threads."""

    # Sessions let through as tokens: their report must not touch the counters they skipped.
    BYPASS_TTL = 60.0

    def __init__(self, db_workers: int = 2):
        # At most `db_workers` database connections however many connections Dovecot opens.
        self._db = ThreadPoolExecutor(max_workers=db_workers, thread_name_prefix="authpolicy-db")
        self._bypassed: dict[str, float] = {}
        # session -> (account, address, throttle or None, expiry) of its `allow`.
        self._allows: dict[str, tuple[str, str, throttle.LoginThrottle | None, float]] = {}
        self._connections: set = set()
        self._lock = threading.Lock()

    def allow(self, attempt: Attempt) -> tuple[int, str]:
        """(status, message) for Dovecot's `allow` command."""
        if not attempt.account:
            return 0, ""
        limiter = None
        try:
            limiter = attempt.throttle()
            limiter.check()
            return 0, ""
        except throttle.Throttled as exc:
            refusal = (-1, exc.message)
        except throttle.ThrottleUnavailable as exc:
            log.error("auth policy: Redis unavailable, refusing mail logins but tokens: %s", exc)
            refusal = (-1, UNAVAILABLE_MESSAGE)
        finally:
            self._remember_allow(attempt, limiter)
        if self._is_token(attempt):
            self._remember_bypass(attempt.session)
            return 0, ""
        return refusal

    def report(self, attempt: Attempt, *, success: bool, policy_reject: bool) -> None:
        """Count what Dovecot decided (its `report` command)."""
        attempt, limiter = self._allow_of(attempt)
        if policy_reject or not attempt.account:
            return  # refused here, no password was checked: not a guess
        try:
            if self._take_bypass(attempt.session):
                if success:
                    throttle.remember_address(attempt.account, attempt.address)
                return
            limiter = limiter or attempt.throttle()
            if success:
                limiter.success()
            elif self._database_answers():
                try:
                    limiter.failure()
                except throttle.Throttled:
                    pass  # locked from now on; the next `allow` says so
            else:
                log.warning("auth policy: failed %s login not counted, the database does not answer", attempt.protocol)
                limiter.release()
        except throttle.ThrottleUnavailable as exc:
            log.error("auth policy: Redis unavailable, a %s login result was not counted: %s", attempt.protocol, exc)

    def close(self) -> None:
        """Stop the database threads and close their connections (a test database can then be dropped)."""
        self._db.shutdown(wait=True)
        with self._lock:
            wrappers, self._connections = self._connections, set()
        for wrapper in wrappers:
            # Each connection belongs to its (now finished) thread; closing it here is safe.
            wrapper.inc_thread_sharing()
            try:
                wrapper.close()
            finally:
                wrapper.dec_thread_sharing()

    def _remember_allow(self, attempt: Attempt, limiter: throttle.LoginThrottle | None) -> None:
        # Dovecot's report names the member a master user logged in as (`user` is resolved by
        # then), its allow named the master user: the report must settle the allow's counters.
        # The report also reuses the allow's throttle: the same keys (the address was known or
        # not when the attempt was counted in flight), and one Redis round trip fewer per login.
        if not attempt.session:
            return
        now = time.monotonic()
        with self._lock:
            if len(self._allows) > 10_000:
                self._allows = {s: v for s, v in self._allows.items() if v[3] > now}
            self._allows.setdefault(attempt.session, (attempt.account, attempt.address, limiter, now + self.BYPASS_TTL))

    def _allow_of(self, attempt: Attempt) -> tuple[Attempt, throttle.LoginThrottle | None]:
        """The report's attempt as its `allow` counted it, and that allow's throttle (None: build one)."""
        with self._lock:
            account, address, limiter, expires = self._allows.pop(attempt.session, (None, None, None, 0.0))
        if not account or expires <= time.monotonic():
            return attempt, None
        if account != attempt.account:
            attempt = dataclasses.replace(attempt, account=account)
        return attempt, limiter if address == attempt.address else None

    def _remember_bypass(self, session: str) -> None:
        if not session:
            return
        now = time.monotonic()
        with self._lock:
            self._bypassed = {s: t for s, t in self._bypassed.items() if t > now}
            self._bypassed[session] = now + self.BYPASS_TTL

    def _take_bypass(self, session: str) -> bool:
        with self._lock:
            return self._bypassed.pop(session, 0) > time.monotonic()

    def _run_db(self, fn, default):
        try:
            return self._db.submit(self._with_fresh_connection, fn).result(DB_TIMEOUT)
        except FutureTimeout:
            log.warning("auth policy: the database did not answer within %ss", DB_TIMEOUT)
            return default
        except Exception as exc:  # noqa: BLE001 - any database error means "not known now"
            log.warning("auth policy: database error: %s", exc)
            return default

    def _is_token(self, attempt: Attempt) -> bool:
        digest = attempt.secret_sha256
        if len(digest) != 64:
            return False

        def lookup() -> bool:
            return MailToken.objects.filter(
                Q(token_hash=digest) | Q(grouped_hash=digest),
                Q(expires_at__isnull=True) | Q(expires_at__gt=timezone.now()),
                member__email=attempt.account,
                member__is_active=True,
            ).exists()

        return self._run_db(lookup, False)

    def _database_answers(self) -> bool:
        def ping() -> bool:
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1")
            return True

        return self._run_db(ping, False)


    def _with_fresh_connection(self, fn):
        """Run `fn` in a database thread. A connection broken by a database restart is
        dropped, and the next call reconnects."""
        with self._lock:
            self._connections.add(connections[DEFAULT_DB_ALIAS])  # this thread's own
        connection.close_if_unusable_or_obsolete()
        try:
            return fn()
        except Exception:
            connection.close()
            raise


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # Dovecot keeps its connections open (keep-alive)
    # An answer leaves in one write (see _answer), and without waiting for Nagle's algorithm.
    wbufsize = -1
    disable_nagle_algorithm = True
    server: "PolicyServer"

    def do_POST(self) -> None:
        key = self.headers.get(credentials.AUTH_POLICY_HEADER, "").strip()
        if not hmac.compare_digest(key.encode(), self.server.secret.encode()):
            self._answer(401, {"status": -1, "msg": "unauthorized"})
            return
        try:
            length = int(self.headers.get("Content-Length") or 0)
            if not 0 < length <= MAX_BODY:
                raise ValueError("bad length")
            data = json.loads(self.rfile.read(length))
            if not isinstance(data, dict):
                raise ValueError("not an object")
        except ValueError:
            self._answer(400, {"status": -1, "msg": "bad request"})
            return
        command = parse_qs(urlsplit(self.path).query).get("command", [""])[0]
        attempt = Attempt.from_json(data)
        if command == "allow":
            status, message = self.server.policy.allow(attempt)
            self._answer(200, {"status": status, "msg": message})
        elif command == "report":
            # Answered first: Dovecot does not read it, and the client need not wait for our counting.
            self._answer(200, {"status": 0})
            self.server.policy.report(attempt, success=data.get("success") is True,
                                      policy_reject=data.get("policy_reject") is True)
        else:
            self._answer(400, {"status": -1, "msg": "unknown command"})

    def _answer(self, code: int, body: dict) -> None:
        payload = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)
        # Headers and body together: written apart, the body waited for the client's delayed
        # ACK of the headers (Nagle's algorithm), up to 40 ms per answer.
        self.wfile.flush()

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - the stdlib's signature
        log.debug("auth policy: " + format, *args)


class PolicyServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], policy: Policy | None = None, secret: str | None = None):
        super().__init__(address, _Handler)
        self.policy = policy or Policy()
        self.secret = secret or credentials.auth_policy_secret()
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()

    def get_request(self):
        request, address = super().get_request()
        with self._open_lock:
            self._open.add(request)
        return request, address

    def shutdown_request(self, request) -> None:
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def server_close(self) -> None:
        super().server_close()
        # Dovecot's keep-alive connections too: a stopped server must answer nothing more.
        with self._open_lock:
            for request in self._open:
                try:
                    request.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
        self.policy.close()


def make_server(port: int | None = None, host: str = "127.0.0.1") -> PolicyServer:
    """The server on loopback (Dovecot runs on the same host), not started yet."""
    return PolicyServer((host, settings.AUTH_POLICY_PORT if port is None else port))


def start_in_thread(port: int) -> PolicyServer:
    """The server in a daemon thread of this process (the test session); `shutdown()` and
    `server_close()` stop it."""
    server = make_server(port)
    threading.Thread(target=server.serve_forever, name="authpolicy", daemon=True).start()
    return server
