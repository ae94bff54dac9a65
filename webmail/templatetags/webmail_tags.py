"""Template filters of the webmail: dates as a mail list shows them, addresses, and plain
text with its links made clickable (everything else escaped)."""

from __future__ import annotations

import datetime as dt
import re

from django import template
from django.utils import timezone
from django.utils.html import escape, format_html
from django.utils.safestring import SafeString, mark_safe

register = template.Library()

_URL = re.compile(r"\b(?:https?://|www\.)[^\s<>\"'\x00-\x1f\x7f]+", re.IGNORECASE)
_TRAILING = ".,;:!?)]}'\"*"


@register.filter
def mail_date(value: dt.datetime | None) -> str:
    """Today: the time; this year: day and month; before: the full date (local time)."""
    if value is None:
        return ""
    local = timezone.localtime(value)
    today = timezone.localdate()
    if local.date() == today:
        return local.strftime("%H:%M")
    if local.year == today.year:
        return f"{local.day} {local.strftime('%b')}"
    return f"{local.day} {local.strftime('%b %Y')}"


@register.filter
def full_date(value: dt.datetime | None) -> str:
    if value is None:
        return ""
    local = timezone.localtime(value)
    return f"{local.strftime('%a')}, {local.day} {local.strftime('%b %Y %H:%M')}"


@register.filter
def addresses(value) -> str:
    """A list of render.Address as one line: "Name <address>, …" (escaped by the template)."""
    out = []
    for name, address in value or ():
        if name and address:
            out.append(f"{name} <{address}>")
        else:
            out.append(name or address)
    return ", ".join(out)


@register.filter
def linkify(text: str) -> SafeString:
    """Plain text as HTML: escaped, http(s) links clickable (new tab, no referrer)."""
    out, last = [], 0
    for match in _URL.finditer(text or ""):
        url = match.group(0)
        while url and url[-1] in _TRAILING:
            # A closing bracket belongs to the link only if it opened one inside it.
            if url[-1] == ")" and url.count("(") >= url.count(")"):
                break
            url = url[:-1]
        start, end = match.start(), match.start() + len(url)
        out.append(escape(text[last:start]))
        href = url if "://" in url else "https://" + url
        out.append(format_html('<a href="{}" target="_blank" rel="noopener noreferrer">{}</a>', href, url))
        last = end
    out.append(escape((text or "")[last:]))
    return mark_safe("".join(out))


@register.filter
def filesizeformat_kb(value) -> str:
    """A size in KiB (as IMAP QUOTA counts) in words: "1.2 MB"."""
    from django.template.defaultfilters import filesizeformat

    return filesizeformat((value or 0) * 1024)
