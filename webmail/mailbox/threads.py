"""A folder as conversations: IMAP THREAD=REFERENCES (RFC 5256), one row per thread.

A thread stands where its newest message (by the Date header, as SORT DATE has it) would
stand in the list sorted the way the member asked: newest thread first by default. Its
messages are shown oldest first. The ordered threads are kept on the connection like the
list's sorted UIDs (listing.sorted_uids) and checked the same way — a thread changes only
when a message arrives (UIDNEXT), goes (the count) or the folder is re-created
(UIDVALIDITY) — so paging costs one STATUS and one FETCH of the rows shown.

RFC 5256 REFERENCES also joins threads by subject: "Re: Plans" without a References header
lands in the thread of "Plans".
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Iterator
from dataclasses import dataclass

from imapclient import IMAPClient

from .listing import PAGE_SIZE, RECIPIENT_ROLES, Row, _row, row_items, sort_criteria, sorted_uids
from .session import Kept, Selected, current, keep, kept, patiently, state_of

_NEWEST_FIRST = ["REVERSE", "DATE"]
_MAX_PEOPLE = 3


@dataclass
class Thread:
    rows: list[Row]      # oldest first

    @property
    def count(self) -> int:
        return len(self.rows)

    @property
    def latest(self) -> Row:
        return self.rows[-1]

    @property
    def subject(self) -> str:
        return self.rows[0].subject

    @property
    def people(self) -> str:
        """Who wrote in it (or to whom, in Sent), first-comer first, at most three."""
        seen: list[str] = []
        for row in self.rows:
            if row.people and row.people not in seen:
                seen.append(row.people)
        more = "…" if len(seen) > _MAX_PEOPLE else ""
        return ", ".join(seen[:_MAX_PEOPLE]) + more

    @property
    def unread(self) -> bool:
        return any(row.unread for row in self.rows)

    @property
    def flagged(self) -> bool:
        return any(row.flagged for row in self.rows)

    @property
    def attachment(self) -> bool:
        return any(row.attachment for row in self.rows)

    @property
    def uids(self) -> list[int]:
        return [row.uid for row in self.rows]


@dataclass
class ThreadPage:
    folder: str
    rows: list[Thread]   # "rows", as listing.Page: the folder page's template shows either
    total: int           # messages in the folder
    threads: int         # threads in the folder
    number: int
    pages: int
    sort: str
    reverse: bool
    recipients: bool
    # The folder as this page saw it (as listing.Page: the toolbar and new-mail check use them).
    uidvalidity: int = 0
    uidnext: int = 0


def _uids(node) -> Iterator[int]:
    """The UIDs of a THREAD response node, at any depth ("(3 6 (4 23)(44 7 96))")."""
    if isinstance(node, int):
        yield node
    else:
        for child in node:
            yield from _uids(child)


class Threads(Kept):
    """Threads in order, compact: every UID in one array and where each thread starts in
    another (100,000 one-message threads as 100,000 small arrays would take ~8 MB; these
    take 800 KB). `threads[i]` is a thread's UIDs, `threads[a:b]` a list of them."""

    __slots__ = ("uids", "starts")

    def __init__(self, threads=()):
        self.uids, self.starts = array("I"), array("I")
        for thread in threads:
            self.starts.append(len(self.uids))
            self.uids.extend(thread)

    def __len__(self) -> int:
        return len(self.starts)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self)
        end = self.starts[index + 1] if index + 1 < len(self.starts) else len(self.uids)
        return self.uids[self.starts[index]:end]

    @property
    def size(self) -> int:
        return len(self.uids) + len(self.starts)


def thread_references(client: IMAPClient) -> list:
    with patiently(client):
        return client.thread("REFERENCES")


def ordered_threads(client: IMAPClient, selected: Selected, criteria: list[str]) -> Threads:
    """Every thread of the selected folder (its UIDs, oldest first), in the order of their
    newest messages in the SORT order `criteria`."""
    state = state_of(client)
    key = (selected.name, " ".join(criteria))
    validator = (selected.uidvalidity, selected.uidnext, selected.exists)
    found = kept(state.threads, key, validator)
    if found is not None:
        return found
    threads: list[array] = []
    if selected.exists:
        by_date = sorted_uids(client, selected, _NEWEST_FIRST)
        age = {uid: i for i, uid in enumerate(by_date)}  # 0: the newest
        # A message that arrived between the SORT and the THREAD is the newest of all.
        threads = [array("I", sorted(set(_uids(node)), key=lambda uid: -age.get(uid, -1)))
                   for node in thread_references(client)]
        wanted = by_date if criteria == _NEWEST_FIRST else sorted_uids(client, selected, criteria)
        place = {uid: i for i, uid in enumerate(wanted)}
        threads = [t for t in threads if t]
        threads.sort(key=lambda t: place.get(t[-1], -1))
    return keep(state, state.threads, key, validator, Threads(threads))


def thread_page(client: IMAPClient, folder: str, *, sort: str = "date", reverse: bool = True, number: int = 1,
                role: str | None = None, page_size: int = PAGE_SIZE) -> ThreadPage:
    """Page `number` (from 1; clamped to the last) of `folder`'s threads, `page_size` threads a page."""
    selected = current(client, folder)
    recipients = role in RECIPIENT_ROLES
    threads = ordered_threads(client, selected, sort_criteria(client, sort, reverse, recipients))
    pages = max(1, math.ceil(len(threads) / page_size))
    number = min(max(1, number), pages)
    shown = threads[(number - 1) * page_size:number * page_size]
    wanted = [uid for thread in shown for uid in thread]
    fetched = client.fetch(wanted, row_items(client)) if wanted else {}
    page_threads = []
    for thread in shown:
        rows = [_row(uid, fetched[uid], recipients) for uid in thread if uid in fetched]
        if rows:  # gone meanwhile: the next page view has fresh threads
            page_threads.append(Thread(rows))
    return ThreadPage(folder, page_threads, selected.exists, len(threads), number, pages, sort, reverse, recipients,
                      selected.uidvalidity, selected.uidnext)
