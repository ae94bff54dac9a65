"""Bytes to text for the reader: the one place where charset labels are interpreted.

Python's codecs (and the `email` package on top of them) decode several real-world labels
wrongly or not at all; every work-around lives here:

- GB2312 is really GBK (or GB18030) in practice: decoded as ``gb18030``, a superset.
- Shift_JIS is really Microsoft's CP932 (NEC and IBM extensions): decoded as ``cp932``.
- EUC-KR and ``ks_c_5601-1987`` are really CP949 (Unified Hangul Code): decoded as ``cp949``.
- Big5 is decoded as ``big5hkscs`` (a superset).
- ISO-8859-1 (and us-ascii) labels on text with bytes 0x80-0x9F are really windows-1252, as
  every browser treats them (and the WHATWG Encoding standard says); ISO-8859-9 → windows-1254.
- ISO-2022-JP as Outlook writes it (Microsoft's CP50220/50221/50222) carries NEC special
  characters (row 13: ①, ㈱, …), IBM extensions and half-width katakana (``ESC ( I`` or
  SO/SI), which Python's ``iso2022_jp`` codecs refuse: :func:`_decode_iso2022jp` transcodes
  the JIS X 0208 pairs to Shift_JIS and decodes them as CP932, which accepts all of these.
- "us-ascii", missing, ``x-unknown``, ``unknown-8bit`` or unknown labels on 8-bit text:
  UTF-8 if the bytes are valid UTF-8, else the message's own charset (the *hint*), else
  windows-1252. A Latin label on bytes that are valid multi-byte UTF-8 is a mislabelled
  UTF-8 text (the classic "Ã©" mojibake) and is decoded as UTF-8.
- Raw 8-bit header bytes: UTF-8, then the hint, then windows-1252.
- RFC 2047 encoded words: split across lines, adjacent words cut in the middle of a
  multi-byte character (their bytes are joined before decoding), wrong case, spaces inside,
  a missing ``?=`` at the end, unknown charsets, language suffixes (``utf-8*en``).

Every function here returns ``str`` and never raises on any input.
"""

from __future__ import annotations

import binascii
import codecs
import re

# Labels whose meaning is "no reliable charset": the text is sniffed instead.
_UNKNOWN = frozenset({
    "", "us-ascii", "ascii", "ansi_x3.4-1968", "iso646-us", "us", "x-unknown", "unknown",
    "unknown-8bit", "x-user-defined", "default", "none", "8bit", "7bit", "binary", "charset",
    "x-ascii", "cp367", "ibm367",
})

# Labels mapped to the codec that decodes what mailers really send under them.
_ALIASES = {
    "utf8": "utf-8", "utf-8": "utf-8", "unicode-1-1-utf-8": "utf-8", "x-unicode20utf8": "utf-8",
    "unicode-2-0-utf-8": "utf-8", "x-utf-8": "utf-8", "utf-8-sig": "utf-8",
    "iso-8859-1": "cp1252", "iso8859-1": "cp1252", "iso_8859-1": "cp1252", "latin1": "cp1252",
    "latin-1": "cp1252", "l1": "cp1252", "cp819": "cp1252", "ibm819": "cp1252",
    "iso-8859-9": "cp1254", "iso8859-9": "cp1254", "latin5": "cp1254",
    "iso-8859-11": "cp874", "tis-620": "cp874", "windows-874": "cp874",
    "iso-8859-8-i": "iso8859-8", "iso-8859-6-i": "iso8859-6",
    "gb2312": "gb18030", "gbk": "gb18030", "x-gbk": "gb18030", "cp936": "gb18030",
    "euc-cn": "gb18030", "chinese": "gb18030", "csgb2312": "gb18030", "gb_2312-80": "gb18030",
    "gb_2312": "gb18030", "x-euc-cn": "gb18030", "gb18030": "gb18030", "windows-936": "gb18030",
    "shift_jis": "cp932", "shift-jis": "cp932", "sjis": "cp932", "x-sjis": "cp932",
    "ms_kanji": "cp932", "csshiftjis": "cp932", "windows-31j": "cp932", "cp932": "cp932",
    "x-ms-cp932": "cp932", "shift_jisx0213": "cp932",
    "euc-kr": "cp949", "ks_c_5601-1987": "cp949", "ks_c_5601": "cp949", "ksc5601": "cp949",
    "ksc_5601": "cp949", "korean": "cp949", "x-windows-949": "cp949", "windows-949": "cp949",
    "cp949": "cp949", "uhc": "cp949", "csksc56011987": "cp949", "iso-ir-149": "cp949",
    "ks_c_5601-1989": "cp949", "x-euc-kr": "cp949", "csEUCKR": "cp949",
    "big5": "big5hkscs", "big5-hkscs": "big5hkscs", "x-x-big5": "big5hkscs", "cn-big5": "big5hkscs",
    "csbig5": "big5hkscs", "x-big5": "big5hkscs",
    "iso-2022-jp": "iso-2022-jp", "csiso2022jp": "iso-2022-jp", "iso-2022-jp-1": "iso-2022-jp",
    "iso-2022-jp-2": "iso-2022-jp", "iso-2022-jp-3": "iso-2022-jp", "iso-2022-jp-2004": "iso-2022-jp",
    "x-iso-2022-jp": "iso-2022-jp", "cp50220": "iso-2022-jp", "cp50221": "iso-2022-jp",
    "cp50222": "iso-2022-jp", "jis": "iso-2022-jp", "iso2022jp": "iso-2022-jp",
    "euc-jp": "euc-jp", "x-euc-jp": "euc-jp", "eucjp": "euc-jp", "cseucpkdfmtjapanese": "euc-jp",
    "cp51932": "euc-jp", "euc-jis-2004": "euc-jp",
    "macintosh": "mac_roman", "x-mac-roman": "mac_roman", "mac": "mac_roman",
    "x-mac-cyrillic": "mac_cyrillic", "koi8r": "koi8_r", "koi8u": "koi8_u",
}

# The Python codecs a label may resolve to: text charsets only. codecs.lookup also knows
# bytes-to-bytes codecs (zlib, base64, …) and oddities (unicode_escape, idna, undefined)
# that a hostile label must never reach.
_CODEC_OK = re.compile(
    r"^(utf[-_]?(8|16|32|7)(-?(le|be))?|utf_8_sig|ascii|latin_1|cp\d+|iso8859[-_]\d+|koi8[-_]\w|"
    r"mac[-_]\w+|euc_\w+|shift_\w+|gb\w+|big5\w*|iso2022_\w+|hz|johab|tis[-_]620|ptcp154|kz1048|"
    r"hp_roman8)$"
)

_MULTIBYTE_UTF8 = re.compile(rb"[\xc2-\xf4][\x80-\xbf]")


def normalise_charset(label: str | bytes | None) -> str | None:
    """The codec name for a charset label as mailers use it; None when the label says
    nothing reliable (absent, us-ascii, unknown, or a codec we do not trust)."""
    if label is None:
        return None
    if isinstance(label, bytes):
        label = label.decode("latin-1")
    name = label.strip().strip("\"'").strip().lower()
    name = name.split("*", 1)[0]  # RFC 2231 language suffix: utf-8*en
    if name in _UNKNOWN or len(name) > 40:
        return None
    if name in _ALIASES:
        return _ALIASES[name]
    for candidate in (name, name.replace("_", "-"), name.removeprefix("x-"), name.replace("-", "")):
        if candidate in _ALIASES:
            return _ALIASES[candidate]
        try:
            info = codecs.lookup(candidate)
        except (LookupError, ValueError):
            continue
        if not getattr(info, "_is_text_encoding", True) or not _CODEC_OK.match(info.name):
            return None
        if info.name == "latin_1":
            return "cp1252"
        if info.name in ("ascii",):
            return None
        return {"iso8859-9": "cp1254", "gb2312": "gb18030", "gbk": "gb18030", "shift_jis": "cp932",
                "euc_kr": "cp949", "big5": "big5hkscs", "iso2022_jp": "iso-2022-jp",
                "euc_jp": "euc-jp", "utf-8": "utf-8"}.get(info.name, info.name)
    return None


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _looks_iso2022jp(data: bytes) -> bool:
    return b"\x1b$B" in data or b"\x1b$@" in data or b"\x1b(I" in data or b"\x1b$(" in data


def decode_bytes(data: bytes, charset: str | None = None, hint: str | None = None) -> str:
    """Text from *data* labelled *charset* (a label as found in the mail, or None).

    *hint* is the message's own charset (another part's label), used for unlabelled 8-bit
    bytes. Never raises; undecodable bytes become U+FFFD.
    """
    if not data:
        return ""
    name = normalise_charset(charset)
    if data.isascii():
        if name in ("iso-2022-jp",) or (name is None and _looks_iso2022jp(data)):
            return _decode_iso2022jp(data)
        if name and (name.startswith(("utf_16", "utf_32", "utf-16", "utf-32", "utf_7", "utf-7"))
                     or name in ("hz", "iso2022_kr", "iso2022_jp_2")):
            return _decode_with(data, name)
        return data.decode("ascii")
    if name is None:
        if _is_utf8(data):
            return data.decode("utf-8").removeprefix("\ufeff")
        hinted = normalise_charset(hint)
        if hinted and hinted != "utf-8":
            text = _strict(data, hinted)
            if text is not None:
                return text
        return data.decode("cp1252", errors="replace")
    if name in ("cp1252", "cp1254") and _MULTIBYTE_UTF8.search(data) and _is_utf8(data):
        return data.decode("utf-8")  # UTF-8 mislabelled as Latin: would be "Ã©" mojibake
    return _decode_with(data, name)


def _strict(data: bytes, name: str) -> str | None:
    try:
        if name == "iso-2022-jp":
            return _decode_iso2022jp(data)
        if name == "euc-jp":
            return data.decode("euc_jp")
        return data.decode(name)
    except (UnicodeDecodeError, LookupError):
        return None


def _decode_with(data: bytes, name: str) -> str:
    try:
        if name == "utf-8":
            return data.decode("utf-8").removeprefix("\ufeff")
        if name == "iso-2022-jp":
            return _decode_iso2022jp(data)
        if name == "euc-jp":
            for codec in ("euc_jp", "euc_jis_2004"):
                text = _strict(data, codec)
                if text is not None:
                    return text
            return data.decode("euc_jis_2004", errors="replace")
        if name == "cp932":
            for codec in ("cp932", "shift_jis_2004"):
                text = _strict(data, codec)
                if text is not None:
                    return text
            return data.decode("cp932", errors="replace")
        return data.decode(name)
    except UnicodeDecodeError:
        pass
    except LookupError:
        name = "cp1252"
    if name != "utf-8" and _is_utf8(data):
        return data.decode("utf-8")
    try:
        return data.decode(name, errors="replace")
    except LookupError:
        return data.decode("cp1252", errors="replace")


# --- ISO-2022-JP, the way Outlook writes it -------------------------------------------------

_ISO2022_SPLIT = re.compile(rb"(\x1b\$\(?[@BDAOPQC]|\x1b&@|\x1b\([BJIH]|\x1b[.-][A-Z]|\x1bN.|\x0e|\x0f)", re.S)


def _jis_pairs_to_sjis(seg: bytes) -> bytes:
    out = bytearray()
    for i in range(0, len(seg) - 1, 2):
        j1, j2 = seg[i], seg[i + 1]
        if not (0x21 <= j1 <= 0x7E and 0x21 <= j2 <= 0x7E):
            out += b"?"
            continue
        if j1 % 2:
            s2 = j2 + 0x1F + (1 if j2 >= 0x60 else 0)
        else:
            s2 = j2 + 0x7E
        s1 = ((j1 - 0x21) >> 1) + 0x81
        if s1 > 0x9F:
            s1 += 0x40
        out += bytes((s1, s2))
    if len(seg) % 2:
        out += b"?"
    return bytes(out)


def _decode_two_byte(seg: bytes, mode: str) -> str:
    # Control bytes (line ends, tabs) inside a two-byte run are not pairs: keep them as is.
    pieces = re.split(rb"([\x00-\x20]+)", seg)
    text = []
    for n, piece in enumerate(pieces):
        if n % 2:
            text.append(piece.decode("latin-1"))
        elif piece:
            if mode == "jis0208":
                text.append(_jis_pairs_to_sjis(piece).decode("cp932", errors="replace"))
            else:
                high = bytes(b | 0x80 for b in piece)
                if mode == "jis0212":
                    high = b"".join(b"\x8f" + high[i:i + 2] for i in range(0, len(high), 2))
                codec = {"jis0212": "euc_jp", "jis0213": "euc_jis_2004", "gb2312": "gb18030",
                         "ksc5601": "cp949", "jis0213p2": "euc_jis_2004"}[mode]
                if mode == "jis0213p2":
                    high = b"".join(b"\x8f" + high[i:i + 2] for i in range(0, len(high), 2))
                text.append(high.decode(codec, errors="replace"))
    return "".join(text)


def _decode_iso2022jp(data: bytes) -> str:
    """ISO-2022-JP including Microsoft's CP50220/50221/50222 extensions."""
    try:
        return data.decode("iso2022_jp")
    except UnicodeDecodeError:
        pass
    mode, saved, out = "ascii", "ascii", []
    for n, seg in enumerate(_ISO2022_SPLIT.split(data)):
        if n % 2:
            if seg in (b"\x1b$@", b"\x1b$B", b"\x1b$(B", b"\x1b$(@"):
                mode = "jis0208"
            elif seg == b"\x1b$(D":
                mode = "jis0212"
            elif seg in (b"\x1b$(O", b"\x1b$(Q"):
                mode = "jis0213"
            elif seg == b"\x1b$(P":
                mode = "jis0213p2"
            elif seg in (b"\x1b$A", b"\x1b$(A"):
                mode = "gb2312"
            elif seg == b"\x1b$(C":
                mode = "ksc5601"
            elif seg in (b"\x1b(I",):
                mode = "kana"
            elif seg in (b"\x1b(B", b"\x1b(J", b"\x1b(H"):
                mode = "ascii"
            elif seg == b"\x0e":
                saved, mode = mode, "kana"
            elif seg == b"\x0f":
                mode = saved if saved != "kana" else "ascii"
            elif seg.startswith(b"\x1bN") and len(seg) == 3:
                out.append(bytes((seg[2] | 0x80,)).decode("latin-1"))
            continue  # \x1b& @ (JIS X 0208-1990 announcer) and G2 designations: nothing to show
        if not seg:
            continue
        if mode == "ascii":
            out.append(seg.decode("cp932", errors="replace") if not seg.isascii() else seg.decode("ascii"))
        elif mode == "kana":
            out.append(bytes(b | 0x80 if 0x21 <= b <= 0x5F else b for b in seg).decode("cp932", errors="replace"))
        else:
            out.append(_decode_two_byte(seg, mode))
    return "".join(out)


# --- Headers ----------------------------------------------------------------------------------

def header_bytes_to_str(raw: bytes, hint: str | None = None) -> str:
    """A raw header value (possibly with 8-bit bytes, as some mailers send) as text:
    UTF-8, then the message's charset *hint*, then windows-1252."""
    if raw.isascii():
        return raw.decode("ascii")
    if _is_utf8(raw):
        return raw.decode("utf-8")
    hinted = normalise_charset(hint)
    if hinted and hinted != "utf-8":
        text = _strict(raw, hinted)
        if text is not None:
            return text
    return raw.decode("cp1252", errors="replace")


_EW = re.compile(r"=\?([^?\s]{1,75}?)\?([bBqQ])\?([^?]*?)\?=")
# A last word whose ?= was lost (cut or truncated by a mailer): up to the next space.
_EW_OPEN = re.compile(r"=\?([^?\s]{1,75})\?([bBqQ])\?([^?\s]*)\??(?=\s|$)")
_QP_WORD = re.compile(rb"=([0-9A-Fa-f]{2})")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_LINE_BREAKS = re.compile(r"[\t\r\n]+")


def lenient_b64decode(data: bytes) -> bytes:
    """Base64 that survives garbage: non-alphabet bytes are dropped, padding repaired, and
    blobs glued together (each with its own padding) decoded one by one."""
    clean = re.sub(rb"[^A-Za-z0-9+/=]", b"", data)
    # URL-safe alphabet some broken senders use
    if not clean and data:
        clean = re.sub(rb"[^A-Za-z0-9\-_=]", b"", data).translate(bytes.maketrans(b"-_", b"+/"))
    out = []
    for chunk in re.split(rb"=+", clean):
        if not chunk:
            continue
        rest = len(chunk) % 4
        if rest == 1:
            chunk = chunk[:-1]
        elif rest:
            chunk += b"=" * (4 - rest)
        try:
            out.append(binascii.a2b_base64(chunk))
        except (binascii.Error, ValueError):
            continue
    return b"".join(out)


def _word_bytes(encoding: str, text: str) -> bytes:
    raw = text.encode("latin-1", errors="replace")
    if encoding in "bB":
        return lenient_b64decode(raw)
    raw = raw.replace(b"_", b" ")
    return _QP_WORD.sub(lambda m: bytes((int(m.group(1), 16),)), raw)


def clean_display(text: str) -> str:
    """One line for display: folding whitespace and control characters removed."""
    return _CONTROL.sub("", _LINE_BREAKS.sub(" ", text)).strip()


def decode_words(text: str, hint: str | None = None) -> str:
    """Decode RFC 2047 encoded words in an (unfolded) header value, leniently."""
    if "=?" not in text:
        return text
    pieces: list[tuple[str, str | None, bytes]] = []  # (kind, charset, payload) runs
    pos = 0
    for m in _EW.finditer(text):
        gap = text[pos:m.start()]
        if gap:
            _add_gap(pieces, gap)
        pieces.append(("word", m.group(1), _word_bytes(m.group(2), m.group(3))))
        pos = m.end()
    if pos < len(text):
        _add_gap(pieces, text[pos:])
    out = []
    # whitespace between two encoded words is dropped (RFC 2047 §6.2); the bytes of adjacent
    # words in one charset are joined so a character cut between two words comes out whole.
    i = 0
    while i < len(pieces):
        kind, charset, payload = pieces[i]
        if kind == "text":
            prev_word = out and pieces[i - 1][0] == "word"
            next_word = i + 1 < len(pieces) and pieces[i + 1][0] == "word"
            gap = payload.decode("utf-8", errors="replace")
            if not (prev_word and next_word and not gap.strip()):
                out.append(gap)
            i += 1
            continue
        label = normalise_charset(charset)
        buf = bytearray(payload)
        j = i + 1
        while j < len(pieces):
            if pieces[j][0] == "text" and not pieces[j][2].strip() and j + 1 < len(pieces) \
                    and pieces[j + 1][0] == "word" and normalise_charset(pieces[j + 1][1]) == label:
                buf += pieces[j + 1][2]
                j += 2
            elif pieces[j][0] == "word" and normalise_charset(pieces[j][1]) == label:
                buf += pieces[j][2]
                j += 1
            else:
                break
        out.append(decode_bytes(bytes(buf), charset, hint))
        i = j
    return "".join(out)


def _add_gap(pieces: list, gap: str) -> None:
    pos = 0
    for m in _EW_OPEN.finditer(gap):
        if m.start() > pos:
            pieces.append(("text", None, gap[pos:m.start()].encode("utf-8")))
        pieces.append(("word", m.group(1), _word_bytes(m.group(2), m.group(3))))
        pos = m.end()
    if pos < len(gap):
        pieces.append(("text", None, gap[pos:].encode("utf-8")))


def decode_header(raw: bytes, hint: str | None = None) -> str:
    """A raw (unfolded) header value as one display line: 8-bit bytes, encoded words and
    control characters all handled."""
    return clean_display(decode_words(header_bytes_to_str(raw, hint), hint))
