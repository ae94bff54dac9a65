"""ManageSieve (RFC 5804): the one module that talks to Dovecot's ManageSieve service.

Built on `sievelib.managesieve`, with three of its pitfalls handled here once:

- sievelib keeps a stale `errmsg` after a later success, so only return values decide
  success; the message is read only right after a failure.
- A successful PUTSCRIPT/CHECKSCRIPT may answer `OK (WARNINGS) {N}` followed by an N-byte
  literal. sievelib does not read that literal, so its text would be taken as the answer
  to the *next* command (GETSCRIPT then returns the warning as the script). `_Client`
  reads it and keeps it as `warnings`.
- sievelib rewrites scripts: every line break becomes CRLF on PUTSCRIPT, and GETSCRIPT
  joins the lines with LF and drops the final newline. `_Client` stores and returns the
  member's bytes exactly (Dovecot accepts either line ending).

Errors are split the way callers need them: `SieveUnavailable` (server down, connection
lost, login refused: nothing the member typed is at fault), `ScriptInvalid` (the server
refused the script: its message and line number), and `SieveRefused` (any other `NO`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from django.conf import settings
from sievelib import managesieve as _ms

from .errors import BackendUnavailable

# "line 3: error: unknown command 'fileintoo' ...", possibly prefixed with "scriptname: ".
_ERROR_LINE_RE = re.compile(r"(?:^|: )line (\d+): error: (.+)$")
_MISSING_INCLUDE_RE = re.compile(r"included (?:global|personal) script '([^']*)' does not exist")
_LITERAL_RE = re.compile(rb"\{(\d+)\+?\}\s*$")
_QUOTED_RE = re.compile(rb'"((?:[^"\\]|\\.)*)"\s*$')
# Dovecot's `sieve_default_name` (deploy/dovecot/dovecot.conf): a member can not own a script by that name.
DEFAULT_SCRIPT_NAME = "default"


class SieveError(Exception):
    """Base class of everything this module raises."""


class SieveUnavailable(SieveError, BackendUnavailable):
    """The ManageSieve server could not be reached, dropped the connection or refused the login."""

    service = "filter server (ManageSieve)"


class SieveLoginRefused(SieveUnavailable):
    """The server refused the credentials (for the web: its session token was revoked)."""


class SieveRefused(SieveError):
    """The server answered NO to a request that is not about the script's content."""


class ScriptInvalid(SieveError):
    """The server refused a script. `line` is the first error's line number (1-based) if known."""

    def __init__(self, message: str, line: int | None = None, errors: list[str] | None = None):
        super().__init__(message)
        self.message = message
        self.line = line
        self.errors = errors or [f"line {line}: {message}" if line else message]

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}" if self.line else self.message


@dataclass(frozen=True)
class ScriptList:
    """The member's own scripts. `active` may name the server default (see `default_active`)."""

    names: list[str]
    active: str | None
    # True when Dovecot runs its default script because the member has no active one.
    default_active: bool = False


@dataclass
class CheckResult:
    warnings: list[str] = field(default_factory=list)


def parse_server_errors(text: str) -> ScriptInvalid:
    """Turn the server's error text into a ScriptInvalid with the first error's line."""
    lines = [ln.strip() for ln in text.replace("\r\n", "\n").split("\n") if ln.strip()]
    errors = []
    first_line = None
    for ln in lines:
        m = _ERROR_LINE_RE.search(ln)
        if m:
            if first_line is None:
                first_line = int(m.group(1))
            errors.append(f"line {m.group(1)}: {m.group(2)}")
    if not errors:
        errors = [ln for ln in lines if ln not in ("error: validation failed.",)] or ["the server refused the script"]
        return ScriptInvalid(errors[0], None, errors)
    message = errors[0].split(": ", 1)[1]
    return ScriptInvalid(message, first_line, errors)


class _Client(_ms.Client):
    """sievelib's client, reading the warnings literal that follows `OK (WARNINGS) {N}`, and
    storing and returning scripts byte for byte (sievelib turns every line break into CRLF
    on the way up and joins lines with LF, dropping the final newline, on the way down)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.warnings: list[str] = []
        self._last_literal: bytes | None = None

    # Override the name-mangled private methods of sievelib's Client.
    def _Client__prepare_content(self, content: str) -> bytes:
        data = content.encode("utf-8")
        return b"{%d+}\r\n%s" % (len(data), data)

    def _Client__read_block(self, size: int) -> bytes:
        block = super()._Client__read_block(size)
        self._last_literal = block
        return block

    def getscript(self, name: str) -> str | None:
        self._last_literal = None
        code, _data, _content = self._Client__send_command("GETSCRIPT", [name.encode("utf-8")], withcontent=True)
        if code != "OK":
            return None
        # The script is the one literal of the answer, exactly as stored.
        return (self._last_literal or b"").decode("utf-8")

    def _Client__read_response(self, nblines: int = -1):
        code, data, resp = super()._Client__read_response(nblines)
        self.warnings = []
        if code == b"OK" and data:
            m = _LITERAL_RE.search(data)
            text = b""
            if m:
                text = self._Client__read_block(int(m.group(1)) + 2)[:-2]
            elif data.startswith(b"(WARNINGS)"):
                quoted = _QUOTED_RE.search(data)
                text = re.sub(rb"\\(.)", rb"\1", quoted.group(1)) if quoted else b""
            self.warnings = [ln.strip() for ln in text.decode("utf-8", "replace").splitlines() if ln.strip()]
        return code, data, resp


class Session:
    """An authenticated ManageSieve connection. Use through `session()`."""

    def __init__(self, client: _Client):
        self._client = client

    def _call(self, method: str, *args):
        try:
            return getattr(self._client, method)(*args)
        except (_ms.Error, OSError) as exc:
            raise SieveUnavailable(f"The filter server stopped answering ({exc}).") from exc

    def _errmsg(self) -> str:
        return (self._client.errmsg or b"").decode("utf-8", "replace").strip()

    @property
    def capabilities(self) -> list[str]:
        return list(self._client.get_sieve_capabilities())

    def list(self) -> ScriptList:
        result = self._call("listscripts")
        if result is None:
            raise SieveRefused(self._errmsg() or "The server refused to list your scripts.")
        active, others = result
        # Dovecot always lists its default script (sieve_default_name), and as the active one
        # while the member has none of their own. It is not in the member's storage
        # (GETSCRIPT works, DELETESCRIPT does not), so it is not among `names`.
        names = sorted((set(others) | ({active} if active else set())) - {DEFAULT_SCRIPT_NAME})
        default_active = active == DEFAULT_SCRIPT_NAME
        return ScriptList(names=names, active=active, default_active=default_active)

    def get(self, name: str) -> str:
        text = self._call("getscript", name)
        if text is None:
            raise SieveRefused(self._errmsg() or f"There is no script named “{name}”.")
        return text

    def check(self, text: str) -> CheckResult:
        """CHECKSCRIPT: raise ScriptInvalid with the server's message and line if invalid.

        A script including a global that does not exist passes CHECKSCRIPT with a warning and
        would fail only later (at SETACTIVE or delivery): that warning counts as an error here.
        """
        if not self._call("checkscript", text):
            raise parse_server_errors(self._errmsg())
        warnings = list(self._client.warnings)
        for w in warnings:
            m = _MISSING_INCLUDE_RE.search(w)
            if m:
                line = re.search(r"line (\d+):", w)
                raise ScriptInvalid(
                    f"included global script '{m.group(1)}' does not exist", int(line.group(1)) if line else None
                )
        return CheckResult(warnings=warnings)

    def put(self, name: str, text: str) -> CheckResult:
        """Check, then PUTSCRIPT. An invalid script never replaces the stored one."""
        result = self.check(text)
        if not self._call("putscript", name, text):
            message = self._errmsg()
            if "line " in message and "error" in message:
                raise parse_server_errors(message)
            raise SieveRefused(message or f"The server refused to store “{name}”.")
        return result

    def activate(self, name: str | None) -> None:
        """SETACTIVE `name`, or deactivate every script (back to the server default) with None."""
        if not self._call("setactive", name or ""):
            message = self._errmsg()
            if "line " in message and "error" in message:
                raise parse_server_errors(message)
            raise SieveRefused(message or f"The server refused to activate “{name}”.")

    def delete(self, name: str) -> None:
        if not self._call("deletescript", name):
            raise SieveRefused(self._errmsg() or f"The server refused to delete “{name}”.")

    def rename(self, old: str, new: str) -> None:
        if not self._call("renamescript", old, new):
            raise SieveRefused(self._errmsg() or f"The server refused to rename “{old}”.")


@contextmanager
def session(username: str, password: str, *, authz_id: str = "") -> Iterator[Session]:
    """An authenticated ManageSieve session on the configured server; logs out at the end."""
    client = _Client(settings.MAIL_HOST, settings.MANAGESIEVE_PORT)
    try:
        ok = client.connect(username, password, authz_id=authz_id, starttls=False, authmech="PLAIN")
    except (_ms.Error, OSError) as exc:
        raise SieveUnavailable(f"The filter server is not reachable ({exc}).") from exc
    if not ok:
        raise SieveLoginRefused("The filter server refused the login.")
    try:
        yield Session(client)
    finally:
        try:
            client.logout()
        except (_ms.Error, OSError):
            pass
        if client.sock is not None:
            client.sock.close()
            client.sock = None

