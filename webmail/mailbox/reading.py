"""One message's raw bytes, fetched once per page with BODY.PEEK[] (render parses them), and
marking it read: when it is opened (unless the member chose otherwise), or when asked."""

from __future__ import annotations

from dataclasses import dataclass

from imapclient import IMAPClient

from .session import NoSuchMessage, Selected, select


@dataclass
class Raw:
    folder: Selected
    uid: int
    data: bytes
    seen: bool
    flagged: bool = False


def fetch(client: IMAPClient, folder: str, uid: int) -> Raw:
    """The message's bytes (without marking it read); NoSuchFolder / NoSuchMessage."""
    selected, fresh = select(client, folder)
    data = _fetch_fresh(client, uid, fresh, ["BODY.PEEK[]", "FLAGS"], b"BODY[]")
    flags = {f.lower() for f in data.get(b"FLAGS", ())}
    return Raw(selected, uid, bytes(data[b"BODY[]"]), b"\\seen" in flags, b"\\flagged" in flags)


def _fetch_fresh(client: IMAPClient, uid: int, fresh: bool, items: list[str], needed: bytes) -> dict:
    data = _fetch(client, uid, items, needed)
    if data is None and not fresh:
        # The session's view may be behind: mail delivered since it last looked (a deep
        # link from a notification), or expunged by another program (Dovecot then answers
        # BODY[] NIL). Sync (NOOP) and ask once more.
        client.noop()
        data = _fetch(client, uid, items, needed)
    if data is None:
        raise NoSuchMessage(uid)
    return data


def _fetch(client: IMAPClient, uid: int, items: list[str], needed: bytes) -> dict | None:
    # A UID FETCH of a UID that is gone answers OK with nothing: that is the only sign.
    data = client.fetch([uid], items).get(uid)
    return data if data and data.get(needed) is not None else None


def open_message(client: IMAPClient, folder: str, uid: int, *, mark_seen: bool = True) -> Raw:
    """fetch(), and the message is marked \\Seen (opening it in the reading view reads it),
    unless `mark_seen` is false (the member marks mail read later, or by hand)."""
    raw = fetch(client, folder, uid)
    if mark_seen and not raw.seen:
        client.add_flags([uid], [b"\\Seen"], silent=True)
    return raw


def mark_seen(client: IMAPClient, folder: str, uid: int) -> None:
    """Mark one message \\Seen; NoSuchMessage when it is not there (a STORE of a UID that is
    gone answers OK, so the FLAGS fetched first are the check)."""
    _selected, fresh = select(client, folder)
    data = _fetch_fresh(client, uid, fresh, ["FLAGS"], b"FLAGS")
    if b"\\seen" not in {f.lower() for f in data[b"FLAGS"]}:
        client.add_flags([uid], [b"\\Seen"], silent=True)
