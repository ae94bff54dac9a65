"""What a webmail URL may carry, checked before anything reaches IMAP: folder names, UIDs,
body sections. Each check raises ValueError, which Django's URL resolver turns into a 404.

Folder names in URLs: one path segment holding the full name (hierarchy included). WSGI
servers decode the path before Django sees it, so a plain ``%2F`` would come back as ``/``
and ``Archive/2024/7/`` would be ambiguous (folder ``Archive/2024`` or message 7 of
``Archive/2024``?). So ``%``, ``/`` (and a name made only of dots, which browsers would
resolve away) are escaped once more before the usual percent-encoding: the URL of
``Archive/2024`` is ``/mail/Archive%252F2024/``, of ``Über`` ``/mail/%C3%9Cber/``.

The bare segment ``-`` is never a folder: ``/mail/-/…`` holds the webmail's own pages
(folder management, settings). A folder really named ``-`` is written ``%2D`` (its URL is
``/mail/%252D/``).
"""

from __future__ import annotations

import re
from urllib.parse import unquote

MAX_FOLDER_LENGTH = 500
# Control characters (CR and LF above all: a line break would end the IMAP command) are
# refused outright; everything else is quoted by imapclient, and a name Dovecot does not
# know is simply "no such folder".
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_UID = re.compile(r"[1-9][0-9]{0,9}")
# IMAP's sections ("2", "1.2"), and render's derived ones inside a part ("3~tnef1", "1~uu2", "4~2").
_SECTION = re.compile(r"[0-9]{1,4}(\.[0-9]{1,4}){0,40}(~[0-9A-Za-z]{1,12}(\.[0-9]{1,4}){0,40}){0,4}")


def check_folder(name: str) -> str:
    if not name or len(name) > MAX_FOLDER_LENGTH or _CONTROL.search(name):
        raise ValueError("not a folder name")
    return name


def check_uid(text: str) -> int:
    if not _UID.fullmatch(text) or int(text) > 0xFFFFFFFF:
        raise ValueError("not a UID")
    return int(text)


def check_section(text: str) -> str:
    if not _SECTION.fullmatch(text):
        raise ValueError("not a body section")
    return text


# The segment of the webmail's own pages (see the module's docstring).
RESERVED_SEGMENT = "-"


def folder_to_segment(name: str) -> str:
    """The path segment of a folder (before Django's own percent-encoding)."""
    if name == RESERVED_SEGMENT:
        return "%2D"
    if name.strip(".") == "":
        return name.replace(".", "%2E")
    return name.replace("%", "%25").replace("/", "%2F")


def segment_to_folder(segment: str) -> str:
    if segment == RESERVED_SEGMENT:
        raise ValueError("the webmail's own pages, not a folder")
    return check_folder(unquote(segment, errors="strict"))


class FolderConverter:
    regex = "[^/]+"

    def to_python(self, value: str) -> str:
        return segment_to_folder(value)

    def to_url(self, value: str) -> str:
        return folder_to_segment(value)


class UidConverter:
    regex = "[0-9]+"

    def to_python(self, value: str) -> int:
        return check_uid(value)

    def to_url(self, value: int) -> str:
        return str(value)


class SectionConverter:
    regex = "[0-9][0-9A-Za-z.~]*"

    def to_python(self, value: str) -> str:
        return check_section(value)

    def to_url(self, value: str) -> str:
        return check_section(value)


class CidTokenConverter:
    # A django.core.signing token always holds a ":" — so a message URL of a folder named
    # "cid" (digits only) never matches this.
    regex = "[A-Za-z0-9_-]+:[A-Za-z0-9_:-]+"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value
