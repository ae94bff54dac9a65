"""What the webmail pages need from the member's mailbox, one call per page, on the web
session's kept IMAP connection (webmail.mailbox). Raises NoSuchFolder / NoSuchMessage
(404 pages) and BackendUnavailable (the 503 page); nothing else from IMAP."""

from __future__ import annotations

import datetime as dt
import io
import os
import re
import unicodedata
import zipfile
from collections.abc import Callable
from dataclasses import dataclass

from webmail import cid, preferences, render
from webmail.mailbox import actions as mail_actions
from webmail.mailbox import folders, listing, reading
from webmail.mailbox import manage as mail_manage
from webmail.mailbox import search as mail_search
from webmail.mailbox import threads as mail_threads
from webmail.mailbox.session import connection
from webmail.render import sanitize


@dataclass
class Sidebar:
    tree: list[folders.Folder]
    quota: folders.Quota | None
    current: folders.Folder | None  # None on the pages of no one folder (folder management)


def _sidebar(client, folder: str) -> Sidebar:
    tree = folders.folder_tree(client)
    current = listing.require_folder(tree, folder)
    return Sidebar(tree, folders.quota(client), current)


def folder_page(member, folder: str, *, sort: str, reverse: bool, number: int) -> tuple[Sidebar, listing.Page]:
    with connection(member) as client:
        sidebar = _sidebar(client, folder)
        page = listing.folder_page(client, sidebar.current.name, sort=sort, reverse=reverse, number=number,
                                   role=sidebar.current.role, page_size=preferences.for_member(member).page_size)
    return sidebar, page


@dataclass
class Opened:
    sidebar: Sidebar
    raw: reading.Raw
    message: render.ReadableMessage
    remote_blocked: bool          # the HTML has remote content the sanitiser held back
    seen: bool = True             # \Seen once the page is shown
    remote_trusted: bool = False  # the sender is on the member's trusted list: show it
    path: tuple = ()              # an attached message: the messages around it (render.message_path)


def open_message(member, folder: str, uid: int) -> Opened:
    """The reading view's message, marked read when the member's settings say "at once"
    (otherwise only looked at), and whether its sender is trusted with remote content."""
    prefs = preferences.for_member(member)
    with connection(member) as client:
        sidebar = _sidebar(client, folder)
        raw = reading.open_message(client, sidebar.current.name, uid, mark_seen=prefs.marks_on_open)
    message = render.parse(raw.data)
    return Opened(sidebar, raw, message, _blocks_remote(message), seen=raw.seen or prefs.marks_on_open,
                  remote_trusted=prefs.trusts(message.from_))


def _blocks_remote(message: render.ReadableMessage) -> bool:
    # Sanitised here only to learn whether the banner is needed; the iframe's own request
    # sanitises again (with the cid: images it serves).
    return bool(message.html_body) and sanitize.sanitize(message.html_body).blocked_remote


def message_bytes(member, folder: str, uid: int) -> reading.Raw:
    """The raw message (not marked read): downloads and the iframe's document."""
    with connection(member) as client:
        return reading.fetch(client, folder, uid)


def body_document(member, folder: str, uid: int, *, remote: bool,
                  cid_url: Callable[[str], str], section: str = "") -> sanitize.SanitizedHtml | None:
    """The sanitised HTML document of the message, or of the attached message at `section`
    (None when there is no HTML, or no attached message there). Its inline images are
    offered to the cid view (webmail.cid); `cid_url(token)` is their URL."""
    raw = message_bytes(member, folder, uid)
    message = render.parse_attached(raw.data, section) if section else render.parse(raw.data)
    if message is None or not message.html_body:
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


# -- reading and settings --

# Decoded bytes packed into one "download all" zip, built in memory. A message is at most
# 20 MB, so its files are about 15 MB; this only stops something unforeseen.
MAX_ZIP_BYTES = 40 * 1024 * 1024


def open_attached(member, folder: str, uid: int, section: str) -> Opened | None:
    """The attached message (message/rfc822) at `section` for the reading view, with the
    messages around it; None when there is none there. Nothing is marked read."""
    with connection(member) as client:
        sidebar = _sidebar(client, folder)
        raw = reading.fetch(client, sidebar.current.name, uid)
    message = render.parse_attached(raw.data, section)
    if message is None:
        return None
    # Remote content of an attached message is only ever shown once, on request: its From
    # is whatever the forwarder (or forger) put in it.
    return Opened(sidebar, raw, message, _blocks_remote(message), seen=raw.seen,
                  path=tuple(render.message_path(raw.data, section)))


def mark_seen(member, folder: str, uid: int) -> None:
    """Mark the message read (the reading view's "Mark as read", by hand or after a delay)."""
    with connection(member) as client:
        reading.mark_seen(client, folder, uid)


def trust_sender(member, folder: str, uid: int) -> str | None:
    """Put the message's (first) From address on the member's trusted senders (its remote
    content is then shown); the address, or None when the message has no usable From address.
    preferences.ListFull when the list is full."""
    raw = message_bytes(member, folder, uid)
    senders = render.parse(raw.data).from_
    if not senders:
        return None
    try:
        return preferences.trust_sender(member, senders[0].address)
    except ValueError:
        return None


class ZipTooBig(Exception):
    """The attachments add up to more than MAX_ZIP_BYTES."""


def zip_files(message: render.ReadableMessage) -> list[render.Attachment]:
    """What "Download all" packs: the attachments the page lists (the files of an unpacked
    winmail.dat in its place)."""
    files: list[render.Attachment] = []
    for att in message.attachments:
        if not att.inline:
            files.extend(att.contents or [att])
    return files


def attachments_zip(member, folder: str, uid: int, section: str = "") -> tuple[str, bytes] | None:
    """The message's attachments (or an attached message's, at `section`) as one zip: its
    file name and bytes. None when there are none; ZipTooBig."""
    raw = message_bytes(member, folder, uid)
    message = render.parse_attached(raw.data, section) if section else render.parse(raw.data)
    files = zip_files(message) if message is not None else []
    if sum(att.size for att in files) > MAX_ZIP_BYTES:
        raise ZipTooBig()
    entries, total = [], 0
    for att in files:
        found = render.part(raw.data, att.section)
        if found is None:
            continue
        total += len(found.data)
        if total > MAX_ZIP_BYTES:
            raise ZipTooBig()
        entries.append((att.filename or found.filename, att.content_type, found.data))
    if not entries:
        return None
    title = zip_entry_name(message.subject)[:100].rstrip(" .") or f"message-{uid}"
    return f"{title} - attachments.zip", build_zip(entries, message.date)


# Names Windows will not create a file under, whatever the extension.
_RESERVED_NAMES = re.compile(r"(con|prn|aux|nul|com[0-9¹²³]|lpt[0-9¹²³])(\..*)?", re.IGNORECASE)
# Separators, control characters, and what Windows refuses in a file name.
_UNSAFE_IN_NAME = re.compile(r'[\x00-\x1f\x7f-\x9f/\\:*?"<>|]')
_DIRECTION_MARKS = re.compile("[\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]")
MAX_ENTRY_NAME = 180


def zip_entry_name(name: str) -> str:
    """A file name safe to unpack anywhere: one path component, no control or direction
    characters, no "..", no leading dot (a hidden file), short enough; "" when nothing is left."""
    name = _DIRECTION_MARKS.sub("", unicodedata.normalize("NFC", name or ""))
    name = re.sub(r"\.{2,}", ".", _UNSAFE_IN_NAME.sub("_", name)).lstrip(" .").rstrip(" .")
    if _RESERVED_NAMES.fullmatch(name):
        name = "_" + name
    if len(name) > MAX_ENTRY_NAME:
        stem, ext = os.path.splitext(name)
        ext = ext if len(ext) <= 16 else ""
        name = stem[:MAX_ENTRY_NAME - len(ext)].rstrip(" .") + ext
    return name


def _unique(name: str, used: set[str]) -> str:
    """``report.pdf``, then ``report (2).pdf``…; compared without case (as Windows and macOS do)."""
    stem, ext = os.path.splitext(name)
    candidate, n = name, 1
    while candidate.casefold() in used:
        n += 1
        candidate = f"{stem} ({n}){ext}"
    used.add(candidate.casefold())
    return candidate


# Deflating these gains nothing: they are compressed already.
_COMPRESSED_TYPES = re.compile(r"(image/(jpeg|png|gif|webp|avif|heic|heif)|video/.*|audio/(mpeg|mp4|ogg|aac|opus|webm)"
                               r"|application/(zip|gzip|x-gzip|x-7z-compressed|x-rar-compressed|vnd\.rar|x-bzip2|x-xz"
                               r"|zstd|x-zstd|epub\+zip|vnd\.openxmlformats-.*|vnd\.oasis\.opendocument\..*))")


def build_zip(files: list[tuple[str, str, bytes]], when: dt.datetime | None = None) -> bytes:
    """A zip of (file name, content type, bytes): names made safe (zip_entry_name) and unique,
    non-ASCII names flagged as UTF-8 (zipfile does that), each file dated `when`."""
    stamp = (when or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    stamp = max(min(stamp, dt.datetime(2107, 12, 31, tzinfo=dt.UTC)), dt.datetime(1980, 1, 1, tzinfo=dt.UTC))
    buffer = io.BytesIO()
    used: set[str] = set()
    with zipfile.ZipFile(buffer, "w") as archive:
        for n, (name, content_type, data) in enumerate(files, 1):
            info = zipfile.ZipInfo(_unique(zip_entry_name(name) or f"attachment-{n}", used),
                                   date_time=stamp.timetuple()[:6])
            info.external_attr = 0o644 << 16  # a plain file, readable
            packed = not _COMPRESSED_TYPES.fullmatch(content_type)
            info.compress_type = zipfile.ZIP_DEFLATED if packed else zipfile.ZIP_STORED
            archive.writestr(info, data, compresslevel=6)
    return buffer.getvalue()


# -- search and conversations --
# This section's own imports: the file is shared, its head belongs to no one section.


def search_sidebar(member, folder: str) -> Sidebar:
    """The sidebar of the search page when there is nothing to search (yet): an empty or
    refused form. NoSuchFolder when `folder` is not there."""
    with connection(member) as client:
        return _sidebar(client, folder)


def search_page(member, folder: str, query: mail_search.Query, *, number: int
                ) -> tuple[Sidebar, mail_search.Results]:
    """Page `number` of what `query` finds in `folder`, or in every folder (query.everywhere)."""
    with connection(member) as client:
        sidebar = _sidebar(client, folder)
        size = preferences.for_member(member).page_size
        if query.everywhere:
            results = mail_search.search_everywhere(client, sidebar.tree, query, number=number, page_size=size)
        else:
            results = mail_search.search_folder(client, sidebar.current, query, number=number, page_size=size)
    return sidebar, results


def conversations_page(member, folder: str, *, sort: str, reverse: bool, number: int
                       ) -> tuple[Sidebar, mail_threads.ThreadPage]:
    with connection(member) as client:
        sidebar = _sidebar(client, folder)
        page = mail_threads.thread_page(client, sidebar.current.name, sort=sort, reverse=reverse, number=number,
                                        role=sidebar.current.role,
                                        page_size=preferences.for_member(member).page_size)
    return sidebar, page


# -- actions: read, flag, move, copy, delete, spam, undo, poll --


def act(member, folder: str, action: str, selection: mail_actions.Selection, *, target: str | None = None,
        confirmed: bool = False) -> mail_actions.Outcome:
    """One toolbar action on chosen messages of `folder` (or all of them). Raises
    mail_actions.Refused (nothing done, or the server said NO: the member is told why)."""
    with connection(member) as client:
        tree = folders.folder_tree(client)
        current = listing.require_folder(tree, folder)
        return mail_actions.perform(client, tree, current, action, selection, target=target, confirmed=confirmed)


def undo_move(member, moved: mail_actions.Moved) -> mail_actions.Outcome:
    """Move the messages of an earlier move back (mail_actions.Refused when that can't be)."""
    with connection(member) as client:
        return mail_actions.undo(client, folders.folder_tree(client), moved)


@dataclass
class Polled:
    sidebar: Sidebar
    news: mail_actions.News


def poll(member, folder: str, since_uidnext: int | None) -> Polled:
    """The list's check for new mail: the folder's news, then the sidebar (one LIST-STATUS)."""
    with connection(member) as client:
        news = mail_actions.news(client, folder, since_uidnext)
        return Polled(_sidebar(client, folder), news)


# -- folders: create, rename, delete, subscribe, empty --


def folder_overview(member) -> tuple[Sidebar, mail_manage.Overview]:
    """The folder management page: every folder with its counts and size, and what may be
    done to it; the sidebar marks no folder as the current one."""
    with connection(member) as client:
        overview = mail_manage.overview(client, sizes=True, with_quota=True)
    return Sidebar(overview.tree, overview.quota, None), overview


def folder_settings(member, folder: str) -> tuple[Sidebar, mail_manage.Overview, mail_manage.Entry]:
    """One folder's management page (NoSuchFolder)."""
    sidebar, overview = folder_overview(member)
    return sidebar, overview, overview.find(folder)


def create_folder(member, name: str, parent: str) -> str:
    """A new folder `name` in `parent` ("" for the top level), subscribed: its full name.
    mail_manage.Refused."""
    with connection(member) as client:
        return mail_manage.create(client, name, parent)


def rename_folder(member, folder: str, name: str, parent: str) -> mail_manage.Renamed:
    """Rename and/or move `folder` with its sub-folders. Refused, NoSuchFolder."""
    with connection(member) as client:
        return mail_manage.rename(client, folder, name, parent)


def delete_folder(member, folder: str) -> mail_manage.Deleted:
    """Delete `folder`, its sub-folders and all their mail. Refused, NoSuchFolder."""
    with connection(member) as client:
        return mail_manage.delete(client, folder)


def set_subscribed(member, folder: str, subscribed: bool) -> folders.Folder:
    with connection(member) as client:
        return mail_manage.set_subscribed(client, folder, subscribed)


def folder_contents(member, folder: str) -> mail_manage.Contents:
    """What emptying Trash or Junk would delete. Refused (not Trash or Junk), NoSuchFolder."""
    with connection(member) as client:
        return mail_manage.contents(client, folder)


def empty_folder(member, folder: str, seen: str) -> int:
    """Empty Trash or Junk (the messages folder_contents counted): how many were deleted."""
    with connection(member) as client:
        return mail_manage.empty(client, folder, seen)
