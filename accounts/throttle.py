"""Throttling of failed web logins, in Redis, per account and per client address.

Every failure (password step, code step, sudo password) counts against two keys: the
typed account name (whether or not it exists, so the answer never tells whether an
address is taken) and the client address. Within `THROTTLE_WINDOW_SECONDS`, once a key
reaches its limit, each further failure locks it for twice as long as the last
(`THROTTLE_LOCK_SECONDS`, doubling, capped at `THROTTLE_MAX_LOCK_SECONDS`). A locked key
refuses attempts before any password is hashed. A successful login clears the account's
count but not the address's, so an attacker can not reset their address count by logging
in to an account of their own between guesses.

The same counters throttle mail logins (IMAP, POP3, ManageSieve, SMTP AUTH): Dovecot asks
accounts.authpolicy before it checks a password, so web and mail failures share one
budget. A web browser proves it is the owner's with a signed cookie (`remember_device`);
a mail program can not carry one, so every successful login also remembers the client's
address (IPv6: its /64) for the account for `THROTTLE_KNOWN_ADDRESS_DAYS`
(`is_known_address`), and mail logins from such an address count against the account's
own key, apart from strangers'.

Redis unreachable → `ThrottleUnavailable`: logins are refused with a clear page rather
than left unthrottled (fail closed).
"""

import hashlib
import ipaddress
import logging
import math
from dataclasses import dataclass
from functools import lru_cache

import redis
from django.conf import settings
from django.core import signing
from django.http import HttpRequest, HttpResponse

from duckmail.lib.errors import BackendUnavailable

log = logging.getLogger(__name__)


class Throttled(Exception):
    def __init__(self, retry_after: int):
        super().__init__(f"try again in {retry_after} seconds")
        self.retry_after = retry_after

    @property
    def message(self) -> str:
        seconds = self.retry_after
        unit = "second" if seconds == 1 else "seconds"
        return f"Too many failed attempts. Please try again in {seconds} {unit}."


class ThrottleUnavailable(BackendUnavailable):
    """The throttle's Redis can not be reached (duckmail.middleware shows a clear 503 page)."""

    service = "login service"


@lru_cache(maxsize=4)
def _client(url: str) -> redis.Redis:
    # Short timeouts: a login page must answer quickly even when Redis hangs.
    return redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)


def client() -> redis.Redis:
    return _client(settings.THROTTLE_REDIS_URL)


def client_address(request: HttpRequest) -> str:
    if settings.CLIENT_IP_HEADER:
        value = request.META.get(settings.CLIENT_IP_HEADER, "")
        if value:
            # X-Forwarded-For style lists: the proxy appends the address it saw last.
            return value.split(",")[-1].strip()
    return request.META.get("REMOTE_ADDR", "") or "unknown"


@dataclass(frozen=True)
class _Key:
    name: str
    limit: int


def _digest(value: str) -> str:
    # Keys carry no readable address: Redis dumps and MONITOR output stay uninteresting.
    return hashlib.sha256(value.encode()).hexdigest()[:32]


# How long an attempt counts as in flight if it never reports failure() or success().
IN_FLIGHT_MS = 5000


KNOWN_DEVICE_COOKIE = "duckmail_known_device"
_KNOWN_DEVICE_SALT = "accounts.throttle.known-device"
KNOWN_DEVICE_MAX_AGE = 365 * 24 * 3600


def _account_digest(account: str) -> str:
    return _digest(account.strip().lower())


def remember_device(response: HttpResponse, account: str) -> None:
    """After a complete login: this browser is the account's own from now on (a signed cookie)."""
    value = signing.dumps(_account_digest(account), salt=_KNOWN_DEVICE_SALT)
    response.set_cookie(KNOWN_DEVICE_COOKIE, value, max_age=KNOWN_DEVICE_MAX_AGE, httponly=True,
                        secure=settings.SESSION_COOKIE_SECURE, samesite="Lax")


def is_known_device(request: HttpRequest, account: str) -> bool:
    """Whether this browser logged in to `account` before (and kept the cookie that says so)."""
    value = request.COOKIES.get(KNOWN_DEVICE_COOKIE)
    if not value:
        return False
    try:
        return signing.loads(value, salt=_KNOWN_DEVICE_SALT, max_age=KNOWN_DEVICE_MAX_AGE) == _account_digest(account)
    except signing.BadSignature:
        return False


def _known_address_key(account: str, address: str) -> str:
    return f"{settings.THROTTLE_KEY_PREFIX}known-address:{_digest(_account_digest(account) + ' ' + _network(address))}"


def is_known_address(account: str, address: str) -> bool:
    """Whether `account` logged in successfully from this address (IPv6: this /64) lately.

    Raises ThrottleUnavailable when Redis can not be reached."""
    try:
        return bool(client().exists(_known_address_key(account, address)))
    except redis.RedisError as exc:
        raise ThrottleUnavailable(str(exc)) from exc


def remember_address(account: str, address: str) -> None:
    """After a successful login: mail logins from this address count as the owner's from now on."""
    try:
        client().set(_known_address_key(account, address), 1, ex=settings.THROTTLE_KNOWN_ADDRESS_DAYS * 86400)
    except redis.RedisError as exc:
        raise ThrottleUnavailable(str(exc)) from exc


class LoginThrottle:
    """The throttle for one login attempt: `account` as typed (normalised), `address` of the client.

    A browser the account's owner logged in with before (`remember_device`), or for mail
    logins an address the account logged in from before (`is_known_address`), counts
    against an account key of its own: strangers' failures lock strangers out, never the owner.
    """

    def __init__(self, account: str, address: str, *, known_device: bool = False):
        prefix = settings.THROTTLE_KEY_PREFIX
        kind = "account-known" if known_device else "account"
        self.account = _Key(f"{prefix}{kind}:{_account_digest(account)}", settings.THROTTLE_ACCOUNT_FAILURES)
        # IPv6 clients by their /64, like sign-ups: one machine may rotate through a whole /64.
        self.address = _Key(f"{prefix}address:{_digest(_network(address))}", settings.THROTTLE_ADDRESS_FAILURES)
        self._known_address = _known_address_key(account, address)

    @classmethod
    def for_request(cls, request: HttpRequest, account: str) -> "LoginThrottle":
        return cls(account, client_address(request), known_device=is_known_device(request, account))

    def check(self) -> None:
        """Raise Throttled if the account or the address is locked right now."""
        try:
            pipe = client().pipeline(transaction=False)
            for key in (self.account, self.address):
                pipe.pttl(key.name + ":lock")
            remaining = [ms for ms in pipe.execute() if ms and ms > 0]
            if not remaining:
                # Attempts in flight count against the account's budget too: parallel
                # requests could otherwise all pass before the first failure is counted.
                pipe = client().pipeline(transaction=True)
                pipe.incr(self._inflight)
                pipe.pexpire(self._inflight, IN_FLIGHT_MS)
                pipe.get(self.account.name + ":fails")
                in_flight, _, fails = pipe.execute()
                # Past the limit (a lock that has lifted), one attempt at a time.
                if in_flight > max(self.account.limit - int(fails or 0), 1):
                    client().decr(self._inflight)
                    remaining = [1000]
        except redis.RedisError as exc:
            raise ThrottleUnavailable(str(exc)) from exc
        if remaining:
            raise Throttled(math.ceil(max(remaining) / 1000))

    @property
    def _inflight(self) -> str:
        return self.account.name + ":inflight"

    def failure(self) -> None:
        """Count a failed attempt; raise Throttled if this failure locked a key."""
        # The count outlives the longest lock: were it to expire with the lock, every lock
        # would end with a fresh budget of guesses and the doubling would never grow.
        window = settings.THROTTLE_WINDOW_SECONDS + settings.THROTTLE_MAX_LOCK_SECONDS
        locked_for = 0
        try:
            r = client()
            pipe = r.pipeline(transaction=False)
            for key in (self.account, self.address):
                pipe.incr(key.name + ":fails")
                pipe.expire(key.name + ":fails", window)
            pipe.decr(self._inflight)
            *results, in_flight = pipe.execute()
            counts = results[0::2]
            if in_flight < 0:  # the marker had expired meanwhile
                r.delete(self._inflight)
            for key, count in zip((self.account, self.address), counts, strict=True):
                over = count - key.limit
                if over < 0:
                    continue
                seconds = min(settings.THROTTLE_LOCK_SECONDS * 2**min(over, 20), settings.THROTTLE_MAX_LOCK_SECONDS)
                r.set(key.name + ":lock", 1, px=seconds * 1000)
                locked_for = max(locked_for, seconds)
                # The key is a digest: the log says that a lock happened, not for whom.
                log.warning("login throttle: %s locked for %ss after %s failures", key.name, seconds, count)
        except redis.RedisError as exc:
            raise ThrottleUnavailable(str(exc)) from exc
        if locked_for:
            raise Throttled(locked_for)

    def release(self) -> None:
        """The attempt ended without a verdict on the password (e.g. an empty field, or
        on to the code step): it no longer counts as in flight."""
        try:
            if client().decr(self._inflight) < 0:
                client().delete(self._inflight)
        except redis.RedisError as exc:
            raise ThrottleUnavailable(str(exc)) from exc

    def success(self) -> None:
        try:
            pipe = client().pipeline(transaction=False)
            pipe.delete(self.account.name + ":fails", self.account.name + ":lock", self._inflight)
            # The owner was here: their mail programs at this address count apart from strangers.
            pipe.set(self._known_address, 1, ex=settings.THROTTLE_KNOWN_ADDRESS_DAYS * 86400)
            pipe.execute()
        except redis.RedisError as exc:
            raise ThrottleUnavailable(str(exc)) from exc


def _network(address: str) -> str:
    """IPv6 clients by their /64: one machine usually has a whole /64 to rotate through."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if ip.version == 6:
        if ip.ipv4_mapped:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def count_signup(request: HttpRequest) -> None:
    """Count a sign-up from the client's address; raise Throttled past the hourly limit.

    Each sign-up costs an Argon2 hash (~100 MiB) and a mailbox: one address can not
    create them in bulk. INCR first, so parallel requests can not all slip through.
    """
    key = f"{settings.THROTTLE_KEY_PREFIX}signup:{_digest(_network(client_address(request)))}"
    try:
        pipe = client().pipeline(transaction=True)
        pipe.incr(key)
        pipe.expire(key, 3600, nx=True)
        pipe.ttl(key)
        count, _, ttl = pipe.execute()
    except redis.RedisError as exc:
        raise ThrottleUnavailable(str(exc)) from exc
    if count > settings.SIGNUP_PER_ADDRESS_PER_HOUR:
        raise Throttled(max(int(ttl), 1))
