"""The MIME structure of a raw message, numbered as IMAP numbers body sections.

A small parser of our own rather than Python's ``email``: the reader needs IMAP's section
numbers (``BODY[2.1]``) for every part, bounded work on hostile input, and Dovecot's way of
cutting a message into parts, so that a section number means the same part here as on the
server. It follows Dovecot 2.3's ``lib-mail/message-parser.c``:

- a boundary line is ``--`` followed by the boundary of *any* enclosing multipart as a
  prefix (the longest match wins); ``--boundary--`` closes that multipart, and a boundary of
  an outer multipart closes the inner ones (a missing final boundary ends at the end of the
  message or of the enclosing part);
- the line end before a boundary line belongs to the boundary, not to the part;
- the first Content-Type header counts; a Content-Type makes a part MIME even without
  MIME-Version; a part without one is text/plain, or message/rfc822 inside multipart/digest;
- message/rfc822 parts are parsed as messages (sections ``N.1`` …).

Where Dovecot would leave a part unreadable, the parser recovers, and says so in
``problems`` (then only :func:`find` on the same bytes knows these parts): Content-Type
headers folded without leading whitespace, a multipart whose boundary appears only in the
body, boundaries with characters that should have been quoted.

Limits (depth, part count) bound the work; what lies beyond them is not parsed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .charsets import lenient_b64decode

MAX_DEPTH = 40
MAX_PARTS = 2000
MAX_HEADERS = 1000
MAX_HEADER_VALUE = 64 * 1024

_HEADER_NAME = re.compile(rb"^([!-9;-~]+)[ \t]*:")


@dataclass(eq=False)
class Entity:
    """One message or MIME part: where its header and body lie in the raw bytes."""

    start: int
    body_start: int = 0
    end: int = 0
    headers: list[tuple[str, bytes]] = field(default_factory=list)
    maintype: str = "text"
    subtype: str = "plain"
    params: dict[str, str] = field(default_factory=dict)  # latin-1 str of the raw value
    children: list[Entity] = field(default_factory=list)
    message: Entity | None = None  # the encapsulated message of a message/rfc822 part
    parent: Entity | None = None
    section: str = ""
    depth: int = 0
    is_message: bool = False  # a message (root or encapsulated), not a MIME body part

    @property
    def content_type(self) -> str:
        return f"{self.maintype}/{self.subtype}"

    def header(self, name: str) -> bytes | None:
        name = name.lower()
        for key, value in self.headers:
            if key.lower() == name:
                return value
        return None

    def walk(self):
        """This entity and every one inside it, depth first, in order (no recursion)."""
        stack = [self]
        while stack:
            ent = stack.pop()
            yield ent
            inner = list(ent.children)
            if ent.message is not None:
                inner.append(ent.message)
            stack.extend(reversed(inner))


@dataclass(eq=False)
class _Boundary:
    value: bytes
    owner: Entity


@dataclass
class _Hit:
    boundary: _Boundary
    line_start: int  # where "--boundary" starts
    before: int      # end of the content before it (its preceding line end excluded)
    after: int       # just after the boundary line (and its line end)
    close: bool


@dataclass
class Structure:
    root: Entity
    problems: list[str]
    sections: dict[str, Entity]
    parts_skipped: int = 0


def parse_params(value: str) -> tuple[str, dict[str, str]]:
    """``type/subtype; a=b; c="d"`` → (``type/subtype`` lower-cased, {name: value}).

    Lenient: unquoted values run to the next ``;`` (so ``boundary=----=_Part/1`` and
    ``name=My File.pdf`` survive), quotes may be missing at the end, names are lower-cased.
    RFC 2231 sections (``name*0*``) are kept as they are for :func:`rfc2231`.
    """
    head, _, rest = value.partition(";")
    params: dict[str, str] = {}
    pos, n = 0, len(rest)
    while pos < n and len(params) < 100:
        m = re.compile(r"[\s;]*([^\s=;\"]+)\s*(=\s*)?").match(rest, pos)
        if not m or m.end() == pos:
            break
        name, has_value = m.group(1).lower(), m.group(2)
        pos = m.end()
        if not has_value:
            continue
        if pos < n and rest[pos] == '"':
            out, pos = [], pos + 1
            while pos < n and rest[pos] != '"':
                if rest[pos] == "\\" and pos + 1 < n:
                    pos += 1
                out.append(rest[pos])
                pos += 1
            pos += 1
            params.setdefault(name, "".join(out))
        else:
            semi = rest.find(";", pos)
            semi = n if semi < 0 else semi
            params.setdefault(name, rest[pos:semi].strip())
            pos = semi
    return head.strip().strip('"').lower(), params


_BOUNDARY = re.compile(r"""(?i);\s*boundary(\*\d{0,3}\*?)?\s*=\s*("(?:[^"\\]|\\.)*"?|[^\s()<>@,;:\\"/\[\]?=]*)""")


def _boundary(ctype: str) -> str:
    """The boundary as Dovecot reads it: a quoted string, or else a MIME token, which ends
    at the first special character (so ``boundary=----=_Part`` is ``----``; the lines still
    match, boundaries being prefixes), joined over RFC 2231 sections (``boundary*0``)."""
    pieces = []
    for m in _BOUNDARY.finditer(ctype):
        value = m.group(2)
        if value.startswith('"'):
            value = re.sub(r"\\(.)", r"\1", value[1:-1] if value.endswith('"') and len(value) > 1 else value[1:])
        pieces.append(value)
        if not m.group(1):
            break
    return "".join(pieces)


def _read_headers(raw: bytes, start: int, limit: int, stack: list[_Boundary], problems: list[str]):
    """Header lines from *start*: until an empty line, the end, or a boundary line of an
    enclosing multipart. Returns (headers, body_start, hit or None)."""
    headers: list[tuple[str, bytearray]] = []
    pos = start
    first = True
    while pos < limit:
        nl = raw.find(b"\n", pos, limit)
        line_end = limit if nl < 0 else nl + 1
        line = raw[pos:line_end].rstrip(b"\r\n")
        if not line:
            return _finish_headers(headers), line_end, None
        if stack and line.startswith(b"--"):
            hit = _match_boundary(raw, pos, line_end, line, stack)
            if hit is not None:
                return _finish_headers(headers), pos, hit
        if first and line.startswith(b"From ") and not _HEADER_NAME.match(line):
            # An mbox "From " separator (a message saved from an mbox file, or imported
            # that way): no part of the message; its headers follow.
            pos = line_end
            continue
        if line[:1] in (b" ", b"\t"):
            if headers and len(headers[-1][1]) < MAX_HEADER_VALUE:
                headers[-1][1].extend(line)
        else:
            m = _HEADER_NAME.match(line)
            if m:
                if len(headers) < MAX_HEADERS:
                    headers.append((m.group(1).decode("ascii"), bytearray(line[m.end():])))
            elif first:
                # no header at all: the body starts right away (a mailer that forgot the
                # empty line after a boundary)
                return [], pos, None
            elif headers and len(headers[-1][1]) < MAX_HEADER_VALUE:
                # broken folding: a continuation line without its leading whitespace
                headers[-1][1].extend(b" " + line)
                if "broken header folding repaired" not in problems:
                    problems.append("broken header folding repaired")
        first = False
        pos = line_end
    return _finish_headers(headers), limit, None


def _finish_headers(headers) -> list[tuple[str, bytes]]:
    return [(name, bytes(value[:MAX_HEADER_VALUE]).strip()) for name, value in headers]


def _match_boundary(raw: bytes, line_start: int, line_end: int, line: bytes,
                    stack: list[_Boundary]) -> _Hit | None:
    """Dovecot's rule: the line minus ``--`` starts with a known boundary; longest wins."""
    text = line[2:]
    find = text[:-2] if len(text) > 2 and text.endswith(b"--") else text
    best = None
    for b in stack:
        if len(b.value) <= len(find) and find.startswith(b.value) and (best is None or len(b.value) > len(best.value)):
            best = b
    if best is None:
        return None
    close = text[len(best.value):len(best.value) + 2] == b"--"
    return _Hit(best, line_start, line_start, line_end, close)


def _find_boundary(raw: bytes, pos: int, stack: list[_Boundary]) -> _Hit | None:
    """The next boundary line at or after *pos* (a line start)."""
    if not stack:
        return None
    i = pos
    while True:
        if raw.startswith(b"--", i):
            nl = raw.find(b"\n", i)
            line_end = len(raw) if nl < 0 else nl + 1
            hit = _match_boundary(raw, i, line_end, raw[i:line_end].rstrip(b"\r\n"), stack)
            if hit is not None:
                before = i
                if before > pos:
                    before -= 1  # the \n
                    if before > pos and raw[before - 1:before] == b"\r":
                        before -= 1
                hit.before = before
                return hit
        j = raw.find(b"\n--", i)
        if j < 0:
            return None
        i = j + 1


def _consume(stack: list[_Boundary], hit: _Hit) -> None:
    """Forget the boundaries inside the one found (and that one too if it closed)."""
    idx = next(k for k in range(len(stack) - 1, -1, -1) if stack[k] is hit.boundary)
    del stack[idx + (0 if hit.close else 1):]


class _Parser:
    def __init__(self, raw: bytes, max_depth: int, max_parts: int):
        self.raw = raw
        self.stack: list[_Boundary] = []
        self.count = 0
        self.skipped = 0
        self.max_depth = max_depth
        self.max_parts = max_parts
        self.problems: list[str] = []

    def _problem(self, text: str) -> None:
        if text not in self.problems:
            self.problems.append(text)

    def entity(self, start: int, parent: Entity | None, depth: int, *, digest_child: bool,
               is_message: bool) -> tuple[Entity, _Hit | None]:
        raw = self.raw
        self.count += 1
        ent = Entity(start=start, parent=parent, depth=depth, is_message=is_message)
        headers, body_start, hit = _read_headers(raw, start, len(raw), self.stack, self.problems)
        ent.headers, ent.body_start = headers, body_start
        ctype_raw = ent.header("content-type")
        if ctype_raw is None:
            ent.maintype, ent.subtype = ("message", "rfc822") if digest_child else ("text", "plain")
        else:
            ctype, ent.params = parse_params(ctype_raw.decode("latin-1"))
            main, _, sub = ctype.partition("/")
            main, sub = main.strip(), sub.strip()
            if main == "text" and not sub:
                sub = "plain"
            if not main or not sub or not re.fullmatch(r"[a-z0-9!#$&.+\-^_]+", main + sub):
                main, sub = "text", "plain"
            ent.maintype, ent.subtype = main, sub
        if hit is not None:
            # headers cut short by a boundary line: no body; the line end before the
            # boundary belongs to the boundary
            _consume(self.stack, hit)
            before = hit.line_start
            if before > start:
                before -= 1
                if before > start and raw[before - 1:before] == b"\r":
                    before -= 1
            ent.end = ent.body_start = before
            hit.before = before
            return ent, hit

        if ent.maintype == "multipart":
            if depth >= self.max_depth:
                self._problem("parts nested too deeply are not shown")
            else:
                boundary = _boundary(ctype_raw.decode("latin-1"))
                if not boundary:
                    boundary = self._boundary_from_body(body_start)
                if boundary:
                    return self._multipart(ent, boundary.encode("latin-1")[:200], depth)
                self._problem("a multipart without a boundary is shown as text")
        elif ent.maintype == "message" and ent.subtype in ("rfc822", "global") and depth >= self.max_depth:
            self._problem("parts nested too deeply are not shown")
        elif ent.maintype == "message" and ent.subtype in ("rfc822", "global"):
            cte = (ent.header("content-transfer-encoding") or b"").strip().lower()
            # an encoded message/rfc822 is not a message in IMAP's eyes: Dovecot parses the
            # encoded text; we keep it a leaf and decode it when it is opened
            if cte in (b"", b"7bit", b"8bit", b"binary"):
                inner, hit = self.entity(body_start, ent, depth + 1, digest_child=False, is_message=True)
                ent.message = inner
                ent.end = inner.end
                return ent, hit
        hit = self._next(body_start)
        ent.end = hit.before if hit else len(raw)
        return ent, hit

    def _boundary_from_body(self, body_start: int) -> str:
        """A multipart without a boundary parameter: the first ``--X`` line followed by
        a MIME header tells the boundary."""
        m = re.compile(rb"(?m)^--([^\r\n]{1,200}?)[ \t]*\r?\n(?:[Cc]ontent-[A-Za-z-]+:)").search(
            self.raw, body_start, body_start + 65536)
        if not m:
            return ""
        self._problem("the multipart boundary was missing and recovered from the body")
        return m.group(1).decode("latin-1")

    def _multipart(self, ent: Entity, boundary: bytes, depth: int) -> tuple[Entity, _Hit | None]:
        """Children up to our closing boundary; every hit returned is already consumed."""
        raw, stack = self.raw, self.stack
        own = _Boundary(boundary, ent)
        stack.append(own)
        hit = self._next(ent.body_start)
        digest = ent.subtype == "digest"
        while True:
            if hit is None:
                if any(b is own for b in stack):
                    self._problem("the message ends before its last MIME boundary")
                    stack.remove(own)
                ent.end = len(raw)
                return ent, None
            if hit.boundary is not own:
                # an enclosing multipart's boundary: this one ends here too
                ent.end = hit.before
                return ent, hit
            if hit.close:
                epilogue_end = self._next(hit.after)
                ent.end = epilogue_end.before if epilogue_end else len(raw)
                return ent, epilogue_end
            if self.count >= self.max_parts:
                self.skipped += 1
                hit = self._next(hit.after)
                continue
            child, hit = self.entity(hit.after, ent, depth + 1, digest_child=digest, is_message=False)
            ent.children.append(child)

    def _next(self, pos: int) -> _Hit | None:
        hit = _find_boundary(self.raw, pos, self.stack)
        if hit is not None:
            _consume(self.stack, hit)
        return hit


def _join(prefix: str, n: int) -> str:
    return f"{prefix}.{n}" if prefix else str(n)


def _number(root: Entity) -> dict[str, Entity]:
    """IMAP section numbers: a multipart's children are N.1, N.2…; a message/rfc822 part at
    N holds a message whose parts are N.1… (or whose body is N.1 when it is not multipart);
    the body of a non-multipart top-level message is section 1."""
    sections: dict[str, Entity] = {}
    work: list[tuple[str, Entity, str]] = [("message", root, "")]
    while work:
        kind, ent, sec = work.pop()
        if kind == "message":
            if ent.children:
                ent.section = sec
                work.extend(("part", c, _join(sec, i)) for i, c in reversed(list(enumerate(ent.children, 1))))
                continue
            kind, sec = "part", _join(sec, 1)
        ent.section = sec
        sections.setdefault(sec, ent)
        if ent.children:
            work.extend(("part", c, _join(sec, i)) for i, c in reversed(list(enumerate(ent.children, 1))))
        elif ent.message is not None:
            work.append(("message", ent.message, sec))
    return sections


def parse_structure(raw: bytes, *, max_depth: int = MAX_DEPTH, max_parts: int = MAX_PARTS) -> Structure:
    parser = _Parser(raw, max_depth, max_parts)
    root, _ = parser.entity(0, None, 0, digest_child=False, is_message=True)
    root.end = len(raw)
    if parser.skipped:
        parser.problems.append(
            f"this message has more than {max_parts} parts: {parser.skipped} more are not shown")
    return Structure(root, parser.problems, _number(root), parser.skipped)


# --- Content-Transfer-Encoding -----------------------------------------------------------------

_QP_SOFT = re.compile(rb"=[ \t]*\r?\n")
_QP_HEX = re.compile(rb"=([0-9A-Fa-f]{2})")


def decode_qp(data: bytes) -> bytes:
    """Quoted-printable, leniently: bad escapes stay as they are, lower-case hex is fine,
    soft line breaks with trailing spaces are soft line breaks."""
    data = _QP_SOFT.sub(b"", data)
    return _QP_HEX.sub(lambda m: bytes((int(m.group(1), 16),)), data)


def decode_uu(data: bytes) -> bytes:
    """uuencoded data, with or without its ``begin``/``end`` lines; damaged lines skipped."""
    import binascii

    lines = data.splitlines()
    begin = next((i for i, line in enumerate(lines[:50]) if line.startswith(b"begin ")), -1)
    out = bytearray()
    for line in lines[begin + 1:]:
        line = line.rstrip(b"\r")
        if line.strip() == b"end":
            break
        if not line:
            continue
        n = (line[0] - 32) & 63
        if n == 0:
            continue
        try:
            out += binascii.a2b_uu(line)[:n]
        except binascii.Error:
            try:  # trailing garbage some encoders write: decode only what the line claims
                out += binascii.a2b_uu(line[: 1 + (n * 4 + 2) // 3])[:n]
            except binascii.Error:
                continue
    return bytes(out)


def decode_body(ent: Entity, raw: bytes) -> tuple[bytes, bool]:
    """The decoded bytes of an entity's body and whether decoding found damage."""
    body = raw[ent.body_start:ent.end]
    cte = (ent.header("content-transfer-encoding") or b"").decode("latin-1").strip().strip('"').lower()
    if cte == "base64":
        stripped = re.sub(rb"\s+", b"", body)
        data = lenient_b64decode(stripped)
        damaged = bool(re.search(rb"[^A-Za-z0-9+/=]", stripped)) or (len(stripped.rstrip(b"=")) % 4 == 1)
        return data, damaged
    if cte == "quoted-printable":
        return decode_qp(body), False
    if cte in ("x-uuencode", "uuencode", "x-uue", "uue"):
        return decode_uu(body), False
    return body, False
