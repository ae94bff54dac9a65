"""The member's kept IMAP connection as the webmail uses it.

A kept connection (accounts.mailaccess, duckmail.lib.imap.Pool) stays in whatever state a
request leaves it, so it carries a small :class:`State`: which folder is selected, and the
sorted-UID lists of :mod:`.listing`. A page in the folder that is already selected pays no
SELECT; a folder change pays one.

IMAP failures become what a page can say: :class:`NoSuchFolder` and :class:`NoSuchMessage`
(404 pages), and a connection that broke or a command the server refused for no reason of
the member's (:class:`~duckmail.lib.imap.MailServerError`, a BackendUnavailable: the 503
page). No IMAP exception reaches a view.
"""

from __future__ import annotations

import time
from array import array
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from django.conf import settings
from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientAbortError, IMAPClientError

from accounts import mailaccess
from duckmail.lib.imap import BROKEN, MailServerError

# What one kept connection may hold of sorted UID lists (listing, search) and threads
# (threads), at 4 bytes a UID: 192 Ki UIDs, 768 KiB — a 100,000-message folder in one order
# and as threads, or in two orders. The least recently used go first; the one just made is
# always kept (a bigger folder keeps just that). And at most MAX_KEPT_LISTS lists in all.
MAX_KEPT_UIDS = 196_608
MAX_KEPT_LISTS = 4


class NoSuchFolder(Exception):
    """The folder does not exist (or is not selectable) for this member."""


class NoSuchMessage(Exception):
    """No message with that UID in the folder (expunged, moved, or never there)."""


@dataclass
class Selected:
    name: str
    uidvalidity: int
    uidnext: int
    exists: int


@dataclass
class State:
    selected: Selected | None = None
    # (folder, sort key) → (validator, UIDs in order)
    sorted: OrderedDict[tuple[str, str], tuple[tuple, array]] = field(default_factory=OrderedDict)
    # (folder, sort key) → (validator, threads in order): webmail.mailbox.threads
    threads: OrderedDict[tuple[str, str], tuple[tuple, list[array]]] = field(default_factory=OrderedDict)
    # (time.monotonic() when asked, the quota): webmail.mailbox.folders.quota
    quota: tuple[float, object] | None = None


def kept(cache: OrderedDict, key, validator: tuple):
    """What `cache` (a State's `sorted` or `threads`) keeps under `key`, if made while the
    folder was as `validator` says (else None); it becomes the most recently used."""
    found = cache.get(key)
    if found is None or found[0] != validator:
        return None
    cache.move_to_end(key)
    found[1].used = time.monotonic()
    return found[1]


def keep(state: State, cache: OrderedDict, key, validator: tuple, value):
    """Keep `value` (a UIDs array, or threads.Threads) in `cache`, within the bounds above."""
    value = value if isinstance(value, Kept) else Kept.wrap(value)
    value.used = time.monotonic()
    cache[key] = (validator, value)
    cache.move_to_end(key)
    while True:
        entries = [(entry[1].used, c, k) for c in (state.sorted, state.threads) for k, entry in c.items()
                   if entry[1] is not value]
        size = value.size + sum(c[k][1].size for _, c, k in entries)
        if not entries or (size <= MAX_KEPT_UIDS and len(entries) < MAX_KEPT_LISTS):
            return value
        _, c, k = min(entries, key=lambda e: e[0])
        del c[k]


class Kept:
    """A kept list with the time it was last used (arrays and Threads take attributes only
    through a subclass)."""

    used: float = 0.0

    @property
    def size(self) -> int:
        return len(self)

    @staticmethod
    def wrap(uids) -> KeptUids:
        return KeptUids("I", uids)


class KeptUids(array, Kept):
    pass


def state_of(client: IMAPClient) -> State:
    state = getattr(client, "webmail_state", None)
    if state is None:
        state = client.webmail_state = State()
    return state


@contextmanager
def connection(member) -> Iterator[IMAPClient]:
    """The member's kept connection; IMAP failures become MailServerError (the 503 page)."""
    try:
        with mailaccess.imap(member) as client:
            yield client
    except BROKEN as exc:
        # The pool has dropped the connection already; the next page gets a new one.
        raise MailServerError(f"The mail server connection broke ({exc}).") from exc
    except IMAPClientError as exc:
        raise MailServerError(f"The mail server refused a request ({exc}).") from exc


@contextmanager
def patiently(client: IMAPClient) -> Iterator[None]:
    """Around a SORT, THREAD or SEARCH of a whole folder: the connection waits
    MAIL_SLOW_TIMEOUT for the answer instead of MAIL_TIMEOUT (the first one on a big folder
    whose headers Dovecot has not cached reads every message)."""
    sock = client.socket()
    usual = sock.gettimeout()
    sock.settimeout(settings.MAIL_SLOW_TIMEOUT)
    try:
        yield
    finally:
        sock.settimeout(usual)


def select(client: IMAPClient, folder: str) -> tuple[Selected, bool]:
    """Make `folder` the selected one (read-write: opening marks mail read); returns it and
    whether a SELECT was needed. The kept selection is reused otherwise."""
    state = state_of(client)
    current = state.selected
    if current is not None and current.name == folder:
        return current, False
    # A failed SELECT leaves no folder selected (RFC 3501 6.3.1): forget the old one first.
    state.selected = None
    try:
        response = client.select_folder(folder)
    except IMAPClientAbortError:
        raise
    except IMAPClientError as exc:
        # NO (no such folder, \Noselect, no right to read it) or BAD (a name the server
        # can not take): either way there is no such folder for this member.
        raise NoSuchFolder(folder) from exc
    state.selected = Selected(folder, int(response[b"UIDVALIDITY"]), int(response.get(b"UIDNEXT", 0)),
                              int(response[b"EXISTS"]))
    return state.selected, True


def current(client: IMAPClient, folder: str) -> Selected:
    """`folder` selected and as it is now: a new SELECT sees it so; a kept selection is
    refreshed (new mail and expunges by anyone, see refresh)."""
    selected, fresh = select(client, folder)
    return selected if fresh else refresh(client, selected)


def refresh(client: IMAPClient, selected: Selected) -> Selected:
    """The selected folder's current UIDVALIDITY, UIDNEXT and size, after new mail or
    expunges by anyone. Dovecot answers STATUS on the selected folder from the session's
    own view, which moves only at a sync point: so NOOP (the sync) first, then STATUS."""
    client.noop()
    status = client.folder_status(selected.name, ["MESSAGES", "UIDNEXT", "UIDVALIDITY"])
    now = Selected(selected.name, int(status[b"UIDVALIDITY"]), int(status[b"UIDNEXT"]), int(status[b"MESSAGES"]))
    if now.uidvalidity != selected.uidvalidity:
        # The folder was re-created under the same name: select it afresh.
        state_of(client).selected = None
        now, _ = select(client, selected.name)
    else:
        state_of(client).selected = now
    return now
