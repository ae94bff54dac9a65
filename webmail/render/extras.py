"""What some parts carry beyond bytes: calendar invites, TNEF (winmail.dat) contents,
uuencoded files inside text, PGP armor, format=flowed text, text from HTML.

Pure functions over bytes or text; each is bounded on hostile input and never raises.
"""

from __future__ import annotations

import datetime as dt
import html
import logging
import re
import struct
from dataclasses import dataclass
from html.parser import HTMLParser

logger = logging.getLogger(__name__)

MAX_EVENTS = 20
MAX_CALENDAR_BYTES = 1024 * 1024
MAX_TNEF_BYTES = 32 * 1024 * 1024
MAX_TNEF_OBJECTS = 4000
MAX_UU_FILES = 50


# --- Calendar invites --------------------------------------------------------------------------

@dataclass(frozen=True)
class Event:
    """A calendar event as an invite shows it. ``start``/``end`` are ``datetime`` (aware
    when the invite says which time zone) or ``date`` for all-day events."""

    summary: str
    start: dt.date | dt.datetime | None
    end: dt.date | dt.datetime | None
    location: str
    organizer_name: str
    organizer_address: str
    method: str            # REQUEST, CANCEL, REPLY… (upper case), "" when absent
    status: str            # CONFIRMED, CANCELLED… "" when absent
    description: str       # cut to 4000 characters
    section: str           # the text/calendar part's section


def _one_line(value) -> str:
    text = str(value or "")
    return re.sub(r"[\x00-\x08\x0b-\x1f\x7f]", "", text.replace("\r", " ").replace("\n", " ")).strip()


def calendar_events(text: str, section: str) -> list[Event]:
    """The events of a text/calendar invite (icalendar), [] when it can not be read."""
    if len(text) > MAX_CALENDAR_BYTES:
        return []
    try:
        import icalendar

        cal = icalendar.Calendar.from_ical(text)
        method = _one_line(cal.get("METHOD", "")).upper()
        events = []
        for comp in cal.walk("VEVENT")[:MAX_EVENTS]:
            organizer = comp.get("ORGANIZER")
            org_name = org_addr = ""
            if organizer is not None:
                org_addr = re.sub(r"(?i)^mailto:", "", _one_line(organizer))
                params = getattr(organizer, "params", {}) or {}
                org_name = _one_line(params.get("CN", "")).strip('"')
            events.append(Event(
                summary=_one_line(comp.get("SUMMARY", "")),
                start=_ical_time(comp.get("DTSTART")),
                end=_ical_time(comp.get("DTEND")),
                location=_one_line(comp.get("LOCATION", "")),
                organizer_name=org_name,
                organizer_address=org_addr,
                method=method,
                status=_one_line(comp.get("STATUS", "")).upper(),
                description=str(comp.get("DESCRIPTION", "") or "")[:4000],
                section=section,
            ))
        return events
    except Exception:  # noqa: BLE001 - a broken invite is shown as an attachment, never an error
        logger.debug("unreadable calendar part %s", section, exc_info=True)
        return []


def _ical_time(prop):
    value = getattr(prop, "dt", None)
    if isinstance(value, (dt.date, dt.datetime)):
        return value
    return None


# --- TNEF (winmail.dat) ------------------------------------------------------------------------

@dataclass(frozen=True)
class TnefFile:
    name: str
    data: bytes


def _tnef_sane(data: bytes, depth: int = 0) -> bool:
    """tnefparse trusts the counts in the file: a count of 4 billion properties makes it
    loop for hours, and every object is copied out of the rest of the data (quadratic). Walk
    the objects ourselves first and refuse what would cost more than the data is worth."""
    if depth > 3 or len(data) < 6 or struct.unpack_from("<I", data, 0)[0] != 0x223E9F78:
        return False
    pos, count, n = 6, 0, len(data)
    while pos + 12 < n:
        count += 1
        if count > MAX_TNEF_OBJECTS:
            return False
        name = struct.unpack_from("<H", data, pos + 1)[0]
        length = min(n - pos, struct.unpack_from("<I", data, pos + 5)[0] + 11)
        body = data[pos + 9:pos + length - 2]
        if name in (0x9003, 0x9005, 0x9004):  # MAPI property lists, recipient table
            if len(body) < 4 or struct.unpack_from("<I", body, 0)[0] > len(body) // 4:
                return False
            embedded = body.find(b"\x07\x03\x02\x00\x00\x00\x00\x00\xc0\x00\x00\x00\x00\x00\x00\x46")
            if embedded >= 0 and not _tnef_sane(body[embedded + 16:], depth + 1):
                return False
        pos += length
    return True


def tnef_files(data: bytes) -> tuple[list[TnefFile], str | None, str | None] | None:
    """(files, text body, html body) carried by a TNEF blob; None when it can not be read."""
    if len(data) > MAX_TNEF_BYTES or not _tnef_sane(data):
        return None
    try:
        from tnefparse import TNEF

        tnef = TNEF(data, do_checksum=False)
        files = []
        for n, att in enumerate(tnef.attachments, 1):
            try:
                name = att.long_filename()
            except Exception:  # noqa: BLE001 - a name in a broken codepage
                name = ""
            if isinstance(name, bytes):
                name = name.decode("cp1252", errors="replace")
            files.append(TnefFile(str(name or f"file-{n}").strip("\x00"), bytes(att.data or b"")))
        body = tnef.body
        if isinstance(body, bytes):
            body = body.decode("cp1252", errors="replace")
        html_body = tnef.htmlbody
        if isinstance(html_body, bytes):
            html_body = html_body.decode("cp1252", errors="replace")
        return files, (body or None), (html_body or None)
    except Exception:  # noqa: BLE001 - damaged TNEF: winmail.dat stays downloadable as it is
        logger.debug("unreadable TNEF", exc_info=True)
        return None


# --- uuencoded files inside text bodies ------------------------------------------------------

_UU_BLOCK = re.compile(
    r"^begin(?:-base64)? ([0-7]{3,4}) ([^\r\n]+)\r?\n((?:[!-`][ -`]*\r?\n){0,400000}?)(?:`?\r?\n)?end[ \t]*$",
    re.M,
)


@dataclass(frozen=True)
class UuFile:
    name: str
    data: bytes


def extract_uuencoded(text: str) -> tuple[str, list[UuFile]]:
    """uuencoded files in a text body: the text without them, and the files."""
    if "begin " not in text:
        return text, []
    import binascii

    files: list[UuFile] = []

    def repl(m: re.Match) -> str:
        if len(files) >= MAX_UU_FILES:
            return m.group(0)
        out = bytearray()
        for line in m.group(3).splitlines():
            raw = line.encode("latin-1", errors="replace")
            n = (raw[0] - 32) & 63 if raw else 0
            if not n:
                continue
            try:
                out += binascii.a2b_uu(raw)[:n]
            except binascii.Error:
                try:
                    out += binascii.a2b_uu(raw[: 1 + (n * 4 + 2) // 3])[:n]
                except binascii.Error:
                    continue
        name = m.group(2).strip()
        files.append(UuFile(name, bytes(out)))
        return f"[{name}]"

    return _UU_BLOCK.sub(repl, text), files


# --- PGP ------------------------------------------------------------------------------------

_ARMOR_BEGIN = re.compile(r"-----BEGIN PGP (MESSAGE|SIGNED MESSAGE|SIGNATURE|PUBLIC KEY BLOCK)-----")


def pgp_armor(text: str) -> list[str]:
    """The armored PGP blocks in a text, as they are (for Mailvelope and friends).
    str.find rather than one lazy regex: many BEGIN lines without an END stay linear."""
    out: list[str] = []
    pos = 0
    while len(out) < 20:
        begin = text.find("-----BEGIN PGP ", pos)
        if begin < 0:
            break
        m = _ARMOR_BEGIN.match(text, begin)
        if not m:
            pos = begin + 1
            continue
        # a signed message carries its signature block: the armor ends with the signature
        end_marker = "-----END PGP SIGNATURE-----" if m.group(1) == "SIGNED MESSAGE" else "-----END PGP "
        end = text.find(end_marker, m.end())
        if end < 0:
            break
        close = text.find("-----", end + len(end_marker) if end_marker.endswith("-----") else end + 14)
        stop = end + len(end_marker) if end_marker.endswith("-----") else close + 5
        if close < 0 and not end_marker.endswith("-----"):
            break
        out.append(text[begin:stop])
        pos = stop
    return out


# --- format=flowed (RFC 3676) -------------------------------------------------------------

def unflow(text: str, delsp: bool) -> str:
    """Joins soft-broken lines of a format=flowed text; quote depth is kept."""
    out: list[str] = []
    para: list[str] = []
    para_depth = -1
    for line in text.split("\n"):
        line = line.rstrip("\r")
        depth = len(line) - len(line.lstrip(">"))
        body = line[depth:]
        if body.startswith(" "):
            body = body[1:]  # space-stuffing
        if para and depth != para_depth:
            out.append(">" * para_depth + (" " if para_depth else "") + "".join(para))
            para = []
        soft = body.endswith(" ") and body != "-- "
        if soft:
            para.append(body[:-1] if delsp else body)
            para_depth = depth
            continue
        if para:
            para.append(body)
            out.append(">" * depth + (" " if depth else "") + "".join(para))
            para = []
        else:
            out.append(line if not depth else ">" * depth + " " + body)
        para_depth = -1
    if para:
        out.append(">" * para_depth + (" " if para_depth else "") + "".join(para))
    return "\n".join(out)


# --- Text from HTML (for the plain-text view of HTML-only mail) ------------------------------

_BLOCK_TAGS = frozenset({"p", "div", "br", "tr", "li", "h1", "h2", "h3", "h4", "h5", "h6", "table",
                         "blockquote", "pre", "hr", "ul", "ol", "section", "article", "header",
                         "footer"})


class _TextExtractor(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style", "head", "title"):
            self.skip += 1
        elif tag in _BLOCK_TAGS:
            self.out.append("\n")

    def handle_endtag(self, tag):
        if tag in ("script", "style", "head", "title"):
            self.skip = max(0, self.skip - 1)
        elif tag in _BLOCK_TAGS:
            self.out.append("\n")

    def handle_data(self, data):
        if not self.skip:
            self.out.append(data)


def html_to_text(markup: str) -> str:
    """Readable text of an HTML body (never markup: tags are dropped, entities decoded)."""
    parser = _TextExtractor()
    try:
        parser.feed(markup[:1024 * 1024])
        parser.close()
    except Exception:  # noqa: BLE001 - html.parser is lenient; this is a last resort
        return html.unescape(re.sub(r"<[^>]*>", " ", markup))
    text = "".join(parser.out)
    text = re.sub(r"[ \t\u00a0]+", " ", text)
    return re.sub(r"\n\s*\n\s*\n+", "\n\n", text).strip()
