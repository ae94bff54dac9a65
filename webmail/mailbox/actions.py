"""What the list's toolbar does to messages: flags (read, flagged), MOVE and COPY to another
folder, delete (to Trash, or for good), archive, spam and not spam, on chosen UIDs or on the
whole folder (a `UID 1:N` range, never a list of UIDs from the browser); the undo of a move;
and the cheap check for new mail that the list polls.

Moves are real IMAP MOVE commands (RFC 6851), never COPY + \\Deleted: the spam filter is
retrained from mail moved into or out of Junk (IMAPSieve sees a MOVE as a COPY into the
target), whichever program moved it. The server's COPYUID answer (UIDPLUS, RFC 4315) tells
the moved messages' UIDs in the target, so an undo moves exactly those back.

The special-use folders (Trash, Junk, Archive) come from the LIST (folders.folder_tree), never
from their names, with one exception: a server without an \\Archive folder gets one named
"Archive" (Dovecot 2.3 takes `CREATE … USE (\\Archive)` but keeps no special use without
METADATA, so the folder is found again by that name).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientAbortError, IMAPClientError

from .folders import Folder, forget_quota
from .session import NoSuchFolder, Selected, refresh, state_of
from .session import current as current_state

ACTIONS = ("read", "unread", "flag", "unflag", "move", "copy", "delete", "archive", "spam", "notspam")
# Actions that MOVE the messages somewhere, and so can be undone by moving them back.
MOVING = {"move", "delete", "archive", "spam", "notspam"}
# (add or remove, flag) of the flag actions.
_FLAG_ACTIONS = {"read": (True, b"\\Seen"), "unread": (False, b"\\Seen"), "flag": (True, b"\\Flagged"),
                 "unflag": (False, b"\\Flagged")}
ARCHIVE_NAME = "Archive"
# Untagged answers the commands here leave in imaplib's store. A kept connection would
# otherwise carry them (a MOVE of 100,000 messages: 100,000 EXPUNGE lines) until the next
# SELECT, and stale FETCH answers would mix into the next FETCH.
_LEFTOVERS = ("COPYUID", "EXPUNGE", "VANISHED", "FETCH", "ESEARCH", "EXISTS", "RECENT")
_COUNT = re.compile(rb"\bCOUNT (\d+)")
_QUOTED = re.compile(r"\[b['\"](.*)['\"]\]")
_CODE = re.compile(r"^\s*\[[A-Z-]+[^\]]*\]\s*")
_TIMING = re.compile(r"\s*\(\d+\.\d+ \+ \d+\.\d+(?: \+ \d+\.\d+)? secs\)")


class Refused(Exception):
    """The action can not be done as asked; the message says why, for the member."""


@dataclass(frozen=True)
class Selection:
    """Which messages of the folder: `uids`, or every one (`every`). `uidvalidity` and
    `uidnext` are those of the page the member saw: a re-created folder is refused, and
    "every message" means every message that was there (UID below that UIDNEXT)."""

    uids: tuple[int, ...] = ()
    every: bool = False
    uidvalidity: int | None = None
    uidnext: int | None = None


@dataclass(frozen=True)
class Moved:
    """Where a move put the messages: enough to move them back."""

    source: str
    target: str
    uidvalidity: int   # the target's
    uids: str          # their UIDs in the target, as an IMAP sequence set


@dataclass
class Outcome:
    action: str
    count: int
    source: Folder
    target: Folder | None = None   # the folder the messages went to (move, copy, …)
    moved: Moved | None = None     # set when the server said where they went (undo)
    confirm: bool = False          # delete for good: nothing done yet, the member must confirm


@dataclass(frozen=True)
class News:
    uidnext: int
    messages: int
    new: int          # messages that arrived since the page's UIDNEXT


def uid_set(uids: Iterable[int]) -> str:
    """UIDs as a compact IMAP sequence set: 1:3,7,9:12."""
    ranges: list[list[int]] = []
    for uid in sorted(set(uids)):
        if ranges and uid == ranges[-1][1] + 1:
            ranges[-1][1] = uid
        else:
            ranges.append([uid, uid])
    return ",".join(str(a) if a == b else f"{a}:{b}" for a, b in ranges)


def set_size(text: str) -> int:
    """How many UIDs a sequence set without `*` holds."""
    size = 0
    for part in text.split(","):
        low, _, high = part.partition(":")
        size += abs(int(high or low) - int(low)) + 1
    return size


def _tidy(client: IMAPClient) -> None:
    for key in _LEFTOVERS:
        client._imap.untagged_responses.pop(key, None)


def _reason(exc: Exception) -> str:
    """The server's words from an imapclient error ("copy failed: [TRYCREATE] Mailbox doesn't
    exist: Ghost (0.001 + 0.000 secs).") without the command, response code and timing."""
    text = str(exc).split(": ", 1)[-1]
    quoted = _QUOTED.search(text)
    if quoted:
        text = quoted.group(1)
    text = _TIMING.sub("", _CODE.sub("", text)).strip().rstrip(".")
    return text[:200] or "no reason given"


def _count(client: IMAPClient, uids: str) -> int:
    """How many messages of the selected folder have UIDs in `uids` (ESEARCH: no list comes back)."""
    if not client.has_capability("ESEARCH"):
        return len(client.search(["UID", uids]))
    imap = client._imap
    try:
        typ, data = imap._simple_command("UID", "SEARCH", "RETURN", "(COUNT)", "UID", uids)
        client._checkok("search", typ, data)
        found = b" ".join(item for item in imap.untagged_responses.get("ESEARCH", []) if isinstance(item, bytes))
    finally:
        _tidy(client)
    match = _COUNT.search(found)
    return int(match.group(1)) if match else 0


def _move(client: IMAPClient, uids: str, target: str) -> tuple[int, str] | None:
    """UID MOVE; the target's UIDVALIDITY and the new UIDs from COPYUID (None if it sent none:
    nothing matched, or a server without UIDPLUS)."""
    _tidy(client)
    try:
        client.move(uids, target)
        answers = client._imap.untagged_responses.get("COPYUID", [])
    finally:
        _tidy(client)
    for answer in answers:
        parts = answer.split() if isinstance(answer, bytes) else []
        if len(parts) == 3:
            return int(parts[0]), parts[2].decode()
    return None


def find(tree: list[Folder], name: str) -> Folder | None:
    for folder in tree:
        if folder.name == name or (name.upper() == "INBOX" and folder.role == "inbox"):
            return folder
    return None


def by_role(tree: list[Folder], role: str) -> Folder | None:
    return next((f for f in tree if f.role == role and f.selectable), None)


def _archive(client: IMAPClient, tree: list[Folder]) -> Folder:
    """The \\Archive folder; else one named "Archive" at the top; else a new one (subscribed)."""
    found = by_role(tree, "archive")
    if found is not None:
        return found
    namespace = client.namespace()
    prefix = namespace.personal[0][0] if namespace.personal else ""
    prefix = prefix.decode() if isinstance(prefix, bytes) else prefix
    name = prefix + ARCHIVE_NAME
    existing = next((f for f in tree if f.name.casefold() == name.casefold()), None)
    if existing is not None:
        if not existing.selectable:
            raise Refused(f"The folder “{existing.name}” can not hold mail, so nothing could be archived.")
        return existing
    try:
        client.create_folder(name)
        client.subscribe_folder(name)
    except IMAPClientAbortError:
        raise
    except IMAPClientError as exc:
        raise Refused(f"The Archive folder could not be created: {_reason(exc)}.") from exc
    return Folder(name=name, label=ARCHIVE_NAME, depth=0, role="archive", selectable=True, subscribed=True,
                  messages=0, unseen=0)


def _target(client: IMAPClient, tree: list[Folder], current: Folder, action: str, name: str | None) -> Folder | None:
    """Where `action` puts the messages (None: they stay, or are deleted for good)."""
    if action in _FLAG_ACTIONS:
        return None
    if action in ("move", "copy"):
        if not name:
            raise Refused("Choose the folder to " + ("move" if action == "move" else "copy") + " them to.")
        target = find(tree, name)
        if target is None or not target.selectable:
            raise Refused(f"There is no folder “{name}” (any more) to {action} them to.")
    elif action == "delete":
        target = by_role(tree, "trash")
        if target is None or target.name == current.name:
            return None
    elif action == "archive":
        target = _archive(client, tree)
    elif action == "spam":
        target = by_role(tree, "junk")
        if target is None:
            raise Refused("There is no Junk folder to move spam to.")
    else:  # notspam
        if current.role != "junk":
            raise Refused("Only mail in Junk can be marked as not spam.")
        target = by_role(tree, "inbox")
        if target is None:
            raise Refused("There is no Inbox to move it to.")
    if target.name == current.name:
        raise Refused(f"They are already in {target.label}.")
    return target


def _chosen(client: IMAPClient, selected: Selected, selection: Selection) -> tuple[str, int]:
    """The chosen messages that are still there, as a sequence set, and how many they are."""
    if selection.uidvalidity and selection.uidvalidity != selected.uidvalidity:
        raise Refused("This folder was re-created since the page was shown: reload it and choose again.")
    if selection.every:
        if selection.uidnext is None:
            uids = "1:*"
        elif selection.uidnext <= 1:
            raise Refused("This folder is empty.")
        else:
            uids = f"1:{selection.uidnext - 1}"
        count = _count(client, uids)
        if not count:
            raise Refused("This folder is empty.")
        return uids, count
    if not selection.uids:
        raise Refused("Select one or more messages first.")
    found = client.search(["UID", uid_set(selection.uids)])
    if not found:
        raise Refused("Those messages are no longer in this folder.")
    return uid_set(found), len(found)


def perform(client: IMAPClient, tree: list[Folder], current: Folder, action: str, selection: Selection, *,
            target: str | None = None, confirmed: bool = False) -> Outcome:
    """Do `action` on the selected messages of `current`. Deleting for good (in Trash, or
    with no Trash) only counts them unless `confirmed`. Raises Refused (nothing done, or the
    server said NO) and NoSuchFolder (the folder itself is gone)."""
    if action not in ACTIONS:
        raise Refused("There is no such action.")
    # The sync point: expunges and new mail from other clients are seen before counting.
    selected = current_state(client, current.name)
    uids, count = _chosen(client, selected, selection)
    goes_to = _target(client, tree, current, action, target)
    outcome = Outcome(action, count, current, goes_to)
    try:
        if action in _FLAG_ACTIONS:
            add, flag = _FLAG_ACTIONS[action]
            (client.add_flags if add else client.remove_flags)(uids, [flag], silent=True)
        elif action == "copy":
            client.copy(uids, goes_to.name)
        elif goes_to is not None:
            copied = _move(client, uids, goes_to.name)
            if copied is not None:
                uidvalidity, new_uids = copied
                outcome.count = set_size(new_uids)
                outcome.moved = Moved(current.name, goes_to.name, uidvalidity, new_uids)
        elif not confirmed:
            outcome.confirm = True
        else:
            client.add_flags(uids, [b"\\Deleted"], silent=True)
            client.uid_expunge(uids)
            forget_quota(client)
    except IMAPClientAbortError:
        raise
    except IMAPClientError as exc:
        raise Refused(f"The mail server refused: {_reason(exc)}.") from exc
    finally:
        _tidy(client)
    return outcome


def undo(client: IMAPClient, tree: list[Folder], moved: Moved) -> Outcome:
    """Move the messages of an earlier move back where they were (those still there)."""
    source = find(tree, moved.source)
    target = find(tree, moved.target)
    if source is None or not source.selectable:
        raise Refused(f"The folder “{moved.source}” is gone: nothing to move back to.")
    if target is None or not target.selectable:
        raise Refused(f"The folder “{moved.target}” is gone, and the messages with it.")
    try:
        selected = current_state(client, target.name)
    except NoSuchFolder as exc:
        raise Refused(f"The folder “{moved.target}” is gone, and the messages with it.") from exc
    if selected.uidvalidity != moved.uidvalidity:
        raise Refused(f"The folder “{target.label}” was re-created: this can no longer be undone.")
    try:
        copied = _move(client, moved.uids, source.name)
    except IMAPClientAbortError:
        raise
    except IMAPClientError as exc:
        raise Refused(f"The mail server refused: {_reason(exc)}.") from exc
    count = set_size(copied[1]) if copied else 0
    if not count:
        raise Refused("Nothing to undo: those messages were moved or deleted meanwhile.")
    return Outcome("move", count, target, source)


def news(client: IMAPClient, folder: str, since_uidnext: int | None) -> News:
    """How the folder stands now, and how many messages came since `since_uidnext`. The
    selected folder is synced first (NOOP, in session.refresh): Dovecot answers its STATUS
    from the session's own view. No SORT, no FETCH."""
    selected = state_of(client).selected
    if selected is not None and (selected.name == folder or selected.name.upper() == folder.upper() == "INBOX"):
        now = refresh(client, selected)
        new = 0
        if since_uidnext and now.uidnext > since_uidnext:
            # Exact: mail that came and went meanwhile is not counted.
            new = _count(client, f"{since_uidnext}:{now.uidnext - 1}")
        return News(now.uidnext, now.exists, new)
    try:
        status = client.folder_status(folder, ["MESSAGES", "UIDNEXT"])
    except IMAPClientAbortError:
        raise
    except IMAPClientError as exc:
        raise NoSuchFolder(folder) from exc
    uidnext, messages = int(status[b"UIDNEXT"]), int(status[b"MESSAGES"])
    # Not the selected folder (another tab moved the connection): an estimate, without a SELECT.
    new = min(max(0, uidnext - since_uidnext), messages) if since_uidnext else 0
    return News(uidnext, messages, new)
