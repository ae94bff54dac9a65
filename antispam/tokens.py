"""Tokens of a raw RFC 822 message for the statistical filter. Pure: bytes in, a set of str out.

Contract: :func:`tokenize` never raises, whatever the bytes (broken MIME, unknown charsets,
binary junk), and looks at a bounded amount of each message (``MAX_HEADER_BYTES`` of header,
``MAX_TEXT_CHARS`` of decoded body text), so a 20 MB message costs no more than a 200 KB one.
Each token appears once per message (the classifier counts messages, not occurrences).

Headers the receiving side adds say nothing about the sender and would teach the filter
our own servers' habits (or the corpus's): ``RECEIVING_HEADERS`` and ``X-Spam-*`` are never
looked at, nor is an mbox ``From `` line at the start.
"""

from __future__ import annotations

import binascii
import email
import email.policy
import re
from email.message import Message

from webmail.render.charsets import decode_bytes, decode_header, lenient_b64decode

MAX_HEADER_BYTES = 64 * 1024
MAX_TEXT_CHARS = 200 * 1024
MAX_PARTS = 200
MAX_WORD = 40
BIGRAMS = True  # adjacent word pairs of the body text (chosen by cross-validation)
MAX_BIGRAMS = 100  # of the first words only: a long text adds little but time

# Added by the receiving MTA, the delivery agent or the reader's mail program, never by the sender.
RECEIVING_HEADERS = frozenset({
    "received", "delivered-to", "return-path", "x-original-to", "envelope-to", "x-loop",
    "delivery-date", "x-envelope-to", "x-envelope-from", "x-uid", "x-keywords", "status", "x-status",
    "x-mozilla-status", "x-mozilla-status2", "lines", "content-length", "x-imapbase", "x-imap",
    "x-virus-scanned", "x-virus-status", "x-original-arrivaltime", "x-originalarrivaltime",
})

_ADDRESS_HEADERS = ("from", "to", "cc", "reply-to", "sender", "errors-to")
_WHOLE_HEADERS = {"x-mailer": "x-mailer", "user-agent": "x-mailer", "x-mimeole": "x-mimeole",
                  "precedence": "precedence", "importance": "importance", "x-priority": "x-priority",
                  "x-msmail-priority": "x-priority", "mime-version": "mime-version"}

_HEADER_LINE = re.compile(rb"^([!-9;-~]+)[ \t]*:(.*)$", re.S)
_WORD = re.compile(r"[^\s<>\"'()\[\]{};:|*=`^~\\/]+")
_EDGE = ".,!?-_'#&+%"
_ADDR = re.compile(r"[\w.+\-=']+@[\w\-]+(?:\.[\w\-]+)+")
_URL = re.compile(r"(?:https?|ftp)://([^\s<>\"'/?#:\\)\]]+)([^\s<>\"')\]]*)", re.I)
_WWW = re.compile(r"\bwww\.([a-z0-9\-]+(?:\.[a-z0-9\-]+)+)", re.I)
_TAG = re.compile(r"<\s*(/?)([a-zA-Z][a-zA-Z0-9]*)([^>]*)>", re.S)
_ATTR = re.compile(r"""([a-zA-Z\-]+)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))""")
_COMMENT = re.compile(r"<!--.*?-->", re.S)
_STYLE_SCRIPT = re.compile(r"<(style|script)\b[^>]*>.*?</\1\s*>", re.S | re.I)
_ENTITY = re.compile(r"&(#x[0-9a-f]+|#[0-9]+|[a-z]+);?", re.I)
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]+")
_DIGIT = re.compile(r"\d")
_NUMBER_START = frozenset("0123456789$€£.,")
_NUMBER = re.compile(r"^[$€£]?[\d.,]+$")
_HIDDEN = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden|font-size\s*:\s*[01]px", re.I)
_INTERESTING_TAGS = frozenset({"img", "a", "script", "iframe", "form", "input", "font", "table", "center",
                               "object", "embed", "style", "map", "area", "base", "meta", "body"})
_ENTITIES = {"nbsp": " ", "amp": "&", "lt": "<", "gt": ">", "quot": '"', "apos": "'", "copy": "©",
             "reg": "®", "trade": "™", "euro": "€", "pound": "£"}
# Second-level labels under which domains are registered (co.uk, com.au, …).
_SECOND_LEVEL = frozenset({"co", "com", "net", "org", "gov", "ac", "edu", "ne", "or", "go", "gob", "nic"})


def registrable(domain: str) -> str:
    """The part of *domain* someone registered: ``mail.example.co.uk`` → ``example.co.uk``."""
    labels = domain.strip(".").split(".")
    if len(labels) > 2 and len(labels[-1]) == 2 and labels[-2] in _SECOND_LEVEL:
        return ".".join(labels[-3:])
    return ".".join(labels[-2:])


def split_header(raw: bytes) -> tuple[list[tuple[str, bytes]], bytes]:
    """The header fields (lower-cased name, unfolded raw value) and the body of *raw*.

    An mbox ``From `` line at the start is dropped, and lines that are not fields are skipped.
    """
    if raw.startswith(b"From "):
        raw = raw.split(b"\n", 1)[1] if b"\n" in raw else b""
    m = re.search(rb"\r?\n\r?\n", raw[:MAX_HEADER_BYTES])
    head, body = (raw[:m.start()], raw[m.end():]) if m else (raw[:MAX_HEADER_BYTES], b"")
    fields: list[tuple[str, bytes]] = []
    for line in head.split(b"\n"):
        line = line.rstrip(b"\r")
        if line[:1] in (b" ", b"\t"):
            if fields:
                fields[-1] = (fields[-1][0], fields[-1][1] + b" " + line.strip())
            continue
        hit = _HEADER_LINE.match(line)
        if hit:
            fields.append((hit.group(1).decode("ascii").lower(), hit.group(2).strip()))
    return fields, body


def is_receiving_header(name: str) -> bool:
    return name in RECEIVING_HEADERS or name.startswith("x-spam-")


def strip_receiving_headers(raw: bytes) -> bytes:
    """*raw* without the mbox ``From `` line and the receiving side's header fields (as a delivery
    would score it); everything else is kept byte for byte."""
    if raw.startswith(b"From "):
        raw = raw.split(b"\n", 1)[1] if b"\n" in raw else b""
    m = re.search(rb"\r?\n\r?\n", raw)
    head, rest = (raw[:m.start()], raw[m.start():]) if m else (raw, b"")
    kept: list[bytes] = []
    skipping = False
    for line in head.split(b"\n"):
        if line[:1] in (b" ", b"\t"):
            if not skipping:
                kept.append(line)
            continue
        hit = _HEADER_LINE.match(line.rstrip(b"\r"))
        skipping = bool(hit) and is_receiving_header(hit.group(1).decode("ascii").lower())
        if not skipping:
            kept.append(line)
    return b"\n".join(kept) + rest


def _words(text: str, prefix: str, out: set[str], bigrams: bool = False) -> None:
    """Word tokens of *text*; with *bigrams* also each pair of adjacent words ("bi:a b")."""
    cjk = _CJK.search(text) is not None
    kept = []
    keep = kept.append
    # The common case (a plain word of letters) takes the first test only: this loop is
    # where most of a message's time goes.
    for word in _WORD.findall(text.lower()):
        word = word.strip(_EDGE)
        n = len(word)
        if 2 < n <= MAX_WORD and not cjk and word.isalpha():
            keep(word)
        elif n < 3:
            # Short words are noise, except money and "!!" style emphasis.
            if n and (word[0] in "$€£" or word == "!!"):
                out.add(prefix + word)
        elif n > MAX_WORD:
            out.add(f"{prefix}skip:{word[0]} {n // 10 * 10}")
        else:
            if cjk and _CJK.search(word):
                # Chinese and Japanese do not space their words: overlapping character pairs instead.
                for run in _CJK.findall(word)[:50]:
                    out.update(prefix + run[i:i + 2] for i in range(max(len(run) - 1, 1)))
                word = _CJK.sub(" ", word).strip()
                if len(word) < 3:
                    continue
            if word[0] in _NUMBER_START and _NUMBER.match(word):
                # Numbers are bucketed by shape: "$1,000" and "$5,000" mean the same thing.
                word = "num:" + _DIGIT.sub("9", word)
            elif "@" in word:
                for addr in _ADDR.findall(word):
                    out.add("email:" + registrable(addr.rsplit("@", 1)[1]))
            keep(word)
    out.update(map(prefix.__add__, kept) if prefix else kept)
    if bigrams and len(kept) > 1:
        out.update(map("bi:{} {}".format, kept[:MAX_BIGRAMS], kept[1:MAX_BIGRAMS + 1]))


def _urls(text: str, out: set[str]) -> None:
    for host, rest in _URL.findall(text):
        host = host.lower().rsplit("@", 1)[-1].strip(".")
        if not host:
            continue
        if re.fullmatch(r"[\d.]+", host):
            out.add("url:ip")
        else:
            out.add("url:" + host)
            out.add("url:" + registrable(host))
        if "%" in rest:
            out.add("url:escaped")
        for piece in re.split(r"[/?&=.#_\-]+", rest.lower())[:20]:
            if 2 < len(piece) <= MAX_WORD:
                out.add("urlpart:" + piece)
    for host in _WWW.findall(text):
        out.add("url:" + registrable(host.lower()))


def _entity(m: re.Match) -> str:
    name = m.group(1).lower()
    try:
        if name.startswith("#x"):
            return chr(int(name[2:], 16))
        if name.startswith("#"):
            return chr(int(name[1:]))
    except (ValueError, OverflowError):
        return " "
    return _ENTITIES.get(name, " ")


def html_text(markup: str, out: set[str]) -> str:
    """The text of *markup* (tags out, entities decoded); tokens for the tags and attributes
    spam likes (images, link domains, scripts, forms, hidden text) go to *out*."""
    markup = _COMMENT.sub(" ", markup)
    for tag_match in _TAG.finditer(markup):
        closing, tag, attrs = tag_match.groups()
        tag = tag.lower()
        if closing:
            continue
        if tag not in _INTERESTING_TAGS:
            if "style" in attrs.lower() and _HIDDEN.search(attrs):
                out.add("html:hidden")
            continue
        out.add("html:<" + tag)
        for name, v1, v2, v3 in _ATTR.findall(attrs):
            name = name.lower()
            value = v1 or v2 or v3
            if name in ("href", "src", "action"):
                low = value.lower()
                if low.startswith(("http:", "https:", "ftp:")):
                    _urls(value, out)
                else:
                    out.add(f"html:{tag}.{name}:{low.split(':', 1)[0][:12] if ':' in low else 'relative'}")
            elif name == "style" and _HIDDEN.search(value):
                out.add("html:hidden")
    text = _STYLE_SCRIPT.sub(" ", markup)
    text = _TAG.sub(" ", text)
    return _ENTITY.sub(_entity, text)


def _header_tokens(fields: list[tuple[str, bytes]], out: set[str]) -> str | None:
    charset_hint = None
    for name, raw in fields:
        if is_receiving_header(name):
            continue
        out.add("hdr:" + name)
        if name == "subject":
            text = decode_header(raw)
            _words(text, "subject:", out)
            if text.isupper() and len(text) > 8:
                out.add("subject:ALLCAPS")
            if "=?" in raw.decode("latin-1"):
                out.add("subject:encoded:" + raw.decode("latin-1").split("?")[1].lower()[:20])
            _urls(text, out)
        elif name in _ADDRESS_HEADERS:
            text = decode_header(raw)
            addrs = _ADDR.findall(text)
            for addr in addrs[:10]:
                addr = addr.lower()
                out.add(f"{name}:addr:{addr}")
                out.add(f"{name}:domain:{registrable(addr.rsplit('@', 1)[1])}")
            if len(addrs) > 10:
                out.add(f"{name}:many")
            if not addrs:
                out.add(f"{name}:none")
            names = _ADDR.sub(" ", text)
            for word in _WORD.findall(names):
                word = word.strip(_EDGE).lower()
                if 1 < len(word) <= MAX_WORD:
                    out.add(f"{name}:name:{word}")
        elif name == "message-id":
            text = raw.decode("latin-1")
            host = text.rsplit("@", 1)[-1].strip("<> ").lower() if "@" in text else ""
            out.add("message-id:" + (registrable(host) if "." in host else host or "none"))
        elif name == "content-type":
            text = raw.decode("latin-1").lower()
            out.add("content-type:" + text.split(";", 1)[0].strip()[:40])
            m = re.search(r'charset\s*=\s*"?([\w\-.:]+)', text)
            if m:
                charset_hint = m.group(1)
                out.add("charset:" + charset_hint)
        elif name in _WHOLE_HEADERS:
            text = decode_header(raw).lower()
            key = _WHOLE_HEADERS[name]
            out.add(f"{key}:{text[:40]}")
            for word in _WORD.findall(text)[:6]:
                out.add(f"{key}:{word[:MAX_WORD]}")
        elif name == "date":
            text = raw.decode("latin-1")
            m = re.search(r"([+-]\d{4}|[A-Z]{2,4})\s*(?:\(.*)?$", text)
            out.add("date:tz:" + (m.group(1) if m else "none"))
    return charset_hint


def _parts(msg: Message, budget: int):
    """The leaves of *msg*, at most *budget* of them."""
    stack = [msg]
    while stack and budget > 0:
        part = stack.pop()
        payload = part.get_payload()
        if part.is_multipart() and isinstance(payload, list):
            stack.extend(reversed(payload))
        else:
            budget -= 1
            yield part


def _text_tokens(ctype: str, data: bytes, charset: str | None, hint: str | None, left: int, out: set[str]) -> int:
    """Tokens of one text part's (transfer-decoded) bytes; returns the characters read."""
    text = decode_bytes(data[:left * 4], charset, hint)[:left]
    if ctype == "text/html" or (ctype == "text/plain" and "<html" in text[:2000].lower()):
        text = html_text(text, out)
    _urls(text, out)
    _words(text, "", out, bigrams=BIGRAMS)
    return len(text)


def _simple_body(raw_body: bytes, fields: list[tuple[str, bytes]], hint: str | None, out: set[str]) -> bool:
    """A single text part is read without the email package (most mail; several times faster)."""
    ctype = cte = b""
    for name, value in fields:
        if name == "content-type":
            ctype = value
        elif name == "content-transfer-encoding":
            cte = value.strip().lower()
        elif name == "content-disposition":
            return False
    main = ctype.split(b";", 1)[0].strip().lower().decode("latin-1")
    if (main and not main.startswith("text/")) or re.search(rb"name\s*\*?=", ctype, re.I):
        return False
    data = raw_body[:MAX_TEXT_CHARS * 4]
    if cte:
        out.add("cte:" + cte.decode("latin-1")[:20])
    if cte == b"base64":
        data = lenient_b64decode(data)
    elif cte == b"quoted-printable":
        data = binascii.a2b_qp(data)
    m = re.search(rb'charset\s*=\s*"?([\w\-.:]+)', ctype, re.I)
    _text_tokens(main or "text/plain", data, m.group(1).decode("ascii") if m else None, hint, MAX_TEXT_CHARS, out)
    return True


def _body_tokens(raw_body: bytes, fields: list[tuple[str, bytes]], hint: str | None, out: set[str]) -> None:
    if _simple_body(raw_body, fields, hint, out):
        return
    head = b"".join(name.encode() + b": " + value + b"\n" for name, value in fields
                    if name.startswith("content-") or name == "mime-version")
    msg = email.message_from_bytes(head + b"\n" + raw_body[:MAX_TEXT_CHARS * 4], policy=email.policy.compat32)
    left = MAX_TEXT_CHARS
    for part in _parts(msg, MAX_PARTS):
        ctype = part.get_content_type()
        filename = None
        try:
            filename = part.get_filename()
        except Exception:
            pass
        disposition = (part.get("content-disposition") or "").split(";", 1)[0].strip().lower()
        cte = (part.get("content-transfer-encoding") or "").strip().lower()
        if cte:
            out.add("cte:" + cte[:20])
        if filename or (disposition == "attachment") or not ctype.startswith("text/"):
            out.add("attach:type:" + ctype)
            if filename:
                name = decode_header(str(filename).encode("utf-8", "surrogateescape")).lower()
                ext = name.rsplit(".", 1)[1] if "." in name else ""
                out.add("attach:ext:" + (ext[:10] or "none"))
                _words(name.replace(".", " "), "attach:name:", out)
            if not ctype.startswith("text/"):
                continue
        if left <= 0:
            continue
        try:
            data = part.get_payload(decode=True) or b""
        except Exception:
            data = b""
        charset = part.get_param("charset")
        if isinstance(charset, tuple):  # RFC 2231 form
            charset = charset[2]
        left -= _text_tokens(ctype, data, str(charset) if charset else None, hint, left, out)


def tokenize(raw: bytes) -> set[str]:
    """The tokens of the raw message *raw*. Never raises."""
    out: set[str] = set()
    try:
        if not isinstance(raw, (bytes, bytearray, memoryview)):
            return out
        fields, body = split_header(bytes(raw))
        hint = _header_tokens(fields, out)
        _body_tokens(body, fields, hint, out)
    except Exception:  # damaged mail must still be scored on whatever was read before
        out.add("parse:error")
    return out
