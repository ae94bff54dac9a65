"""Search on the server: what the member asked for as IMAP search criteria that can mean
nothing else, sorted newest first (SORT (REVERSE DATE) … <criteria>), in one folder or in
every folder in turn.

imapclient 4.1 sends a search term as an atom unless it holds a space, a quote or a
backslash: `{5}` or `(` then make the command a syntax error, and a CR LF would end it and
start another. So the criteria are built here, every typed string through :func:`quoted`
(an IMAP quoted string, or a literal when it is not ASCII), and sent as they are through
imapclient's `_raw_command_untagged`, which passes bytes arguments through untouched and
sends the 8-bit ones as literals (`{n+}` with LITERAL+).

Body and header words are looked up in Dovecot's full-text index (fts-xapian): words and
parts of words of 3 to 20 characters; shorter ones find nothing, and an address is
matched word by word ("zq@example.org" also finds friend@example.org: "example", "org").

Dovecot has no MULTISEARCH (RFC 7377): "all folders" selects each folder and sorts there,
through session.select, so the kept connection's State always names the folder that is
selected afterwards (the last one searched).
"""

from __future__ import annotations

import datetime as dt
import math
import re
from array import array
from dataclasses import dataclass, fields

from imapclient import IMAPClient

from .folders import Folder
from .listing import PAGE_SIZE, RECIPIENT_ROLES, Row, _row, row_items
from .session import NoSuchFolder, Selected, current, kept, patiently, state_of
from .session import keep as keep_list

MAX_TERM = 200
# CR and LF would end the command line; NUL is not allowed in IMAP strings at all; the other
# control characters are never typed on purpose.
REFUSED = re.compile(r"[\x00-\x1f\x7f]")
# IMAP dates (RFC 3501 date-month) are English whatever the locale: no strftime.
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_MAX_NUMBER = 0xFFFFFFFF  # IMAP's number (RFC 3501: unsigned 32-bit)



class Literal(bytes):
    """A term that is not ASCII: its UTF-8, sent as an IMAP literal (never quoted)."""


def quoted(term: str) -> bytes:
    """`term` as one IMAP string: quoted (`\\` and `"` escaped) when ASCII, else a Literal of
    its UTF-8. ValueError for control characters (CR, LF, NUL…) and terms over MAX_TERM."""
    if len(term) > MAX_TERM:
        raise ValueError(f"a search term has at most {MAX_TERM} characters")
    if REFUSED.search(term):
        raise ValueError("line breaks and control characters can not be searched for")
    if not term.isascii():
        return Literal(term.encode("utf-8"))
    return b'"' + term.encode("ascii").replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'


def imap_date(day: dt.date) -> bytes:
    """05-Mar-2024."""
    return f"{day.day:02d}-{_MONTHS[day.month - 1]}-{day.year:04d}".encode("ascii")


def _number(value: int) -> bytes:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= _MAX_NUMBER:
        raise ValueError("not an IMAP number")
    return str(value).encode("ascii")


@dataclass(frozen=True)
class Query:
    """What to look for; empty strings and None ask nothing. All given parts must match."""

    text: str = ""            # anywhere: sender, recipients, subject or body
    sender: str = ""
    recipient: str = ""
    subject: str = ""
    body: str = ""
    since: dt.date | None = None    # sent on or after (the Date header's day)
    before: dt.date | None = None   # sent before
    unread: bool = False
    flagged: bool = False
    answered: bool = False
    larger: int | None = None       # bytes
    smaller: int | None = None
    everywhere: bool = False        # all folders, not only this one

    @property
    def empty(self) -> bool:
        return not any(getattr(self, f.name) not in ("", None, False) for f in fields(self) if f.name != "everywhere")

    @property
    def flag_free(self) -> bool:
        """Whether the answer depends on the messages alone (not on flags, which change
        without the folder's UIDNEXT or size changing): only then may it be kept."""
        return not (self.unread or self.flagged or self.answered)

    @property
    def terms(self) -> list[str]:
        return [t for t in (self.text, self.sender, self.recipient, self.subject, self.body) if t]


def criteria(query: Query) -> list[bytes]:
    """The IMAP search keys of `query` (ALL when it asks nothing), each typed string quoted."""
    out: list[bytes] = []
    if query.text:
        term = quoted(query.text)
        out += [b"OR", b"FROM", term, b"OR", b"TO", term, b"OR", b"SUBJECT", term, b"BODY", term]
    for key, value in ((b"FROM", query.sender), (b"TO", query.recipient), (b"SUBJECT", query.subject),
                       (b"BODY", query.body)):
        if value:
            out += [key, quoted(value)]
    # SENT*: the day the list shows (the Date header), not the day the message was stored.
    if query.since is not None:
        out += [b"SENTSINCE", imap_date(query.since)]
    if query.before is not None:
        out += [b"SENTBEFORE", imap_date(query.before)]
    for wanted, key in ((query.unread, b"UNSEEN"), (query.flagged, b"FLAGGED"), (query.answered, b"ANSWERED")):
        if wanted:
            out.append(key)
    if query.larger is not None:
        out += [b"LARGER", _number(query.larger)]
    if query.smaller is not None:
        out += [b"SMALLER", _number(query.smaller)]
    return out or [b"ALL"]


def sort_newest_first(client: IMAPClient, keys: list[bytes]) -> array:
    """UID SORT (REVERSE DATE) UTF-8 <keys> in the selected folder; `keys` from criteria()."""
    with patiently(client):
        data = client._raw_command_untagged(b"SORT", [b"(REVERSE DATE)", b"UTF-8", *keys], unpack=True)
    return array("I", (int(n) for n in (data or b"").split()))


def _matching(client: IMAPClient, selected: Selected, query: Query, keys: list[bytes], *, keep: bool) -> array:
    """The matches in the selected folder, newest first; kept on the connection beside the
    list's sorted UIDs (same validator, same limit) when `keep` and the answer can not go
    stale while the folder's UIDVALIDITY, UIDNEXT and size stay the same."""
    if not (keep and query.flag_free):
        return sort_newest_first(client, keys)
    state = state_of(client)
    key = (selected.name, "SEARCH " + b" ".join(keys).decode("utf-8"))
    validator = (selected.uidvalidity, selected.uidnext, selected.exists)
    uids = kept(state.sorted, key, validator)
    if uids is None:
        uids = keep_list(state, state.sorted, key, validator, sort_newest_first(client, keys))
    return uids


@dataclass
class Group:
    """The matches of one folder (on this page)."""

    folder: Folder
    rows: list[Row]
    total: int           # matches in this folder, on all pages
    recipients: bool     # the people column holds recipients (Sent, Drafts)


@dataclass
class Results:
    groups: list[Group]  # one folder's, or every folder's with matches on this page (tree order)
    total: int
    number: int
    pages: int
    everywhere: bool
    # One folder's results: the folder as the search saw it (the toolbar's actions check it).
    uidvalidity: int = 0
    uidnext: int = 0


def _rows(client: IMAPClient, uids, recipients: bool) -> list[Row]:
    shown = list(uids)
    fetched = client.fetch(shown, row_items(client)) if shown else {}
    return [_row(uid, fetched[uid], recipients) for uid in shown if uid in fetched]


def _pages(total: int, number: int, page_size: int) -> tuple[int, int]:
    pages = max(1, math.ceil(total / page_size))
    return min(max(1, number), pages), pages


def search_folder(client: IMAPClient, folder: Folder, query: Query, *, number: int = 1,
                  page_size: int = PAGE_SIZE) -> Results:
    """Page `number` (from 1, clamped to the last) of the matches in `folder`."""
    keys = criteria(query)
    selected = current(client, folder.name)
    uids = _matching(client, selected, query, keys, keep=True)
    number, pages = _pages(len(uids), number, page_size)
    recipients = folder.role in RECIPIENT_ROLES
    rows = _rows(client, uids[(number - 1) * page_size:number * page_size], recipients)
    return Results([Group(folder, rows, len(uids), recipients)], len(uids), number, pages, everywhere=False,
                   uidvalidity=selected.uidvalidity, uidnext=selected.uidnext)


def search_everywhere(client: IMAPClient, tree: list[Folder], query: Query, *, number: int = 1,
                      page_size: int = PAGE_SIZE) -> Results:
    """Page `number` of the matches in every selectable folder: folder after folder in the
    tree's order, newest first within each. The rows of a page are fetched while their
    folder is selected, so a page costs one SELECT (or STATUS) and SORT per folder."""
    keys = criteria(query)
    found: list[tuple[Folder, array]] = []
    groups: list[Group] = []

    def take(folder: Folder, uids: array, offset: int, start: int) -> None:
        begin, end = max(start - offset, 0), min(start + page_size - offset, len(uids))
        if begin < end:
            recipients = folder.role in RECIPIENT_ROLES
            groups.append(Group(folder, _rows(client, uids[begin:end], recipients), len(uids), recipients))

    start = (max(1, number) - 1) * page_size
    total = 0
    for folder in tree:
        if not folder.selectable:
            continue
        try:
            selected = current(client, folder.name)
        except NoSuchFolder:
            continue  # deleted or renamed since the folder list was read
        uids = _matching(client, selected, query, keys, keep=False)
        if uids:
            found.append((folder, uids))
            take(folder, uids, total, start)
            total += len(uids)
    clamped, pages = _pages(total, number, page_size)
    if clamped != max(1, number):
        # A page past the end shows the last one: its folders are selected once more.
        groups.clear()
        start, offset = (clamped - 1) * page_size, 0
        for folder, uids in found:
            if start < offset + len(uids) and offset < start + page_size:
                current(client, folder.name)
                take(folder, uids, offset, start)
            offset += len(uids)
    return Results(groups, total, clamped, pages, everywhere=True)
