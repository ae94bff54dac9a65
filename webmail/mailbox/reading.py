"""One message's raw bytes, fetched once per page with BODY.PEEK[] (render parses them), and
marking it read when it is opened."""

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


def fetch(client: IMAPClient, folder: str, uid: int) -> Raw:
    """The message's bytes (without marking it read); NoSuchFolder / NoSuchMessage."""
    selected, fresh = select(client, folder)
    data = _body(client, uid)
    if data is None and not fresh:
        # The session's view may be behind: mail delivered since it last looked (a deep
        # link from a notification), or expunged by another program (Dovecot then answers
        # BODY[] NIL). Sync (NOOP) and ask once more.
        client.noop()
        data = _body(client, uid)
    if data is None:
        raise NoSuchMessage(uid)
    flags = {f.lower() for f in data.get(b"FLAGS", ())}
    return Raw(selected, uid, bytes(data[b"BODY[]"]), b"\\seen" in flags)


def _body(client: IMAPClient, uid: int) -> dict | None:
    # A UID FETCH of a UID that is gone answers OK with nothing: that is the only sign.
    data = client.fetch([uid], ["BODY.PEEK[]", "FLAGS"]).get(uid)
    return data if data and data.get(b"BODY[]") is not None else None


def open_message(client: IMAPClient, folder: str, uid: int) -> Raw:
    """fetch(), and the message is marked \\Seen (opening it in the reading view reads it)."""
    raw = fetch(client, folder, uid)
    if not raw.seen:
        client.add_flags([uid], [b"\\Seen"], silent=True)
    return raw
