"""The reading view, the iframe's document, downloads, cid images."""

from __future__ import annotations

import re

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import content_disposition_header
from django.utils.safestring import mark_safe
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.http import require_GET

from webmail import cid, services
from webmail.mailbox.session import NoSuchMessage
from webmail.render import sanitize

from .common import mail_errors


@require_GET
@login_required
@mail_errors
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
@mail_errors
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


def download(data: bytes, content_type: str, filename: str, *, inline: bool = False) -> HttpResponse:
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
@mail_errors
def part(request, folder: str, uid: int, section: str):
    """One attachment, always as a download; raster images may be shown inline (`?inline=1`)."""
    _raw, found = services.attachment(request.user, folder, uid, section)
    if found is None:
        return render(request, "webmail/bad_request.html",
                      {"problem": "This message has no such attachment.", "folder": folder}, status=404)
    inline = request.GET.get("inline") == "1" and found.content_type.lower() in cid.RASTER_TYPES
    return download(found.data, found.content_type, found.filename or f"part-{section}", inline=inline)


@require_GET
@login_required
@mail_errors
def source(request, folder: str, uid: int):
    """The raw message as sent (.eml)."""
    raw = services.message_bytes(request.user, folder, uid)
    return download(raw.data, "message/rfc822", f"message-{uid}.eml")


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
