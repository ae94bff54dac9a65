"""Template filters of the webmail: dates as a mail list shows them, addresses, plain text
with its links made clickable (everything else escaped), and the list's rows."""

from __future__ import annotations

import datetime as dt
import re

from django import template
from django.template.defaultfilters import filesizeformat
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape, format_html, format_html_join
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
    return filesizeformat((value or 0) * 1024)


_MARKS = (
    ("unread", "unread-mark", "Unread", "●"),
    ("flagged", "flag-mark", "Flagged", "⚑"),
    ("answered", "answered-mark", "Answered", "↩"),
    ("forwarded", "forwarded-mark", "Forwarded", "↪"),
    ("attachment", "attachment-mark", "Has attachments", "📎"),
)
_ROW = ('<li class="{}" data-uid="{}" draggable="true">\n'
        '<input type="checkbox" class="mail-pick" name="uid" value="{}" form="mail-actions" aria-label="Select: {}">\n'
        '<a href="{}{}/"><span class="marks">{}</span>\n'
        '<span class="people">{}{}</span>\n<span class="subject-line"><span class="subject">{}</span>{}</span>\n'
        '<time class="date" datetime="{}" title="{}">{}</time>\n<span class="size">{}</span></a>\n</li>\n')


@register.simple_tag
def mail_rows(rows, folder, recipients: bool = False) -> SafeString:
    """The rows of a message list (webmail/_rows.html): a checkbox of the #mail-actions form,
    the marks, sender (or recipients), subject, date and size, all escaped. Written here, not
    in template language: it is the list page's hot loop (50 rows of ~20 lookups each took
    a third of the page's time)."""
    link = reverse("webmail:message", args=[folder.name, 1])
    prefix = link[:-len("1/")]  # the message URLs differ only in their last segment
    to = mark_safe('<span class="visually-hidden">To: </span>') if recipients else ""
    out = []
    for row in rows:
        subject = row.subject or "(no subject)"
        local = timezone.localtime(row.date) if row.date is not None else None
        marks = format_html_join("", '<span class="mark {}" title="{}">{}</span>',
                                 ((css, title, sign) for attr, css, title, sign in _MARKS if getattr(row, attr)))
        out.append(format_html(
            _ROW, " ".join(c for c, on in (("unread", row.unread), ("flagged", row.flagged)) if on), row.uid,
            row.uid, subject, prefix, row.uid, marks, to, row.people or "(nobody)", subject,
            format_html(' <span class="preview">{}</span>', row.preview) if row.preview else "",
            local.isoformat() if local else "", full_date(local), mail_date(local), filesizeformat(row.size)))
    return mark_safe('<ol class="mail-list">\n' + "".join(out) + "</ol>")
