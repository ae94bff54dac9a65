"""From raw bytes to what the reading view shows (see the package docstring for the contract)."""

from __future__ import annotations

import datetime as dt
import email.utils
import html
import logging
import mimetypes
import re
from dataclasses import dataclass, field
from typing import NamedTuple

from . import extras
from .charsets import clean_display, decode_bytes, decode_header, decode_words, header_bytes_to_str, normalise_charset
from .extras import Event
from .mime import MAX_DEPTH, MAX_HEADER_VALUE, Entity, Structure, decode_body, parse_params, parse_structure

logger = logging.getLogger(__name__)

# Bounds on what one message may cost to show. Beyond them the page shows what it can, says
# so in `problems`, and offers the raw download.
MAX_MESSAGE_BYTES = 64 * 1024 * 1024   # Dovecot refuses more than 20 MB anyway
MAX_BODY_CHARS = 2 * 1024 * 1024       # per body (text, HTML) as shown
MAX_ADDRESSES = 1000                   # per address header
MAX_ADDRESS_BYTES = 128 * 1024         # of address headers read, per header name
MAX_SHOWN_HEADERS = 500                # "show all headers"


class Address(NamedTuple):
    """One mailbox of an address header: the decoded display name ("" if none) and the
    address as written ("" when the header held only a name)."""

    name: str
    address: str


@dataclass(slots=True)
class Attachment:
    """A part offered for download (or shown in place).

    ``section`` is the IMAP body section (``"2"``, ``"1.2"``, ``"2.1"`` inside an attached
    message) or, for files found *inside* a part, the part's section, ``~`` and the kind
    and rank: ``"3~tnef1"`` (first file of the winmail.dat at 3), ``"1~uu2"`` (second
    uuencoded file in the text at 1). :func:`part` takes either.
    """

    section: str
    filename: str
    content_type: str          # lower-case type/subtype
    size: int                  # decoded bytes
    content_id: str = ""       # without the angle brackets; "" when none
    disposition: str = "attachment"  # "inline" or "attachment" as the sender asked
    kind: str = "file"         # file | message | calendar | tnef | signature | encrypted
    inline: bool = False       # a cid: image the HTML body shows in place
    contents: list[Attachment] = field(default_factory=list)  # the files of a TNEF winmail.dat


@dataclass(frozen=True, slots=True)
class AttachedMessage:
    """A message/rfc822 part: open it with ``parse_attached(raw, section)``."""

    section: str
    subject: str
    from_: tuple[Address, ...]
    date: dt.datetime | None


@dataclass(frozen=True, slots=True)
class Signature:
    """A signature part of multipart/signed (or an S/MIME signed-data blob)."""

    kind: str            # "pgp" or "smime"
    section: str         # the signature part ("" for opaque S/MIME signed-data)
    signed_section: str  # the part the signature covers
    armor: str = ""      # the ASCII-armored PGP signature, for Mailvelope


@dataclass(slots=True)
class ReadableMessage:
    """What the reading view shows. All strings are Unicode, decoded, never escaped: the
    template escapes them; ``html_body`` is NOT sanitised (webmail.render.sanitize does that)."""

    section: str                  # "" for the whole message, else the message/rfc822 section
    subject: str
    from_: list[Address]
    sender: list[Address]
    to: list[Address]
    cc: list[Address]
    bcc: list[Address]
    reply_to: list[Address]
    date: dt.datetime | None      # aware (UTC when the header gave no zone); None if unreadable
    date_text: str                # the Date header as written (decoded, one line)
    message_id: str
    headers: list[tuple[str, str]]  # every header, decoded, in order ("show all headers")
    text_body: str                # the plain text (from the HTML when the mail has no text)
    html_body: str | None         # the HTML as sent, decoded to Unicode; None when none
    preferred: str                # "html" or "text": what to show first
    has_text_alternative: bool    # a real text/plain alternative exists (the "plain text" toggle)
    attachments: list[Attachment]
    inline_images: dict[str, str]  # Content-ID (no brackets) → section, for the cid: proxy
    attached_messages: list[AttachedMessage]
    events: list[Event]
    signatures: list[Signature]
    encrypted: str | None         # "pgp" or "smime" when the content is encrypted
    pgp_armor: list[str]          # armored PGP blocks, verbatim, to put in the page for Mailvelope
    problems: list[str]           # what could not be shown as sent (human-readable)

    @property
    def offer_raw(self) -> bool:
        """The page should offer the raw download: something was cut, damaged or guessed."""
        return bool(self.problems)


@dataclass(frozen=True, slots=True)
class Part:
    """One section, decoded, for a download or a cid: image."""

    section: str
    content_type: str
    filename: str
    data: bytes
    charset: str | None = None     # as labelled, for text parts
    content_id: str = ""


# --- Addresses and dates ---------------------------------------------------------------------

def _split_addresses(value: str) -> list[str]:
    items: list[str] = []
    buf: list[str] = []
    quote = angle = False
    comment = 0
    i, n = 0, len(value)
    while i < n and len(items) < MAX_ADDRESSES:
        c = value[i]
        if quote:
            buf.append(c)
            if c == "\\" and i + 1 < n:
                i += 1
                buf.append(value[i])
            elif c == '"':
                quote = False
        elif comment:
            buf.append(c)
            if c == "\\" and i + 1 < n:
                i += 1
                buf.append(value[i])
            elif c == "(":
                comment += 1
            elif c == ")":
                comment -= 1
        elif c == '"':
            quote = True
            buf.append(c)
        elif c == "(":
            comment = 1
            buf.append(c)
        elif c == "<":
            angle = True
            buf.append(c)
        elif c == ">":
            angle = False
            buf.append(c)
        elif c in ",;" and not angle:
            items.append("".join(buf))
            buf = []
        elif c == ":" and not angle and "@" not in "".join(buf) and "<" not in buf:
            buf = []  # a group name ("undisclosed-recipients:")
        else:
            buf.append(c)
        i += 1
    items.append("".join(buf))
    return items


_ANGLE = re.compile(r"<([^<>]*)>")
_COMMENT = re.compile(r"\((?:[^()\\]|\\.)*\)")


def _unquote(text: str) -> str:
    text = text.strip()
    if len(text) >= 2 and text[0] == '"' and text[-1] == '"':
        text = re.sub(r"\\(.)", r"\1", text[1:-1])
    elif '"' in text:
        text = text.replace('"', "")
    return text


def parse_addresses(value: str, hint: str | None = None) -> list[Address]:
    """An address header's text (8-bit already decoded, encoded words not) → addresses."""
    out: list[Address] = []
    for item in _split_addresses(value):
        item = item.strip()
        if not item:
            continue
        angles = list(_ANGLE.finditer(item))
        if angles:
            last = angles[-1]
            address = last.group(1)
            name = item[:last.start()] + item[last.end():]
            comments = _COMMENT.findall(name)
            name = _COMMENT.sub("", name).strip()
            if not name and comments:
                name = comments[0][1:-1]
        else:
            comments = _COMMENT.findall(item)
            address = _COMMENT.sub("", item).strip()
            name = comments[0][1:-1] if comments else ""
            if "@" not in address and " " in address.strip():
                name, address = address, ""
        name = clean_display(decode_words(_unquote(name), hint))
        address = re.sub(r"\s+", "", clean_display(decode_words(address.strip(), hint)))
        if address.startswith("mailto:"):
            address = address[7:]
        if name or address:
            out.append(Address(name, address))
    return out[:MAX_ADDRESSES]


def parse_date(text: str) -> dt.datetime | None:
    """An aware datetime from a Date header, leniently; None when it can not be read."""
    text = text.strip()
    if not text:
        return None
    attempts = [text, _COMMENT.sub("", text).strip(), re.sub(r"^\s*[A-Za-z]+,?\s*", "", _COMMENT.sub("", text))]
    for attempt in attempts:
        try:
            value = email.utils.parsedate_to_datetime(attempt)
        except (TypeError, ValueError, IndexError, OverflowError):
            try:
                value = dt.datetime.fromisoformat(attempt)
            except ValueError:
                continue
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        if 1970 <= value.year <= 9000:
            return value
    return None


# --- Names -----------------------------------------------------------------------------------

_BIDI = re.compile("[\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]")


def _rfc2231(params: dict[str, str], name: str, hint: str | None) -> str | None:
    """RFC 2231: ``name*=utf-8''%E2…`` and continuations ``name*0*=…; name*1=…``."""
    pieces: list[tuple[int, bool, str]] = []
    for key, value in params.items():
        if key == f"{name}*":
            pieces.append((0, True, value))
        m = re.fullmatch(re.escape(name) + r"\*(\d{1,3})(\*?)", key)
        if m:
            pieces.append((int(m.group(1)), bool(m.group(2)), value))
    if not pieces:
        return None
    pieces.sort(key=lambda p: p[0])
    charset = None
    data = bytearray()
    for idx, (_, encoded, value) in enumerate(pieces):
        raw = value.encode("latin-1", errors="replace")
        if idx == 0 and encoded and raw.count(b"'") >= 2:
            cs, _lang, raw = raw.split(b"'", 2)
            charset = cs.decode("latin-1") or None
        if encoded:
            raw = re.sub(rb"%([0-9A-Fa-f]{2})", lambda m: bytes((int(m.group(1), 16),)), raw)
        data += raw
    return decode_bytes(bytes(data), charset, hint) if charset else header_bytes_to_str(bytes(data), hint)


def _param_text(ent: Entity, header: str, name: str, hint: str | None) -> str:
    value = ent.header(header)
    if value is None:
        return ""
    if header == "content-type":
        params = ent.params
    else:
        params = parse_params(value.decode("latin-1"))[1]
    text = _rfc2231(params, name, hint)
    if text is None:
        plain = params.get(name)
        if plain is None:
            return ""
        text = decode_words(header_bytes_to_str(plain.encode("latin-1"), hint), hint)
    return clean_display(text)


def safe_filename(name: str) -> str:
    """A file name to offer: no directories, no control or direction-override characters."""
    name = _BIDI.sub("", clean_display(name))
    name = re.split(r"[/\\]", name)[-1].strip().lstrip(".") if name else ""
    return name[:200]


def _default_name(ent: Entity, section: str) -> str:
    ext = {"text/plain": ".txt", "text/html": ".html", "message/rfc822": ".eml",
           "text/calendar": ".ics", "application/octet-stream": ".bin"}.get(ent.content_type)
    if ext is None:
        ext = mimetypes.guess_extension(ent.content_type) or ".bin"
    return f"part-{section.replace('.', '-')}{ext}"


def _disposition(ent: Entity) -> str:
    value = ent.header("content-disposition")
    if value is None:
        return ""
    return value.decode("latin-1").split(";", 1)[0].strip().strip('"').lower()


def _content_id(ent: Entity) -> str:
    value = ent.header("content-id")
    if not value:
        return ""
    return clean_display(value.decode("latin-1")).strip().strip("<>").strip()


# --- Building the result ---------------------------------------------------------------------

@dataclass
class _Block:
    text: str | None = None
    html: str | None = None


class _Builder:
    def __init__(self, raw: bytes, structure: Structure, hint: str | None, prefix: str = ""):
        self.raw = raw
        self.structure = structure
        self.hint = hint
        self.prefix = prefix
        self.problems: list[str] = list(structure.problems)
        self.blocks: list[_Block] = []
        self.attachments: list[Attachment] = []
        self.inline_images: dict[str, str] = {}
        self.attached: list[AttachedMessage] = []
        self.events: list[Event] = []
        self.signatures: list[Signature] = []
        self.encrypted: str | None = None
        self.armor: list[str] = []
        self.has_text_alternative = False

    def sec(self, ent: Entity) -> str:
        return self.prefix + ent.section

    def problem(self, text: str) -> None:
        if text not in self.problems:
            self.problems.append(text)

    # -- decoding

    def data(self, ent: Entity) -> bytes:
        data, damaged = decode_body(ent, self.raw)
        if damaged:
            self.problem(f"part {self.sec(ent)} is declared base64 but holds other data: "
                         "it is shown as far as it could be decoded")
        return data

    def text(self, ent: Entity) -> str:
        text, cut = _decoded_text(ent, self.data(ent), self.hint)
        if cut:
            self.problem("the text is too long to show in full")
        return text

    # -- the walk

    def is_body_text(self, ent: Entity) -> bool:
        if ent.maintype != "text" or ent.subtype not in ("plain", "html", "enriched", "richtext"):
            return False
        disposition = _disposition(ent)
        if disposition == "attachment":
            return False
        if disposition != "inline" and (_param_text(ent, "content-type", "name", self.hint)
                                        or _param_text(ent, "content-disposition", "filename", self.hint)):
            return False
        return True

    def walk(self, ent: Entity, as_body: bool = True) -> None:
        if ent.children:
            sub = ent.subtype
            if sub == "alternative":
                return self.alternative(ent, as_body)
            if sub == "related":
                return self.related(ent, as_body)
            if sub == "signed":
                return self.signed(ent, as_body)
            if sub == "encrypted":
                return self.encrypted_part(ent)
            for child in ent.children:
                self.walk(child, as_body)
            return None
        if ent.message is not None or (ent.maintype == "message" and ent.subtype in ("rfc822", "global")):
            return self.attached_message(ent)
        if ent.maintype == "multipart":
            # no children: nested too deeply (not shown, said in problems), or without any
            # boundary (its body is all there is to show)
            if ent.depth < MAX_DEPTH and as_body:
                self.blocks.append(_Block(text=self.text(ent)))
            return None
        if as_body and self.is_body_text(ent):
            return self.body_text(ent)
        if ent.content_type in ("message/delivery-status", "message/disposition-notification",
                                "text/rfc822-headers") and as_body:
            self.blocks.append(_Block(text=self.text(ent)))
            return None
        return self.leaf_attachment(ent)

    def body_text(self, ent: Entity) -> None:
        text = self.text(ent)
        if ent.subtype == "html":
            self.blocks.append(_Block(html=text))
            self.armor.extend(extras.pgp_armor(extras.html_to_text(text)) if "BEGIN PGP" in text else [])
            return
        if ent.subtype in ("enriched", "richtext"):
            text = re.sub(r"<[^<>]{1,60}>", "", text).replace("<<", "<")
        text = self.uuencoded(ent, text)
        if ent.subtype == "plain" and ent.params.get("format", "").lower() == "flowed":
            text = extras.unflow(text, ent.params.get("delsp", "").lower() == "yes")
        self.armor.extend(extras.pgp_armor(text))
        self.blocks.append(_Block(text=text))

    def uuencoded(self, ent: Entity, text: str) -> str:
        text, files = extras.extract_uuencoded(text)
        for n, f in enumerate(files, 1):
            name = safe_filename(f.name) or f"file-{n}"
            self.attachments.append(Attachment(
                section=f"{self.sec(ent)}~uu{n}", filename=name, size=len(f.data),
                content_type=mimetypes.guess_type(name)[0] or "application/octet-stream"))
        return text

    def _has_html(self, ent: Entity) -> bool:
        return any(e.content_type == "text/html" and self.is_body_text(e) for e in ent.walk()
                   if e.message is None)

    def alternative(self, ent: Entity, as_body: bool) -> None:
        # an empty alternative (as after a final boundary that does not close) is no choice
        children = [c for c in ent.children
                    if c.children or c.message is not None or self.raw[c.body_start:c.end].strip()] or ent.children
        html_child = next((c for c in reversed(children) if self._has_html(c)), None)
        text_child = next((c for c in reversed(children)
                           if (c.content_type == "text/plain" and self.is_body_text(c))
                           or (c.children and not self._has_html(c) and c.subtype != "alternative")), None)
        for child in children:
            if child is not html_child and child is not text_child and child.content_type == "text/calendar":
                self.leaf_attachment(child)
        if not as_body:
            for child in (html_child, text_child):
                if child is not None:
                    self.walk(child, False)
            return
        if html_child is None and text_child is None:
            # nothing we know how to show: the last alternative is the richest
            self.walk(children[-1], as_body)
            return
        block = _Block()
        if text_child is not None:
            self.has_text_alternative = True
            start = len(self.blocks)
            self.walk(text_child, True)
            texts = [b.text for b in self.blocks[start:] if b.text is not None]
            del self.blocks[start:]
            block.text = "\n\n".join(texts)
        if html_child is not None:
            start = len(self.blocks)
            self.walk(html_child, True)
            parts = [b.html if b.html is not None else _text_as_html(b.text or "") for b in self.blocks[start:]]
            del self.blocks[start:]
            block.html = "\n".join(parts)
        self.blocks.append(block)

    def related(self, ent: Entity, as_body: bool) -> None:
        start_id = ent.params.get("start", "").strip().strip("<>")
        root = next((c for c in ent.children if start_id and _content_id(c) == start_id), ent.children[0])
        self.walk(root, as_body)
        for child in ent.children:
            if child is not root:
                self.leaf_or_walk(child)

    def leaf_or_walk(self, ent: Entity) -> None:
        if ent.children or ent.message is not None:
            self.walk(ent, False)
        else:
            self.leaf_attachment(ent, related=True)

    def signed(self, ent: Entity, as_body: bool) -> None:
        protocol = ent.params.get("protocol", "").lower()
        content = ent.children[0]
        self.walk(content, as_body)
        for child in ent.children[1:]:
            ctype = child.content_type
            if "pgp" in protocol or ctype == "application/pgp-signature":
                armor = self.text(child) if ctype == "application/pgp-signature" else ""
                self.signatures.append(Signature("pgp", self.sec(child), self.sec(content), armor.strip()))
                self.leaf_attachment(child, kind="signature")
            elif "pkcs7" in protocol or "pkcs7" in ctype:
                self.signatures.append(Signature("smime", self.sec(child), self.sec(content)))
                self.leaf_attachment(child, kind="signature")
            else:
                self.walk(child, False)

    def encrypted_part(self, ent: Entity) -> None:
        protocol = ent.params.get("protocol", "").lower()
        if "pgp" in protocol or any(c.content_type == "application/pgp-encrypted" for c in ent.children):
            self.encrypted = "pgp"
            for child in ent.children:
                if child.content_type == "application/pgp-encrypted":
                    continue  # the "Version: 1" control part
                text = decode_bytes(self.data(child), None, self.hint).replace("\r\n", "\n")
                found = extras.pgp_armor(text)
                self.armor.extend(found)
                if found:
                    self.blocks.append(_Block(text="\n\n".join(found)))
                self.leaf_attachment(child, kind="encrypted")
            return
        for child in ent.children:
            self.leaf_attachment(child, kind="encrypted") if not child.children else self.walk(child, False)

    def attached_message(self, ent: Entity) -> None:
        inner = ent.message
        subject, from_, date = "", (), None
        if inner is not None:
            subject = decode_header(inner.header("subject") or b"", self.hint)
            from_ = tuple(parse_addresses(header_bytes_to_str(inner.header("from") or b"", self.hint), self.hint))
            date = parse_date(decode_header(inner.header("date") or b"", self.hint))
        self.attached.append(AttachedMessage(self.sec(ent), subject, from_, date))
        name = (_param_text(ent, "content-disposition", "filename", self.hint)
                or _param_text(ent, "content-type", "name", self.hint))
        if not name and subject:
            name = subject[:150] + ".eml"
        size = (ent.end - ent.body_start) if inner is not None else len(self.data(ent))
        self.attachments.append(Attachment(
            section=self.sec(ent), filename=safe_filename(name) or _default_name(ent, ent.section),
            content_type=ent.content_type, size=size, content_id=_content_id(ent),
            disposition=_disposition(ent) or "attachment", kind="message"))

    def leaf_attachment(self, ent: Entity, kind: str = "file", related: bool = False) -> None:
        data = self.data(ent)
        ctype = ent.content_type
        name = (_param_text(ent, "content-disposition", "filename", self.hint)
                or _param_text(ent, "content-type", "name", self.hint))
        att = Attachment(
            section=self.sec(ent), filename=safe_filename(name) or _default_name(ent, ent.section),
            content_type=ctype, size=len(data), content_id=_content_id(ent),
            disposition=_disposition(ent) or ("inline" if related else "attachment"), kind=kind)
        if att.content_id:
            self.inline_images.setdefault(att.content_id, att.section)
        if ctype == "text/calendar" or att.filename.lower().endswith(".ics") and kind == "file":
            att.kind = "calendar"
            self.events.extend(extras.calendar_events(decode_bytes(data, ent.params.get("charset"), self.hint),
                                                      att.section))
        elif ctype == "application/ms-tnef" or att.filename.lower() == "winmail.dat":
            self.tnef(ent, att, data)
        elif ctype in ("application/pkcs7-mime", "application/x-pkcs7-mime"):
            smime_type = ent.params.get("smime-type", "").lower()
            if smime_type == "signed-data":
                self.opaque_signed(ent, att, data)
            else:
                self.encrypted = self.encrypted or "smime"
                att.kind = "encrypted"
        elif ctype in ("application/pkcs7-signature", "application/x-pkcs7-signature") and kind == "file":
            att.kind = "signature"
        self.attachments.append(att)

    def tnef(self, ent: Entity, att: Attachment, data: bytes) -> None:
        att.kind = "tnef"
        found = extras.tnef_files(data)
        if found is None:
            self.problem(f"the Outlook attachment {att.filename} could not be unpacked")
            return
        files, text, html_body = found
        for n, f in enumerate(files, 1):
            name = safe_filename(f.name) or f"file-{n}"
            att.contents.append(Attachment(
                section=f"{att.section}~tnef{n}", filename=name, size=len(f.data),
                content_type=mimetypes.guess_type(name)[0] or "application/octet-stream"))
        if not self.blocks and (text or html_body):
            self.blocks.append(_Block(text=text, html=html_body))

    def opaque_signed(self, ent: Entity, att: Attachment, data: bytes) -> None:
        """S/MIME signed-data (opaque signing): the signed MIME entity lies inside the DER."""
        att.kind = "signature"
        inner = _pkcs7_content(data)
        if inner is None:
            self.problem("the S/MIME signed content could not be read")
            return
        self.signatures.append(Signature("smime", "", att.section))
        sub = parse(inner)
        self.blocks.append(_Block(text=sub.text_body, html=sub.html_body))
        self.armor.extend(sub.pgp_armor)


_BODY_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _decoded_text(ent: Entity, data: bytes, hint: str | None) -> tuple[str, bool]:
    """A text part's bytes as text, line ends normalised, cut to MAX_BODY_CHARS."""
    charset = ent.params.get("charset")
    if not charset and ent.subtype == "html":
        m = re.search(rb"""<meta[^>]{0,200}?charset\s*=\s*["']?([A-Za-z0-9_:.+-]{1,40})""", data[:4096], re.I)
        charset = m.group(1).decode("ascii") if m else None
    text = decode_bytes(data, charset, hint)
    cut = len(text) > MAX_BODY_CHARS
    text = text[:MAX_BODY_CHARS].replace("\r\n", "\n").replace("\r", "\n")
    return _BODY_CONTROL.sub("", text), cut


def _text_as_html(text: str) -> str:
    return f'<pre style="white-space:pre-wrap">{html.escape(text)}</pre>'


def _pkcs7_content(der: bytes) -> bytes | None:
    """The encapsulated content of a CMS SignedData (RFC 5652), with a minimal DER reader:
    ContentInfo → [0] SignedData → encapContentInfo → [0] OCTET STRING (maybe constructed)."""
    def tlv(buf: bytes, pos: int):
        if pos + 2 > len(buf):
            raise ValueError
        tag, first = buf[pos], buf[pos + 1]
        pos += 2
        if first < 0x80:
            length = first
        elif first == 0x80:
            return tag, pos, None  # indefinite length
        else:
            k = first & 0x7F
            if k > 4 or pos + k > len(buf):
                raise ValueError
            length = int.from_bytes(buf[pos:pos + k], "big")
            pos += k
        if pos + length > len(buf):
            raise ValueError
        return tag, pos, pos + length

    def children(buf: bytes, start: int, end: int | None):
        pos, stop = start, len(buf) if end is None else end
        out = []
        while pos < stop and len(out) < 64:
            if buf[pos:pos + 2] == b"\x00\x00":
                break
            tag, body, body_end = tlv(buf, pos)
            if body_end is None:
                raise ValueError  # nested indefinite lengths: not worth the risk
            out.append((tag, body, body_end))
            pos = body_end
        return out

    try:
        if len(der) < 20 or der[:1] != b"\x30":
            if re.fullmatch(rb"[A-Za-z0-9+/=\s]+", der[:200]):
                from .charsets import lenient_b64decode

                der = lenient_b64decode(der)
        tag, body, end = tlv(der, 0)
        ci = children(der, body, end)              # contentType, [0] content
        _, sd_body, sd_end = tlv(der, ci[1][1])     # SignedData SEQUENCE
        sd = children(der, sd_body, sd_end)         # version, digestAlgorithms, encapContentInfo, …
        eci = children(der, sd[2][1], sd[2][2])     # eContentType, [0] eContent
        if len(eci) < 2:
            return None
        inner = children(der, eci[1][1], eci[1][2])  # OCTET STRING (or constructed pieces)
        tag, o_body, o_end = inner[0]
        if tag == 0x04:
            return der[o_body:o_end]
        if tag == 0x24:
            return b"".join(der[b:e] for t, b, e in children(der, o_body, o_end) if t == 0x04)
    except (ValueError, IndexError):
        return None
    return None


def _hint(structure: Structure) -> str | None:
    """The message's own legacy charset, for unlabelled 8-bit bytes elsewhere in it."""
    for ent in structure.root.walk():
        label = normalise_charset(ent.params.get("charset"))
        if label and label != "utf-8":
            return ent.params.get("charset")
    return None


def _build(raw: bytes, structure: Structure, top: Entity, prefix: str, section: str) -> ReadableMessage:
    hint = _hint(structure)
    b = _Builder(raw, structure, hint, prefix)
    if len(raw) > MAX_MESSAGE_BYTES:
        b.problem("this message is too big to show: download it to read it")
    else:
        b.walk(top if top.children or top.message is None else top, True)
    headers = []
    for name, value in top.headers[:MAX_SHOWN_HEADERS]:
        if len(value) >= MAX_HEADER_VALUE:
            b.problem(f"the {name} header is too long to show in full")
        headers.append((name, decode_header(value, hint)))

    def addresses(name: str) -> list[Address]:
        # a budget over all the headers of one name: a thousand To: headers of 64 KiB each
        # must not cost seconds (the list is cut at MAX_ADDRESSES anyway)
        out: list[Address] = []
        budget = MAX_ADDRESS_BYTES
        for key, value in top.headers:
            if key.lower() == name and budget > 0 and len(out) < MAX_ADDRESSES:
                out.extend(parse_addresses(header_bytes_to_str(value[:budget], hint), hint))
                budget -= len(value)
        if budget < 0:
            b.problem(f"the {name.capitalize()} header is too long: not every address is shown")
        return out[:MAX_ADDRESSES]

    date_text = decode_header(top.header("date") or b"", hint)
    texts = [blk.text if blk.text is not None else extras.html_to_text(blk.html or "") for blk in b.blocks]
    html_body = None
    if any(blk.html is not None for blk in b.blocks):
        html_body = "\n".join(blk.html if blk.html is not None else _text_as_html(blk.text or "") for blk in b.blocks)
    for att in b.attachments:
        if att.content_id and html_body and re.search("cid:" + re.escape(att.content_id), html_body, re.I):
            att.inline = att.content_type.startswith("image/")
    return ReadableMessage(
        section=section,
        subject=decode_header(top.header("subject") or b"", hint),
        from_=addresses("from"), sender=addresses("sender"), to=addresses("to"), cc=addresses("cc"),
        bcc=addresses("bcc"), reply_to=addresses("reply-to"),
        date=parse_date(date_text), date_text=date_text,
        message_id=clean_display((top.header("message-id") or b"").decode("latin-1")),
        headers=headers,
        text_body="\n\n".join(t for t in texts if t),
        html_body=html_body,
        preferred="html" if html_body is not None else "text",
        has_text_alternative=b.has_text_alternative or html_body is None,
        attachments=b.attachments, inline_images=b.inline_images, attached_messages=b.attached,
        events=b.events, signatures=b.signatures, encrypted=b.encrypted,
        pgp_armor=list(dict.fromkeys(b.armor)), problems=b.problems,
    )


def _fallback(raw: bytes, section: str, error: Exception) -> ReadableMessage:
    logger.exception("message could not be parsed")
    text = decode_bytes(raw[:MAX_BODY_CHARS], None)
    return ReadableMessage(
        section=section, subject="", from_=[], sender=[], to=[], cc=[], bcc=[], reply_to=[], date=None,
        date_text="", message_id="", headers=[], text_body=text, html_body=None, preferred="text",
        has_text_alternative=True, attachments=[], inline_images={}, attached_messages=[], events=[],
        signatures=[], encrypted=None, pgp_armor=[],
        problems=[f"this message could not be read ({type(error).__name__}): shown as raw text"])


def parse(raw: bytes) -> ReadableMessage:
    """What the reading view shows for a raw message. Never raises."""
    try:
        raw = bytes(raw)
        structure = parse_structure(raw if len(raw) <= MAX_MESSAGE_BYTES else raw[:1024 * 1024])
        return _build(raw, structure, structure.root, "", "")
    except RecursionError as error:
        return _fallback(raw, "", error)
    except Exception as error:  # noqa: BLE001 - the contract: a page, never a stack trace
        return _fallback(raw, "", error)


def parse_attached(raw: bytes, section: str) -> ReadableMessage | None:
    """The attached message (message/rfc822) at *section* of *raw*, with its parts numbered
    as in the whole message (so ``part(raw, att.section)`` works for its attachments);
    None when there is no attached message there."""
    try:
        structure = parse_structure(raw)
        if "~" in section:
            outer, _, rest = section.partition("~")
            p = _derived_message(raw, structure, outer)
            if p is None:
                return None
            inner = parse_attached(p, rest) if rest else parse(p)
            return _prefixed(inner, outer + "~") if inner else None
        ent = structure.sections.get(section)
        if ent is None or not (ent.maintype == "message" and ent.subtype in ("rfc822", "global")):
            return None
        if ent.message is None:  # an encoded message/rfc822: parse its decoded bytes
            data, _ = decode_body(ent, raw)
            return _prefixed(parse(data), section + "~")
        top = ent.message
        result = _build(raw, structure, top, "", section)
        return result
    except Exception as error:  # noqa: BLE001
        return _fallback(raw, section, error)


def message_path(raw: bytes, section: str) -> list[AttachedMessage]:
    """The attached messages that hold *section*, outermost first (the one at *section* last
    when it is one): a breadcrumb from the whole message down to an attached one."""
    try:
        return _message_path(raw, section, "", 0)
    except Exception:  # noqa: BLE001 - a breadcrumb is not worth an error page
        logger.exception("the messages around %s could not be read", section)
        return []


def _message_path(raw: bytes, section: str, prefix: str, depth: int) -> list[AttachedMessage]:
    if depth > 5 or not re.fullmatch(r"[0-9.]+(~[0-9A-Za-z.~]+)?", section or ""):
        return []
    structure = parse_structure(raw)
    hint = _hint(structure)
    head, _, rest = section.partition("~")
    numbers = head.split(".")
    found: list[AttachedMessage] = []
    for n in range(1, len(numbers) + 1):
        ent = structure.sections.get(".".join(numbers[:n]))
        if ent is None or not (ent.maintype == "message" and ent.subtype in ("rfc822", "global")):
            continue
        top = ent.message
        if top is None:  # encoded: its header lies in the decoded bytes
            top = parse_structure(decode_body(ent, raw)[0][:MAX_HEADER_VALUE * 4]).root
        found.append(AttachedMessage(
            prefix + ent.section, decode_header(top.header("subject") or b"", hint),
            tuple(parse_addresses(header_bytes_to_str(top.header("from") or b"", hint), hint)),
            parse_date(decode_header(top.header("date") or b"", hint))))
    if rest:
        data = _derived_message(raw, structure, head)
        if data is not None:
            found.extend(_message_path(data, rest, f"{prefix}{head}~", depth + 1))
    return found


def _derived_message(raw: bytes, structure: Structure, section: str) -> bytes | None:
    ent = structure.sections.get(section)
    if ent is None or ent.maintype != "message":
        return None
    return decode_body(ent, raw)[0]


def _prefixed(msg: ReadableMessage, prefix: str) -> ReadableMessage:
    for att in msg.attachments:
        att.section = prefix + att.section
        for inner in att.contents:
            inner.section = prefix + inner.section
    msg.inline_images = {k: prefix + v for k, v in msg.inline_images.items()}
    msg.attached_messages = [AttachedMessage(prefix + a.section, a.subject, a.from_, a.date)
                             for a in msg.attached_messages]
    msg.events = [Event(**{**e.__dict__, "section": prefix + e.section}) for e in msg.events]
    msg.signatures = [Signature(s.kind, prefix + s.section if s.section else "", prefix + s.signed_section, s.armor)
                      for s in msg.signatures]
    msg.section = prefix.rstrip("~")
    return msg


def part(raw: bytes, section: str) -> Part | None:
    """One section of *raw*, decoded: an IMAP body section (``"2"``, ``"1.2"``) or a file
    found inside one (``"3~tnef1"``, ``"1~uu2"``, ``"4~2"`` inside an encoded attached
    message). None when there is no such part (or it is a multipart)."""
    try:
        return _part(raw, section, 0)
    except Exception:  # noqa: BLE001
        logger.exception("part %s could not be extracted", section)
        return None


def _part(raw: bytes, section: str, depth: int) -> Part | None:
    if depth > 5 or not re.fullmatch(r"[0-9.]+(~[0-9A-Za-z.~]+)?", section or ""):
        return None
    structure = parse_structure(raw)
    head, _, rest = section.partition("~")
    ent = structure.sections.get(head)
    if ent is None or ent.children:
        return None
    hint = _hint(structure)
    if rest:
        m = re.fullmatch(r"(uu|tnef)(\d{1,4})", rest)
        if m:
            return _derived_file(raw, structure, ent, head, m.group(1), int(m.group(2)), hint)
        if ent.maintype != "message":
            return None
        inner = _part(decode_body(ent, raw)[0], rest, depth + 1)
        if inner is None:
            return None
        return Part(section, inner.content_type, inner.filename, inner.data, inner.charset, inner.content_id)
    data = raw[ent.body_start:ent.end] if ent.message is not None else decode_body(ent, raw)[0]
    name = (_param_text(ent, "content-disposition", "filename", hint)
            or _param_text(ent, "content-type", "name", hint))
    if not name and ent.message is not None:
        subject = decode_header(ent.message.header("subject") or b"", hint)
        name = subject[:150] + ".eml" if subject else ""
    ctype = ent.content_type
    return Part(section, ctype, safe_filename(name) or _default_name(ent, head), data,
                ent.params.get("charset"), _content_id(ent))


def _derived_file(raw: bytes, structure: Structure, ent: Entity, head: str, kind: str, n: int,
                  hint: str | None) -> Part | None:
    data, _ = decode_body(ent, raw)
    if kind == "uu":
        files = extras.extract_uuencoded(_decoded_text(ent, data, hint)[0])[1]
        if not 1 <= n <= len(files):
            return None
        f = files[n - 1]
        name = safe_filename(f.name) or f"file-{n}"
    else:
        found = extras.tnef_files(data)
        if found is None or not 1 <= n <= len(found[0]):
            return None
        f = found[0][n - 1]
        name = safe_filename(f.name) or f"file-{n}"
    return Part(f"{head}~{kind}{n}", mimetypes.guess_type(name)[0] or "application/octet-stream", name, f.data)
