"""SyncSPAM and SyncHAM: for mail programs that can only copy (isync, offlineimap…), the
member copies spam into a folder named SyncSPAM and good mail into SyncHAM; every two hours
the workers train the member's filter from them and remove what they trained (the service
page's "Retraining for feature-limited IMAP Sync clients"). A message that could not be
read stays for the next round; nothing is removed before it was learned."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from imapclient import IMAPClient

FOLDERS = {"syncspam": True, "syncham": False}  # lower-cased name → learned as spam
BATCH = 50  # messages fetched at a time (bodies: keep the worker's memory small)


@dataclass
class Trained:
    spam: int = 0
    ham: int = 0


def sync_folders(client: IMAPClient) -> Iterator[tuple[str, bool]]:
    """(folder name, spam?) of the member's Sync folders, whatever their case."""
    for _flags, _delimiter, name in client.list_folders():
        name = str(name)
        if name.lower() in FOLDERS:
            yield name, FOLDERS[name.lower()]


def train(client: IMAPClient, learn: Callable[[bytes, bool], object]) -> Trained:
    """Learn every message of the Sync folders with `learn(raw, spam)`, then remove them."""
    done = Trained()
    for folder, spam in list(sync_folders(client)):
        client.select_folder(folder)
        try:
            uids = client.search("UNDELETED")
            for start in range(0, len(uids), BATCH):
                chunk = uids[start:start + BATCH]
                learned = []
                for uid, data in client.fetch(chunk, ["BODY.PEEK[]"]).items():
                    raw = data.get(b"BODY[]")
                    if raw is None:
                        continue
                    learn(bytes(raw), spam)
                    learned.append(uid)
                if learned:
                    client.add_flags(learned, [b"\\Deleted"], silent=True)
                    client.uid_expunge(learned)
                    if spam:
                        done.spam += len(learned)
                    else:
                        done.ham += len(learned)
        finally:
            client.unselect_folder()
    return done
