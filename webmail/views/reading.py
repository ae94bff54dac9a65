"""The reading view (of a message, or of a message attached to one), the iframe's document,
downloads (one attachment, all as a zip, the .eml), cid images, and the reading view's own
small actions: mark as read, trust the sender with remote content."""

from __future__ import annotations

import re

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import content_disposition_header
from django.utils.safestring import mark_safe
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.http import require_GET, require_POST

from webmail import cid, preferences, services
from webmail.mailbox.session import NoSuchMessage
from webmail.models import MarkRead
from webmail.render import sanitize

from .common import mail_errors


def _reading_context(request, opened: services.Opened, uid: int, *, section: str = "") -> dict:
    """What message.html needs, for a message (`section` "") or an attached one."""
    msg = opened.message
    name = opened.sidebar.current.name
    show_html = bool(msg.html_body) and request.GET.get("view") != "text" and msg.preferred == "html"
    body_url = (reverse("webmail:attached_body", args=[name, uid, section]) if section else
                reverse("webmail:body", args=[name, uid]))
    attachments = [a for a in msg.attachments if not a.inline]
    return {
        "sidebar": opened.sidebar, "folder": opened.sidebar.current, "uid": uid, "msg": msg, "section": section,
        "show_html": show_html,
        "all_headers": request.GET.get("headers") == "all",
        "remote_trusted": show_html and opened.remote_trusted and opened.remote_blocked,
        "remote_blocked": show_html and opened.remote_blocked and not opened.remote_trusted,
        "body_url": body_url,
        "iframe_attrs": mark_safe(sanitize.IFRAME_ATTRS),  # a constant of the sanitiser
        "attachments": attachments,
        "zip_url": (reverse("webmail:attached_zip", args=[name, uid, section]) if section else
                    reverse("webmail:zip", args=[name, uid])) if len(services.zip_files(msg)) >= 2 else "",
        "raster_types": cid.RASTER_TYPES,
        # The messages around an attached one, outermost first, this one last.
        "outer_path": [a for a in opened.path if a.section != section],
    }


@require_GET
@login_required
@mail_errors
def message(request, folder: str, uid: int):
    opened = services.open_message(request.user, folder, uid)
    prefs = preferences.for_member(request.user)
    context = _reading_context(request, opened, uid)
    context.update({
        "seen": opened.seen, "flagged": opened.raw.flagged,
        # With "after N seconds", webmail-reading.js sends the "Mark as read" form then.
        "mark_read_after": prefs.mark_read_seconds if prefs.mark_read == MarkRead.DELAYED else None,
        # "Always show remote content from …": the first From address, as it would be stored.
        "trust_address": preferences.normalise_address(opened.message.from_[0].address)
        if opened.message.from_ and context["remote_blocked"] else None,
    })
    return render(request, "webmail/message.html", context)


@require_GET
@login_required
@mail_errors
def attached(request, folder: str, uid: int, section: str):
    """A message attached to the message `uid` (message/rfc822 at `section`), read like one."""
    opened = services.open_attached(request.user, folder, uid, section)
    if opened is None:
        return _no_attached_message(request, folder)
    return render(request, "webmail/message.html", _reading_context(request, opened, uid, section=section))


def _no_attached_message(request, folder: str):
    return render(request, "webmail/bad_request.html",
                  {"problem": "This message has no attached message there.", "folder": folder}, status=404)


def _body_response(request, folder: str, uid: int, section: str = "") -> HttpResponse:
    remote = request.GET.get("remote") == "1"
    document = services.body_document(request.user, folder, uid, remote=remote, section=section,
                                      cid_url=lambda token: reverse("webmail:cid", args=[token]))
    if document is None:
        raise NoSuchMessage(uid)
    response = HttpResponse(document.html)
    cid_source = request.build_absolute_uri(reverse("webmail:index") + "cid/")
    for header, value in sanitize.serve_headers(remote=remote, cid_source=cid_source).items():
        response[header] = value
    return response


@require_GET
@login_required
@xframe_options_sameorigin
@mail_errors
def body(request, folder: str, uid: int):
    """The sanitised HTML as its own document, for the reading view's sandboxed iframe.
    `?remote=1` shows remote content for this one answer (the member asked, or trusts the
    sender); nothing remembers it."""
    return _body_response(request, folder, uid)


@require_GET
@login_required
@xframe_options_sameorigin
@mail_errors
def attached_body(request, folder: str, uid: int, section: str):
    """The iframe's document of an attached message (as `body`)."""
    return _body_response(request, folder, uid, section)


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


def _zip_response(request, folder: str, uid: int, section: str = "") -> HttpResponse:
    try:
        packed = services.attachments_zip(request.user, folder, uid, section)
    except services.ZipTooBig:
        return render(request, "webmail/bad_request.html", {
            "problem": "These attachments are too big to download together: download them one by one.",
            "folder": folder}, status=413)
    if packed is None:
        return render(request, "webmail/bad_request.html",
                      {"problem": "This message has no attachments to download.", "folder": folder}, status=404)
    filename, data = packed
    return download(data, "application/zip", filename)


@require_GET
@login_required
@mail_errors
def attachments_zip(request, folder: str, uid: int):
    """Every attachment the reading view lists, in one zip."""
    return _zip_response(request, folder, uid)


@require_GET
@login_required
@mail_errors
def attached_zip(request, folder: str, uid: int, section: str):
    """Every attachment of an attached message, in one zip."""
    return _zip_response(request, folder, uid, section)


@require_GET
@login_required
@mail_errors
def source(request, folder: str, uid: int):
    """The raw message as sent (.eml); `?view=text` shows it in the browser as plain text
    (served as text/plain with nosniff and CSP sandbox: nothing in it is ever interpreted)."""
    raw = services.message_bytes(request.user, folder, uid)
    if request.GET.get("view") == "text":
        response = download(raw.data, "text/plain", f"message-{uid}.txt", inline=True)
        response["Content-Type"] = "text/plain; charset=utf-8"  # 8-bit bytes of other charsets show as �
        return response
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


@require_POST
@login_required
@mail_errors
def mark_seen(request, folder: str, uid: int):
    """"Mark as read": the form's button, or webmail-reading.js after the member's delay
    (it asks with X-Requested-With and gets an empty answer)."""
    services.mark_seen(request.user, folder, uid)
    if request.headers.get("X-Requested-With") == "XMLHttpRequest":
        return HttpResponse(status=204)
    return redirect("webmail:message", folder=folder, uid=uid)


@require_POST
@login_required
@mail_errors
def trust_sender(request, folder: str, uid: int):
    """"Always show remote content from this sender": the message's From goes on the list."""
    try:
        address = services.trust_sender(request.user, folder, uid)
    except preferences.ListFull:
        messages.error(request, "Your list of trusted senders is full: remove some in the webmail settings first.")
    else:
        if address is None:
            messages.error(request, "This message has no sender address to trust.")
        else:
            messages.success(request, f"Remote content in mail from {address} is now shown. "
                                      "You can take that back in the webmail settings.")
    return redirect("webmail:message", folder=folder, uid=uid)
