"""Reading a message: raw bytes in, what the reading view shows out. Pure: no IMAP, no Django.

Contract
--------
``parse(raw: bytes) -> ReadableMessage``
    Never raises and never hangs: the work is bounded (nesting depth 40, 2,000 parts, header
    values of 64 KiB, bodies of 2 M characters, 64 MiB per message, bounded TNEF, calendar
    and uuencode handling); whatever was cut, damaged or guessed is said in ``problems`` and
    ``offer_raw`` is then true, so the page offers the raw ``.eml`` download. Every string is
    ``str``, decoded (charset work-arounds in :mod:`.charsets`), one line where it is a header,
    never escaped and never sanitised: templates escape, :mod:`.sanitize` cleans the HTML.

    Headers: ``subject``; ``from_``, ``sender``, ``to``, ``cc``, ``bcc``, ``reply_to`` as lists
    of :class:`Address` ``(name, address)``; ``date`` (aware, UTC when the header gave no zone,
    None when unreadable) and ``date_text`` (as written); ``message_id``; ``headers``: every
    header decoded, in order, for "show all headers".

    Bodies: ``text_body`` (plain text; made from the HTML when the mail has none) and
    ``html_body`` (the HTML as sent, decoded to Unicode; None when there is none);
    ``preferred`` says which to show first (``"html"`` when there is HTML) and
    ``has_text_alternative`` whether a real text/plain alternative exists. Inline text
    parts of multipart/mixed are shown in order (text ones in HTML as escaped ``<pre>``).

    ``attachments``: :class:`Attachment` (section, decoded file name, content type, decoded
    size, Content-ID, disposition, kind = file | message | calendar | tnef | signature |
    encrypted, ``inline`` for cid images the HTML shows in place, ``contents`` for the files
    inside a winmail.dat). ``inline_images``: Content-ID → section for the cid: proxy.
    ``attached_messages``: :class:`AttachedMessage` (open one with :func:`parse_attached`).
    ``events``: :class:`~.extras.Event` from text/calendar invites. ``signatures``:
    :class:`Signature` for multipart/signed (PGP or S/MIME) and S/MIME signed-data (the
    signed text is shown). ``encrypted``: ``"pgp"`` or ``"smime"``. ``pgp_armor``: the
    armored PGP blocks verbatim (inline, multipart/encrypted, signatures) for Mailvelope.

``parse_attached(raw, section) -> ReadableMessage | None``
    The message/rfc822 part at *section*, its parts numbered as in the whole message.

``message_path(raw, section) -> list[AttachedMessage]``
    The attached messages that hold *section*, outermost first: a breadcrumb.

``part(raw, section) -> Part | None``
    One part's decoded bytes, content type, file name, charset and Content-ID, for
    downloads and cid images; None when there is no such part.

Section numbers
---------------
Sections are IMAP's (``BODY[section]``): ``"1"`` for the body of a single-part message,
``"1"``, ``"2"``… for the parts of a multipart, ``"1.2"`` inside a nested multipart,
``"2.1"``… inside an attached message at ``"2"``. The structure is cut as Dovecot cuts it
(see :mod:`.mime`), so for well-formed mail the numbers equal the server's (a test checks
this against the real Dovecot). Where the module recovers from broken structure the server
does not (folding, a boundary only in the body), the numbers are its own: always fetch a
part with :func:`part` on the same raw bytes, never with ``BODY[section]``. Files found
inside a part have derived sections: ``"3~tnef1"`` (a file inside winmail.dat),
``"1~uu2"`` (a uuencoded file in a text), ``"4~2"`` (part 2 of a base64-encoded attached
message at 4). Only digits, dots, ``~`` and letters: safe in a URL path.
"""

from .extras import Event
from .message import (
    Address,
    AttachedMessage,
    Attachment,
    Part,
    ReadableMessage,
    Signature,
    message_path,
    parse,
    parse_attached,
    part,
)

__all__ = [
    "Address",
    "AttachedMessage",
    "Attachment",
    "Event",
    "Part",
    "ReadableMessage",
    "Signature",
    "message_path",
    "parse",
    "parse_attached",
    "part",
]
