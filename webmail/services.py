"""What the webmail pages need from the member's mailbox, one call per page, on the web
session's kept IMAP connection (webmail.mailbox). Raises NoSuchFolder / NoSuchMessage
(404 pages) and BackendUnavailable (the 503 page); nothing else from IMAP."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from webmail import cid, render
from webmail.mailbox import folders, listing, reading
from webmail.mailbox.session import connection
from webmail.render import sanitize


@dataclass
class Sidebar:
    tree: list[folders.Folder]
    quota: folders.Quota | None
    current: folders.Folder


def _sidebar(client, folder: str) -> Sidebar:
    tree = folders.folder_tree(client)
    current = listing.require_folder(tree, folder)
    return Sidebar(tree, folders.quota(client), current)


def folder_page(member, folder: str, *, sort: str, reverse: bool, number: int) -> tuple[Sidebar, listing.Page]:
    with connection(member) as client:
        sidebar = _sidebar(client, folder)
        page = listing.folder_page(client, sidebar.current.name, sort=sort, reverse=reverse, number=number,
                                   role=sidebar.current.role)
    return sidebar, page


@dataclass
class Opened:
    sidebar: Sidebar
    raw: reading.Raw
    message: render.ReadableMessage
    remote_blocked: bool


def open_message(member, folder: str, uid: int) -> Opened:
    """The reading view's message, marked read."""
    with connection(member) as client:
        sidebar = _sidebar(client, folder)
        raw = reading.open_message(client, sidebar.current.name, uid)
    message = render.parse(raw.data)
    # Sanitised here only to learn whether the banner is needed; the iframe's own request
    # sanitises again (with the cid: images it serves).
    blocked = bool(message.html_body) and sanitize.sanitize(message.html_body).blocked_remote
    return Opened(sidebar, raw, message, blocked)


def message_bytes(member, folder: str, uid: int) -> reading.Raw:
    """The raw message (not marked read): downloads and the iframe's document."""
    with connection(member) as client:
        return reading.fetch(client, folder, uid)


def body_document(member, folder: str, uid: int, *, remote: bool,
                  cid_url: Callable[[str], str]) -> sanitize.SanitizedHtml | None:
    """The sanitised HTML document of the message (None when it has no HTML). Its inline
    images are offered to the cid view (webmail.cid); `cid_url(token)` is their URL."""
    raw = message_bytes(member, folder, uid)
    message = render.parse(raw.data)
    if not message.html_body:
        return None

    def inline(content_id: str) -> str | None:
        section = message.inline_images.get(content_id)
        found = render.part(raw.data, section) if section else None
        if found is None:
            return None
        token = cid.offer(member.pk, raw.folder.name, raw.folder.uidvalidity, uid, section, found.content_type,
                          found.data)
        return cid_url(token) if token else None

    return sanitize.sanitize(message.html_body, remote=remote, cid_url=inline)


def attachment(member, folder: str, uid: int, section: str) -> tuple[reading.Raw, render.Part | None]:
    raw = message_bytes(member, folder, uid)
    return raw, render.part(raw.data, section)
