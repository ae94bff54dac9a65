"""Folder management on the member's kept connection: create, rename or move (with the
sub-folders), delete (with the sub-folders), subscribe, and empty Trash or Junk.

What Dovecot (2.3, Maildir++ layout) does and does not do, and so what is done here:

- DELETE of a folder that has sub-folders deletes its mail but leaves the folder (it still
  has children): a folder is deleted together with its sub-folders, the deepest first.
- RENAME moves the sub-folders along, but not the subscriptions: they are moved here. DELETE
  does not unsubscribe either (a new folder of the same name would start subscribed).
- A session whose selected folder, or a parent of it, was renamed (or the selected folder
  deleted) is disconnected at its next sync (NOOP, FETCH, …): such a folder is unselected
  first, and the connection's kept selection and sorted-UID lists (session.State) forget it.
- Names: Dovecot refuses a name longer than 255 bytes in modified UTF-7 ("Mailbox name too
  long"), and one of exactly 255 fails in the file system (a Maildir++ folder is a directory
  named "." + the name): 254 is the limit. It also refuses "." anywhere in a name, a name
  beginning with "~" or the delimiter, and adjacent delimiters ([CANNOT], its text shown).

Refusals the member can act on (a bad or taken name, a special folder, the server's NO)
raise :class:`Refused` with a sentence for the form; a folder that is not there raises
session.NoSuchFolder. Special-use folders (Inbox, Drafts, Sent, Archive, Junk, Trash) are
never renamed, moved, deleted or unsubscribed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientAbortError, IMAPClientError
from imapclient.imap_utf7 import encode as encode_utf7

from webmail import names

from .folders import Folder, Quota, folder_tree, forget_quota, quota
from .session import NoSuchFolder, current, refresh, state_of

# See the module docstring: the longest full name Dovecot stores, in bytes of modified UTF-7.
MAX_WIRE_LENGTH = 254
EMPTIABLE = ("trash", "junk")

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_RESPONSE_CODE = re.compile(r"^\[([A-Z-]+)[^\]]*\]\s*")
_SEEN = re.compile(r"[0-9]{1,10}:[0-9]{1,10}")
_TIMING = re.compile(r"\s*\([0-9.+ ]+secs\)\.?\s*$")
_CODE_TEXT = {
    "ALREADYEXISTS": "A folder of that name exists already.",
    "NONEXISTENT": "That folder does not exist (any more).",
    "OVERQUOTA": "Your mailbox is full.",
    "LIMIT": "The mail server's limit on folders is reached.",
    "SERVERBUG": "The mail server failed to do it (an internal error). Please try again later.",
}


class Refused(Exception):
    """The request can not be done; the message says why, in words for the member, and
    `field` which form field it is about ("name" or "parent")."""

    def __init__(self, message: str, field: str = "name"):
        super().__init__(message)
        self.field = field


@dataclass
class Entry:
    folder: Folder
    own: bool            # in the member's own namespace (not shared with them by someone)
    changeable: bool     # may be renamed, moved and deleted
    subscribable: bool   # its subscription may be changed
    emptiable: bool      # Trash or Junk
    children: int        # sub-folders, all levels
    total_messages: int  # in it and its sub-folders

    def refusal(self, doing: str) -> str | None:
        """Why it can not be `doing` ("renamed or moved", "deleted"), or None."""
        if self.folder.role is not None:
            return f"“{self.folder.label}” is a special folder: it can not be {doing}."
        if not self.own:
            return f"“{self.folder.name}” is shared with you by someone else: it can not be {doing} here."
        if not self.changeable:
            return f"“{self.folder.name}” holds a special folder: it can not be {doing}."
        return None


@dataclass
class Overview:
    entries: list[Entry]
    delimiter: str           # of the member's own namespace
    prefix: str              # the personal namespace's prefix (top-level folders start with it)
    quota: Quota | None

    @property
    def tree(self) -> list[Folder]:
        return [entry.folder for entry in self.entries]

    def find(self, name: str) -> Entry:
        """The entry of `name` (INBOX in any case); NoSuchFolder."""
        for entry in self.entries:
            if entry.folder.name == name or (name.upper() == "INBOX" and entry.folder.role == "inbox"):
                return entry
        raise NoSuchFolder(name)

    def under(self, name: str) -> list[Entry]:
        """The sub-folders of `name`, all levels, in tree order."""
        return [e for e in self.entries if self.delimiter and e.folder.name.startswith(name + self.delimiter)]

    def parents(self, moving: str | None = None) -> list[Folder]:
        """The folders a folder may be created in (or `moving` moved into): the member's own,
        not `moving` itself nor one of its sub-folders."""
        out = []
        for entry in self.entries:
            name = entry.folder.name
            if not entry.own:
                continue
            if moving is not None and (name == moving or name.startswith(moving + self.delimiter)):
                continue
            out.append(entry.folder)
        return out

    def join(self, parent: str, level: str) -> str:
        return f"{parent}{self.delimiter}{level}" if parent else f"{self.prefix}{level}"

    def split(self, name: str) -> tuple[str, str]:
        """The parent ("" at the top) and the last level of a full name: join()'s inverse."""
        if self.delimiter and self.delimiter in name:
            parent, level = name.rsplit(self.delimiter, 1)
            return parent, level
        return "", name.removeprefix(self.prefix)


@dataclass
class Renamed:
    name: str
    selectable: bool  # it holds mail itself (not only a level above other folders)


@dataclass
class Deleted:
    sub_folders: int
    messages: int


def overview(client: IMAPClient, *, sizes: bool = False, with_quota: bool = False) -> Overview:
    """Every folder with what may be done to it, and the personal namespace's delimiter;
    `sizes`: each folder's size too, `with_quota`: the quota too."""
    tree = folder_tree(client, sizes=sizes)
    prefix, delimiter, others = "", "", ()
    if client.has_capability("NAMESPACE"):
        namespaces = client.namespace()
        if namespaces.personal:
            prefix, delimiter = namespaces.personal[0][0], namespaces.personal[0][1] or ""
        others = tuple(p for p, _d in (namespaces.other or ()) + (namespaces.shared or ()) if p)
    else:
        delimiter = next((f.delimiter for f in tree if f.role == "inbox"), "")

    def own(name: str) -> bool:
        # "#Shared/" names both the namespace's folders and its root "#Shared".
        return not any(name.startswith(p) or name + delimiter == p for p in others)

    entries = []
    for i, folder in enumerate(tree):
        # folder_tree keeps a folder's sub-folders right after it.
        end = i + 1
        while end < len(tree) and delimiter and tree[end].name.startswith(folder.name + delimiter):
            end += 1
        below = tree[i + 1:end]
        holds_special = any(f.role is not None for f in below)
        entries.append(Entry(
            folder=folder,
            own=own(folder.name),
            changeable=own(folder.name) and folder.role is None and not holds_special,
            subscribable=folder.selectable and folder.role is None,
            emptiable=folder.role in EMPTIABLE and folder.selectable,
            children=len(below),
            total_messages=sum(f.messages or 0 for f in [folder, *below]),
        ))
    return Overview(entries, delimiter, prefix, quota(client) if with_quota else None)


def check_level(level: str, delimiter: str) -> None:
    """Refused unless `level` can be one level of a folder name."""
    if not level:
        raise Refused("Please give the folder a name.")
    if _CONTROL.search(level):
        raise Refused("A folder name can not contain line breaks or other control characters.")
    if delimiter and delimiter in level:
        raise Refused(f"A folder name can not contain “{delimiter}”: choose the folder to put it in from the list.")
    if level.strip(".") == "":
        raise Refused("A folder can not be named “.” or “..”.")


def check_full(name: str) -> None:
    if len(name) > names.MAX_FOLDER_LENGTH or len(encode_utf7(name)) > MAX_WIRE_LENGTH:
        raise Refused("This name is too long.")


def _server_refused(exc: IMAPClientError) -> Refused:
    """The server's NO as a sentence: imapclient's "create failed: [CODE] text (0.001 secs)."."""
    text = str(exc).split(" failed: ", 1)[-1]
    code = _RESPONSE_CODE.match(text)
    text = _TIMING.sub("", _RESPONSE_CODE.sub("", text))
    if code and code.group(1) in _CODE_TEXT:
        return Refused(_CODE_TEXT[code.group(1)])
    text = _CONTROL.sub("", text).strip()[:200]
    return Refused(f"The mail server refused: {text}" if text else "The mail server refused.")


def _run(command, *args):
    try:
        return command(*args)
    except IMAPClientAbortError:
        raise
    except IMAPClientError as exc:
        raise _server_refused(exc) from exc


def _quietly(command, *args) -> None:
    """A follow-up (a subscription) whose refusal must not undo what was done."""
    try:
        command(*args)
    except IMAPClientAbortError:
        raise
    except IMAPClientError:
        pass


def _forget(client: IMAPClient, name: str, delimiter: str) -> None:
    """Before `name` (and its sub-folders) is renamed or deleted: unselect it if it is
    selected (Dovecot would disconnect), and drop its kept sorted-UID lists."""
    state = state_of(client)

    def affected(other: str) -> bool:
        return other == name or bool(delimiter) and other.startswith(name + delimiter)

    if state.selected is not None and affected(state.selected.name):
        state.selected = None
        if client.has_capability("UNSELECT"):
            client.unselect_folder()
        else:
            client.select_folder("INBOX", readonly=True)  # CLOSE would expunge
    for key in [key for key in state.sorted if affected(key[0])]:
        del state.sorted[key]


def _changeable(ov: Overview, name: str, doing: str) -> Entry:
    entry = ov.find(name)
    refusal = entry.refusal(doing)
    if refusal:
        raise Refused(refusal)
    return entry


def _parent(ov: Overview, parent: str, moving: str | None = None) -> str:
    if not parent:
        return ""
    if moving is not None and (parent == moving or parent.startswith(moving + ov.delimiter)):
        raise Refused("A folder can not be moved into itself or one of its sub-folders.", "parent")
    if not any(f.name == parent for f in ov.parents(moving)):
        raise Refused(f"There is no folder “{parent}” to put it in (any more).", "parent")
    return parent


def _taken(ov: Overview, name: str) -> bool:
    try:
        return ov.find(name).folder.selectable
    except NoSuchFolder:
        return False


def create(client: IMAPClient, level: str, parent: str = "") -> str:
    """Create folder `level` at the top or in `parent`, subscribed; its full name."""
    ov = overview(client)
    check_level(level, ov.delimiter)
    name = ov.join(_parent(ov, parent), level)
    check_full(name)
    if _taken(ov, name):
        raise Refused(f"A folder “{name}” exists already.")
    _run(client.create_folder, name)
    _quietly(client.subscribe_folder, name)
    return name


def rename(client: IMAPClient, name: str, level: str, parent: str = "") -> Renamed:
    """Rename `name` to `level` in `parent` (or the top): its sub-folders and subscriptions
    go with it."""
    ov = overview(client)
    entry = _changeable(ov, name, "renamed or moved")
    check_level(level, ov.delimiter)
    new = ov.join(_parent(ov, parent, moving=entry.folder.name), level)
    old = entry.folder.name
    if new == old:
        return Renamed(old, entry.folder.selectable)
    moved = [entry, *ov.under(old)]
    for each in moved:
        check_full(new + each.folder.name[len(old):])
    if _taken(ov, new):
        raise Refused(f"A folder “{new}” exists already.")
    _forget(client, old, ov.delimiter)
    _run(client.rename_folder, old, new)
    for each in moved:
        if each.folder.subscribed:
            _quietly(client.unsubscribe_folder, each.folder.name)
            _quietly(client.subscribe_folder, new + each.folder.name[len(old):])
    return Renamed(new, entry.folder.selectable)


def delete(client: IMAPClient, name: str) -> Deleted:
    """Delete `name` and its sub-folders with all their mail."""
    ov = overview(client)
    entry = _changeable(ov, name, "deleted")
    doomed = sorted([entry, *ov.under(entry.folder.name)], key=lambda e: e.folder.depth, reverse=True)
    _forget(client, entry.folder.name, ov.delimiter)
    for each in doomed:
        if each.folder.selectable:  # a \Noselect level is gone with the last folder under it
            _run(client.delete_folder, each.folder.name)
        _quietly(client.unsubscribe_folder, each.folder.name)
    forget_quota(client)
    return Deleted(entry.children, entry.total_messages)


def set_subscribed(client: IMAPClient, name: str, subscribed: bool) -> Folder:
    ov = overview(client)
    entry = ov.find(name)
    if entry.folder.role is not None:
        raise Refused(f"“{entry.folder.label}” is a special folder: it is always shown.")
    if not entry.subscribable:
        raise Refused(f"“{entry.folder.name}” is no folder of its own (only the folders in it are).")
    _run(client.subscribe_folder if subscribed else client.unsubscribe_folder, entry.folder.name)
    return entry.folder


@dataclass(frozen=True)
class Contents:
    folder: Folder
    messages: int
    seen: str  # what the confirmation saw: "<UIDVALIDITY>:<UIDNEXT>"


def contents(client: IMAPClient, name: str) -> Contents:
    """What emptying `name` would delete (Trash or Junk; Refused otherwise)."""
    entry = _emptiable(overview(client), name)
    status = _run(client.folder_status, entry.folder.name, ["MESSAGES", "UIDNEXT", "UIDVALIDITY"])
    return Contents(entry.folder, int(status[b"MESSAGES"]), f"{status[b'UIDVALIDITY']}:{status[b'UIDNEXT']}")


def _emptiable(ov: Overview, name: str) -> Entry:
    entry = ov.find(name)
    if not entry.emptiable:
        raise Refused(f"Only Trash and Junk can be emptied; “{entry.folder.label}” is kept.")
    return entry


def empty(client: IMAPClient, name: str, seen: str) -> int:
    """Delete for good the messages of Trash or Junk that the confirmation counted (`seen`,
    from contents()): mail that arrived since stays. Its sub-folders are left alone. The
    number of messages deleted."""
    entry = _emptiable(overview(client), name)
    if not _SEEN.fullmatch(seen):
        raise Refused("Please confirm again.")
    validity, _, uidnext = seen.partition(":")
    selected = current(client, entry.folder.name)
    if str(selected.uidvalidity) != validity:
        raise Refused(f"“{entry.folder.label}” was changed meanwhile by another program: please look again.")
    if selected.exists == 0 or int(uidnext) <= 1:
        return 0
    # Only the UIDs the member was shown (below the UIDNEXT seen). EXPUNGE without UIDPLUS
    # also removes what another program marked \Deleted in this folder: emptying means that.
    # A range, not the list of UIDs: a list of 10,000 would pass Dovecot's line length.
    uids = f"1:{int(uidnext) - 1}"
    count = len(_run(client.search, ["UID", uids]))
    if count:
        _run(client.add_flags, uids, [b"\\Deleted"], True)
        if client.has_capability("UIDPLUS"):
            _run(client.uid_expunge, uids)
        else:
            _run(client.expunge)
        forget_quota(client)
    refresh(client, selected)  # the kept selection's message count, for the next page
    return count
