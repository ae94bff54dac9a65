"""The webmail pages: folder list, reading view, the iframe's document, downloads, cid images.

Thin views: the URL converters (webmail.names) have checked folder, UID and section, a
form checks the query, one call into webmail.services does the IMAP work as the logged-in
member. A folder or message that is not there (or not this member's: the IMAP login is
theirs) is a 404 page; Dovecot down is the site's 503 page (duckmail.middleware).
"""

from __future__ import annotations

import re
from functools import wraps

from django import forms
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import content_disposition_header
from django.utils.safestring import mark_safe
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.http import require_GET

from . import cid, services
from .mailbox.listing import SORTS
from .mailbox.session import NoSuchFolder, NoSuchMessage
from .render import sanitize

# Newest first for dates and sizes, A→Z for names.
DEFAULT_REVERSE = {"date": True, "arrival": True, "size": True, "from": False, "subject": False}
SORT_LABELS = {"date": "Date", "arrival": "Arrival", "from": "From", "subject": "Subject", "size": "Size"}


class ListQuery(forms.Form):
    sort = forms.ChoiceField(choices=[(k, k) for k in SORTS], required=False)
    order = forms.ChoiceField(choices=[("asc", "asc"), ("desc", "desc")], required=False)
    page = forms.IntegerField(min_value=1, max_value=10_000_000, required=False)


def _mail_errors(view):
    """NoSuchFolder and NoSuchMessage as their 404 pages."""

    @wraps(view)
    def wrapped(request, folder, *args, **kwargs):
        try:
            return view(request, folder, *args, **kwargs)
        except NoSuchFolder:
            return render(request, "webmail/no_folder.html", {"folder": folder}, status=404)
        except NoSuchMessage:
            return render(request, "webmail/message_gone.html", {"folder": folder}, status=404)

    return wrapped


@require_GET
@login_required
def index(request):
    return redirect("webmail:folder", folder="INBOX")


@require_GET
@login_required
@_mail_errors
def folder(request, folder: str):
    query = ListQuery(request.GET)
    if not query.is_valid():
        return render(request, "webmail/bad_request.html",
                      {"problem": "This list can not be sorted or paged that way.", "folder": folder}, status=400)
    sort = query.cleaned_data["sort"] or "date"
    order = query.cleaned_data["order"]
    reverse_order = DEFAULT_REVERSE[sort] if not order else order == "desc"
    sidebar, page = services.folder_page(request.user, folder, sort=sort, reverse=reverse_order,
                                         number=query.cleaned_data["page"] or 1)
    sorts = [{"key": key, "label": SORT_LABELS[key] if key != "from" or not page.recipients else "To",
              "current": key == sort,
              # The current order's link turns it round; the others start at their default.
              "order": ("asc" if reverse_order else "desc") if key == sort else
                       ("desc" if DEFAULT_REVERSE[key] else "asc")} for key in SORTS]
    return render(request, "webmail/folder.html", {
        "sidebar": sidebar, "page": page, "folder": sidebar.current, "sorts": sorts,
        "order": "desc" if reverse_order else "asc",
    })


@require_GET
@login_required
@_mail_errors
def message(request, folder: str, uid: int):
    opened = services.open_message(request.user, folder, uid)
    msg = opened.message
    want_text = request.GET.get("view") == "text"
    show_html = bool(msg.html_body) and not want_text and msg.preferred == "html"
    name = opened.sidebar.current.name
    return render(request, "webmail/message.html", {
        "sidebar": opened.sidebar, "folder": opened.sidebar.current, "uid": uid, "msg": msg,
        "show_html": show_html,
        "all_headers": request.GET.get("headers") == "all",
        "remote_blocked": show_html and opened.remote_blocked,
        "body_url": reverse("webmail:body", args=[name, uid]),
        "iframe_attrs": mark_safe(sanitize.IFRAME_ATTRS),  # a constant of the sanitiser
        "attachments": [a for a in msg.attachments if not a.inline],
        "raster_types": cid.RASTER_TYPES,
    })


@require_GET
@login_required
@xframe_options_sameorigin
@_mail_errors
def body(request, folder: str, uid: int):
    """The sanitised HTML as its own document, for the reading view's sandboxed iframe.
    `?remote=1` shows remote content for this one answer; nothing remembers it."""
    remote = request.GET.get("remote") == "1"
    document = services.body_document(request.user, folder, uid, remote=remote,
                                      cid_url=lambda token: reverse("webmail:cid", args=[token]))
    if document is None:
        raise NoSuchMessage(uid)
    response = HttpResponse(document.html)
    cid_source = request.build_absolute_uri(reverse("webmail:index") + "cid/")
    for header, value in sanitize.serve_headers(remote=remote, cid_source=cid_source).items():
        response[header] = value
    return response


# Types a browser would render as a document (script and all) if it ever showed them.
_MARKUP_TYPES = re.compile(r"(text/(html|xml|xsl|javascript|ecmascript)|.*\+xml|application/(xml|xhtml.*|javascript"
                           r"|ecmascript|x-shockwave-flash|pdf))")
_MIME_TYPE = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]*/[a-z0-9][a-z0-9!#$&^_.+-]*")


def _download(data: bytes, content_type: str, filename: str, *, inline: bool = False) -> HttpResponse:
    content_type = content_type.lower()
    if not _MIME_TYPE.fullmatch(content_type) or _MARKUP_TYPES.fullmatch(content_type):
        content_type = "application/octet-stream"
    response = HttpResponse(data, content_type=content_type)
    filename = re.sub(r"[\x00-\x1f\x7f/\\]", "_", filename).strip() or "attachment"
    response["Content-Disposition"] = content_disposition_header(not inline, filename)
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "sandbox"
    response["Cache-Control"] = "private, no-store"
    return response


@require_GET
@login_required
@_mail_errors
def part(request, folder: str, uid: int, section: str):
    """One attachment, always as a download; raster images may be shown inline (`?inline=1`)."""
    _raw, found = services.attachment(request.user, folder, uid, section)
    if found is None:
        return render(request, "webmail/bad_request.html",
                      {"problem": "This message has no such attachment.", "folder": folder}, status=404)
    inline = request.GET.get("inline") == "1" and found.content_type.lower() in cid.RASTER_TYPES
    return _download(found.data, found.content_type, found.filename or f"part-{section}", inline=inline)


@require_GET
@login_required
@_mail_errors
def source(request, folder: str, uid: int):
    """The raw message as sent (.eml)."""
    raw = services.message_bytes(request.user, folder, uid)
    return _download(raw.data, "message/rfc822", f"message-{uid}.eml")


@require_GET
def cid_image(request, token: str):
    """An inline image of the iframe's document: no session (see webmail.cid), a signed token."""
    try:
        found = cid.image(token)
    except cid.BadToken:
        return HttpResponse("This image link is not valid (any more).", status=403, content_type="text/plain")
    if found is None:
        return HttpResponse("This image is no longer available: reload the message.", status=404,
                            content_type="text/plain")
    content_type, data = found
    response = HttpResponse(data, content_type=content_type)
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "sandbox"
    response["Cache-Control"] = f"private, max-age={cid.CID_SECONDS}"
    return response
