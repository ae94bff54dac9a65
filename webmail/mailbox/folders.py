"""The folder tree of the sidebar: every folder with its hierarchy, subscription, special use
and counts, in one IMAP round trip (LIST-STATUS, RFC 5819), and the quota.

imapclient has no LIST-STATUS, so the command is sent through its imaplib connection the
way imapclient's own `list_folders` does it; a server without LIST-STATUS gets LIST, LSUB
and one STATUS per folder instead.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from imapclient import IMAPClient
from imapclient.imap_utf7 import decode as decode_utf7
from imapclient.response_parser import parse_response

from duckmail.lib import imap as imap_protocol

from .session import state_of

QUOTA_SECONDS = 60

# Special-use folders come first, in this order (RFC 6154 flags; INBOX by name).
ROLES = ("inbox", "drafts", "sent", "archive", "junk", "trash")
ROLE_LABELS = {"inbox": "Inbox", "drafts": "Drafts", "sent": "Sent", "archive": "Archive", "junk": "Junk",
               "trash": "Trash"}
_ROLE_FLAGS = {b"\\drafts": "drafts", b"\\sent": "sent", b"\\archive": "archive", b"\\junk": "junk",
               b"\\trash": "trash"}
_NOT_SELECTABLE = {b"\\noselect", b"\\nonexistent"}


@dataclass
class Folder:
    name: str                  # the full name, Unicode (what URLs and IMAP commands use)
    label: str                 # what the sidebar shows: the last level, or the role's name
    depth: int
    role: str | None           # one of ROLES, or None
    selectable: bool
    subscribed: bool
    messages: int | None
    unseen: int | None
    delimiter: str = ""        # the hierarchy delimiter of its namespace ("" when flat)
    size: int | None = None    # bytes (STATUS SIZE), when asked for and the server has it
    subscribed_below: bool = False  # a folder under it is subscribed (the sidebar shows it then)


@dataclass(frozen=True)
class Quota:
    used_kb: int
    limit_kb: int | None

    @property
    def percent(self) -> int | None:
        if not self.limit_kb:
            return None
        return min(100, round(100 * self.used_kb / self.limit_kb))


def _name(value) -> str:
    if isinstance(value, int):  # a name of digits arrives as a number
        return str(value)
    return decode_utf7(value)


def _status_items(client: IMAPClient, sizes: bool) -> list[str]:
    return ["MESSAGES", "UNSEEN", "SIZE"] if sizes and client.has_capability("STATUS=SIZE") else ["MESSAGES", "UNSEEN"]


def _list_status(client: IMAPClient, sizes: bool) -> tuple[list[tuple[tuple, str, str]], dict[str, dict]]:
    imap = client._imap  # imapclient's documented-as-internal imaplib connection
    items = " ".join(_status_items(client, sizes))
    typ, data = imap._simple_command(
        "LIST", '""', '"*"', "RETURN", f"(SUBSCRIBED SPECIAL-USE STATUS ({items}))")
    client._checkok("list", typ, data)
    _typ, listed = imap._untagged_response(typ, data, "LIST")
    _typ, statuses = imap._untagged_response(typ, data, "STATUS")
    rows = []
    parsed = parse_response([item for item in listed if item not in (b"", None)])
    for i in range(0, len(parsed) - 2, 3):
        flags, delimiter, name = parsed[i:i + 3]
        rows.append((tuple(f.lower() for f in flags), (delimiter or b"").decode(), _name(name)))
    counts: dict[str, dict] = {}
    parsed = parse_response([item for item in statuses if item not in (b"", None)])
    for i in range(0, len(parsed) - 1, 2):
        items = parsed[i + 1]
        counts[_name(parsed[i])] = {items[j].upper(): items[j + 1] for j in range(0, len(items) - 1, 2)}
    return rows, counts


def _list_then_status(client: IMAPClient, sizes: bool) -> tuple[list[tuple[tuple, str, str]], dict[str, dict]]:
    subscribed = {name for _flags, _delimiter, name in client.list_sub_folders()}
    rows, counts = [], {}
    for flags, delimiter, name in client.list_folders():
        flags = tuple(f.lower() for f in flags)
        if name in subscribed:
            flags += (b"\\subscribed",)
        rows.append((flags, (delimiter or b"").decode(), name))
        if not _NOT_SELECTABLE & set(flags):
            counts[name] = client.folder_status(name, _status_items(client, sizes))
    return rows, counts


def folder_tree(client: IMAPClient, *, sizes: bool = False) -> list[Folder]:
    """Every folder, special-use ones first, then the others as a tree (alphabetical per level);
    `sizes`: with each folder's size in bytes (STATUS=SIZE, RFC 8438), where the server has it."""
    fetch = _list_status if client.has_capability("LIST-STATUS") else _list_then_status
    rows, counts = fetch(client, sizes)
    nodes: dict[str, tuple[tuple, str]] = {}
    for flags, delimiter, name in rows:
        nodes[name] = (flags, delimiter)

    def role_of(name: str, flags: tuple) -> str | None:
        if name.upper() == "INBOX":
            return "inbox"
        return next((_ROLE_FLAGS[f] for f in flags if f in _ROLE_FLAGS), None)

    def sort_key(name: str) -> tuple:
        flags, delimiter = nodes[name]
        parts = name.split(delimiter) if delimiter else [name]
        # Each level sorts with its special folders first; a child stays under its parent.
        key = []
        for depth in range(1, len(parts) + 1):
            prefix = delimiter.join(parts[:depth])
            role = role_of(prefix, nodes.get(prefix, ((), ""))[0])
            key.append((ROLES.index(role) if role else len(ROLES), parts[depth - 1].casefold(), parts[depth - 1]))
        return tuple(key)

    tree = []
    for name in sorted(nodes, key=sort_key):
        flags, delimiter = nodes[name]
        parts = name.split(delimiter) if delimiter else [name]
        role = role_of(name, flags)
        status = counts.get(name, {})
        tree.append(Folder(
            name=name,
            label=ROLE_LABELS[role] if role and len(parts) == 1 else parts[-1],
            depth=len(parts) - 1,
            role=role,
            selectable=not (_NOT_SELECTABLE & set(flags)),
            subscribed=b"\\subscribed" in flags or role == "inbox",
            messages=status.get(b"MESSAGES"),
            unseen=status.get(b"UNSEEN"),
            delimiter=delimiter,
            size=status.get(b"SIZE"),
        ))
    by_name = {f.name: f for f in tree}
    for folder in tree:
        if folder.subscribed and folder.delimiter:
            parts = folder.name.split(folder.delimiter)
            for depth in range(1, len(parts)):
                parent = by_name.get(folder.delimiter.join(parts[:depth]))
                if parent is not None:
                    parent.subscribed_below = True
    return tree


def quota(client: IMAPClient) -> Quota | None:
    """The member's storage quota (GETQUOTAROOT), or None when the server keeps none.

    Asked at most every QUOTA_SECONDS per kept connection: Dovecot's `count` quota opens
    every folder to add up its size, ~130-170 ms with a 100,000-message Inbox, which would
    be most of each page. Actions that free space (expunge, empty) call forget_quota()."""
    if not client.has_capability("QUOTA"):
        return None
    state = state_of(client)
    now = time.monotonic()
    if state.quota is not None and now - state.quota[0] < QUOTA_SECONDS:
        return state.quota[1]
    usage = imap_protocol.quota_usage(client)
    state.quota = (now, Quota(usage.used_kb, usage.limit_kb))
    return state.quota[1]


def forget_quota(client: IMAPClient) -> None:
    """The next page asks the server for the quota again (space was freed or used)."""
    state_of(client).quota = None
