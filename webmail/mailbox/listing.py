"""One page of a folder: sorted on the server (IMAP SORT), only the rows shown fetched.

The sorted UID list of a folder and order is kept on the connection (session.State) and
reused while the folder's UIDVALIDITY, UIDNEXT and message count are unchanged: new mail
raises UIDNEXT, an expunge lowers the count, a re-created folder changes UIDVALIDITY, and
nothing else can change an order by date, arrival, sender, subject or size. (HIGHESTMODSEQ
is deliberately not part of the check: it moves at every flag change — opening a message
marks it read — and would throw the list away after every message read, while no order
offered here depends on flags.) Paging through a folder therefore costs one STATUS and one
FETCH of 50 rows, not a SORT of the whole folder each time.
"""

from __future__ import annotations

import datetime as dt
import math
from array import array
from dataclasses import dataclass

from imapclient import IMAPClient

from webmail.render.charsets import decode_header

from .session import NoSuchFolder, Selected, current, keep, kept, patiently, state_of

PAGE_SIZE = 50

# What the list may be sorted by (query parameter → IMAP SORT key, RFC 5256 / 5957).
SORTS = {
    "date": "DATE",
    "arrival": "ARRIVAL",
    "from": "DISPLAYFROM",
    "subject": "SUBJECT",
    "size": "SIZE",
}
# In Sent and Drafts the list shows (and sorts by) the recipients instead of the sender.
RECIPIENT_ROLES = {"sent", "drafts"}

_FETCH = ["ENVELOPE", "FLAGS", "RFC822.SIZE", "BODYSTRUCTURE", "INTERNALDATE"]
# The preview line (RFC 8970): Dovecot makes it from the text it reads for BODYSTRUCTURE
# anyway and caches it, so it costs a row ~0.03 ms once the page was seen.
_PREVIEW = "PREVIEW"
PREVIEW_LENGTH = 120


def row_items(client: IMAPClient) -> list[str]:
    """What a list row is fetched with (the preview where the server offers it)."""
    return _FETCH + [_PREVIEW] if client.has_capability("PREVIEW") else _FETCH


@dataclass
class Row:
    uid: int
    people: str          # the sender, or the recipients in Sent/Drafts
    subject: str
    date: dt.datetime | None
    size: int
    unread: bool
    flagged: bool
    answered: bool
    forwarded: bool
    attachment: bool
    preview: str = ""    # the start of the text, where the server offers it


@dataclass
class Page:
    folder: str
    rows: list[Row]
    total: int
    number: int
    pages: int
    sort: str
    reverse: bool
    recipients: bool     # the people column holds recipients
    # The folder as this page saw it: the toolbar's "all N messages" acts on those below
    # this UIDNEXT (not on mail that arrived since), and new mail is counted from it.
    uidvalidity: int = 0
    uidnext: int = 0


def sort_criteria(client: IMAPClient, sort: str, reverse: bool, recipients: bool) -> list[str]:
    key = SORTS[sort]
    if key == "DISPLAYFROM":
        if recipients:
            key = "DISPLAYTO"
        if not client.has_capability("SORT=DISPLAY"):
            key = key.replace("DISPLAY", "")
    return ["REVERSE", key] if reverse else [key]


def sorted_uids(client: IMAPClient, selected: Selected, criteria: list[str]) -> array:
    state = state_of(client)
    key = (selected.name, " ".join(criteria))
    validator = (selected.uidvalidity, selected.uidnext, selected.exists)
    uids = kept(state.sorted, key, validator)
    if uids is None:
        with patiently(client):
            uids = keep(state, state.sorted, key, validator, client.sort(criteria))
    return uids


def folder_page(client: IMAPClient, folder: str, *, sort: str = "date", reverse: bool = True, number: int = 1,
                page_size: int = PAGE_SIZE,
                role: str | None = None) -> Page:
    """Page `number` (from 1; clamped to the last) of `folder` in the given order."""
    selected = current(client, folder)
    recipients = role in RECIPIENT_ROLES
    uids = sorted_uids(client, selected, sort_criteria(client, sort, reverse, recipients))
    pages = max(1, math.ceil(len(uids) / page_size))
    number = min(max(1, number), pages)
    shown = list(uids[(number - 1) * page_size:number * page_size])
    fetched = client.fetch(shown, row_items(client)) if shown else {}
    rows = [_row(uid, fetched[uid], recipients) for uid in shown if uid in fetched]
    return Page(folder, rows, len(uids), number, pages, sort, reverse, recipients, selected.uidvalidity,
                selected.uidnext)


def _text(value) -> str:
    if value is None:
        return ""
    return decode_header(bytes(value))


def _address(address) -> str:
    name = _text(address.name)
    if name:
        return name
    mailbox = (address.mailbox or b"").decode("utf-8", "replace")
    host = (address.host or b"").decode("utf-8", "replace")
    return f"{mailbox}@{host}" if host else mailbox


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    # imapclient hands out naive datetimes in the web host's local time.
    if value is None:
        return None
    return value.astimezone() if value.tzinfo is None else value


def _row(uid: int, data: dict, recipients: bool) -> Row:
    envelope = data.get(b"ENVELOPE")
    flags = {f.lower() for f in data.get(b"FLAGS", ())}
    people = []
    if envelope is not None:
        for address in (envelope.to or ()) + (envelope.cc or ()) if recipients else (envelope.from_ or ()):
            if address.mailbox is not None or address.name:  # not a group start/end marker
                people.append(_address(address))
    date = _aware(envelope.date if envelope is not None else None) or _aware(data.get(b"INTERNALDATE"))
    return Row(
        uid=uid,
        people=", ".join(people),
        subject=_text(envelope.subject if envelope is not None else None),
        date=date,
        size=int(data.get(b"RFC822.SIZE", 0)),
        unread=b"\\seen" not in flags,
        flagged=b"\\flagged" in flags,
        answered=b"\\answered" in flags,
        forwarded=b"$forwarded" in flags,
        attachment=has_attachment(data.get(b"BODYSTRUCTURE")),
        preview=_preview(data.get(b"PREVIEW")),
    )


def _preview(value) -> str:
    if not value:
        return ""
    text = " ".join(bytes(value).decode("utf-8", "replace").split())  # no line breaks or runs of spaces
    return text[:PREVIEW_LENGTH]


_SIGNATURES = {b"application/pgp-signature", b"application/pkcs7-signature", b"application/x-pkcs7-signature"}


def has_attachment(structure, within: bytes = b"mixed") -> bool:
    """Whether a BODYSTRUCTURE holds a part the member would call an attachment: one marked
    `attachment`, a named non-text part (not an image of an HTML body's multipart/related),
    or an attached message. Signatures are not attachments."""
    if not structure:
        return False
    if isinstance(structure[0], list):  # multipart: ([parts], subtype, …)
        subtype = (structure[1] or b"").lower()
        return any(has_attachment(part, subtype) for part in structure[0])
    maintype = (structure[0] or b"").lower()
    subtype = (structure[1] or b"").lower()
    if maintype + b"/" + subtype in _SIGNATURES:
        return False
    if maintype == b"message" and subtype in (b"rfc822", b"global"):
        return True
    # Where the extension data starts: text has a line count, message/rfc822 an envelope,
    # a body and a line count after the seven basic fields.
    disposition_at = 9 if maintype == b"text" else 8
    disposition = structure[disposition_at] if len(structure) > disposition_at else None
    kind = (disposition[0] or b"").lower() if isinstance(disposition, tuple) and disposition else b""
    if kind == b"attachment":
        return True
    params = structure[2] if isinstance(structure[2], tuple) else ()
    named = any(isinstance(p, bytes) and p.lower() == b"name" for p in params[::2])
    if isinstance(disposition, tuple) and len(disposition) > 1 and isinstance(disposition[1], tuple):
        named = named or any(isinstance(p, bytes) and p.lower() == b"filename" for p in disposition[1][::2])
    return named and maintype != b"text" and within != b"related"


def require_folder(tree, name: str):
    """The tree entry of `name` (INBOX in any case), if it can be opened; else NoSuchFolder."""
    for folder in tree:
        if folder.name == name or (name.upper() == "INBOX" and folder.role == "inbox"):
            if not folder.selectable:
                break
            return folder
    raise NoSuchFolder(name)
