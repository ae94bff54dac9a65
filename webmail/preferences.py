"""The member's webmail settings as the pages use them (:class:`Preferences`), and the
changes to them. A member who never saved any gets the defaults, and no row until they save.

Trusted senders: remote content of mail whose From address is on the member's list is
shown without asking. The From header is whatever the sender wrote (spoofable), so the
list only spares clicks; it is no proof of who sent a message.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import idna
from django.db import transaction

from .models import MAX_TRUSTED_SENDERS, ListView, MarkRead, WebmailSettings

_CACHE_ATTRIBUTE = "_webmail_preferences"


@dataclass(frozen=True)
class Preferences:
    page_size: int = 50
    mark_read: str = MarkRead.AT_ONCE        # "now", "delay" or "never"
    mark_read_seconds: int = 5               # with "delay"
    list_view: str = ListView.MESSAGES       # "messages" or "conversations"
    trusted_senders: tuple[str, ...] = field(default=())  # normalised, in the order added

    @property
    def marks_on_open(self) -> bool:
        """Opening a message marks it read (otherwise it is only looked at: PEEK)."""
        return self.mark_read == MarkRead.AT_ONCE

    def trusts(self, addresses: Sequence) -> bool:
        """Remote content is shown for a message with these From addresses (render.Address or
        str): the first one (the one "Always show" adds) is a trusted sender."""
        if not addresses:
            return False
        first = normalise_address(getattr(addresses[0], "address", addresses[0]))
        return first is not None and first in self.trusted_senders


def _from_row(row: WebmailSettings | None) -> Preferences:
    if row is None:
        return Preferences()
    return Preferences(page_size=row.page_size, mark_read=row.mark_read, mark_read_seconds=row.mark_read_seconds,
                       list_view=row.list_view, trusted_senders=tuple(row.trusted_senders))


def for_member(member) -> Preferences:
    """The member's settings (the defaults when they never saved any). Read once per request:
    kept on the member object, which lives as long as the request."""
    cached = getattr(member, _CACHE_ATTRIBUTE, None)
    if cached is None:
        cached = _from_row(WebmailSettings.objects.filter(member=member).first())
        setattr(member, _CACHE_ATTRIBUTE, cached)
    return cached


def _remember(member, row: WebmailSettings) -> Preferences:
    prefs = _from_row(row)
    setattr(member, _CACHE_ATTRIBUTE, prefs)
    return prefs


def save(member, *, page_size: int, mark_read: str, mark_read_seconds: int | None, list_view: str) -> Preferences:
    """Store the settings page's choices (the row is made on the first save)."""
    with transaction.atomic():
        row, _ = WebmailSettings.objects.select_for_update().get_or_create(member=member)
        row.page_size = page_size
        row.mark_read = mark_read
        if mark_read_seconds is not None:
            row.mark_read_seconds = mark_read_seconds
        row.list_view = list_view
        row.save(update_fields=["page_size", "mark_read", "mark_read_seconds", "list_view", "updated_at"])
    return _remember(member, row)


class ListFull(Exception):
    """The trusted senders list holds MAX_TRUSTED_SENDERS addresses already."""


def trust_sender(member, address: str) -> str:
    """Add a sender to the trusted list; the normalised address. ValueError when it is no
    address, ListFull when the list is full."""
    normal = normalise_address(address)
    if normal is None:
        raise ValueError("not an address")
    with transaction.atomic():
        # Locked: two tabs adding at once must not lose one of the two.
        row, _ = WebmailSettings.objects.select_for_update().get_or_create(member=member)
        if normal not in row.trusted_senders:
            if len(row.trusted_senders) >= MAX_TRUSTED_SENDERS:
                raise ListFull()
            row.trusted_senders = [*row.trusted_senders, normal]
            row.save(update_fields=["trusted_senders", "updated_at"])
    _remember(member, row)
    return normal


def distrust_sender(member, address: str) -> bool:
    """Remove a sender from the trusted list; whether it was there."""
    normal = normalise_address(address) or address
    with transaction.atomic():
        row = WebmailSettings.objects.select_for_update().filter(member=member).first()
        if row is None or normal not in row.trusted_senders:
            return False
        row.trusted_senders = [a for a in row.trusted_senders if a != normal]
        row.save(update_fields=["trusted_senders", "updated_at"])
    _remember(member, row)
    return True


_LOCAL_PART = re.compile(r"[^\s\x00-\x1f\x7f<>()\[\]\\,;:@\"]{1,64}|\"[^\x00-\x1f\x7f\"\\]{1,62}\"")


def normalise_address(address: str) -> str | None:
    """``Friend@Bücher.Example`` → ``friend@xn--bcher-kva.example``; None when it is not an
    address one could trust (no domain, control characters, too long)."""
    address = (address or "").strip()
    local, at, domain = address.rpartition("@")
    if not at or not _LOCAL_PART.fullmatch(local) or len(address) > 254:
        return None
    domain = domain.rstrip(".")
    try:
        ascii_domain = idna.encode(domain, uts46=True).decode("ascii")
    except (idna.IDNAError, UnicodeError):
        # Names IDNA 2008 refuses but mail uses (an underscore in a subdomain): as written.
        if not re.fullmatch(r"[A-Za-z0-9_-]{1,63}(\.[A-Za-z0-9_-]{1,63})+", domain):
            return None
        ascii_domain = domain
    if "." not in ascii_domain:
        return None
    return f"{local.lower()}@{ascii_domain.lower()}"
