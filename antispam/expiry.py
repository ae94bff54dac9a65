"""Junk expiry: what the service page promises, by delivery time (IMAP INTERNALDATE, never the
Date header), with server-side SEARCH and EXPUNGE only — no message is fetched.

- deleted mails (\\Deleted) are purged after 1 day;
- read mails without the important flag (\\Flagged) after 7 days;
- unread mails without the important flag after 30 days;
- so flagged mails stay until the member deletes them or takes the flag off.

`OLDER <seconds>` (RFC 5032 WITHIN) compares with the INTERNALDATE to the second; only the UIDs
found are expunged (UID EXPUNGE), so a message deleted a minute ago by a mail program stays
until its day is over.
"""

from __future__ import annotations

from dataclasses import dataclass

from imapclient import IMAPClient
from imapclient.imapclient import JUNK

DAY = 24 * 3600
RULES = (
    ("deleted", ["DELETED", "OLDER", str(1 * DAY)]),
    ("read", ["SEEN", "UNFLAGGED", "UNDELETED", "OLDER", str(7 * DAY)]),
    ("unread", ["UNSEEN", "UNFLAGGED", "UNDELETED", "OLDER", str(30 * DAY)]),
)


@dataclass(frozen=True)
class Expired:
    folder: str | None  # the member's Junk folder (None: they have none)
    deleted: int = 0
    read: int = 0
    unread: int = 0

    @property
    def total(self) -> int:
        return self.deleted + self.read + self.unread


class NoWithin(RuntimeError):
    """The IMAP server can not search by age in seconds (no WITHIN): nothing is purged."""


def expire(client: IMAPClient) -> Expired:
    """Purge what has expired in the member's Junk folder (found by its special use)."""
    folder = client.find_special_folder(JUNK)
    if folder is None:
        return Expired(None)
    if not client.has_capability("WITHIN"):
        raise NoWithin("the mail server has no WITHIN (SEARCH OLDER): Junk is not expired")
    client.select_folder(folder)
    try:
        found = {name: client.search(criteria) for name, criteria in RULES}
        for chunk in sequence_sets(sorted({uid for uids in found.values() for uid in uids})):
            client.add_flags(chunk, [b"\\Deleted"], silent=True)
            client.uid_expunge(chunk)
    finally:
        client.unselect_folder()  # not CLOSE: that would expunge every deleted mail, young ones too
    return Expired(folder, **{name: len(uids) for name, uids in found.items()})


def sequence_sets(uids: list[int], per: int = 2000) -> list[str]:
    """Sorted UIDs as IMAP sequence sets ("3:9,12,15:20"), at most `per` runs each: a Junk
    folder of 100,000 expired mails as one list of UIDs would pass Dovecot's line length."""
    runs: list[str] = []
    start = previous = None
    for uid in uids:
        if previous is not None and uid == previous + 1:
            previous = uid
            continue
        if start is not None:
            runs.append(f"{start}:{previous}" if previous != start else str(start))
        start = previous = uid
    if start is not None:
        runs.append(f"{start}:{previous}" if previous != start else str(start))
    return [",".join(runs[i:i + per]) for i in range(0, len(runs), per)]
