"""Inline (cid:) images of an HTML mail, served to the sandboxed iframe without the session.

The iframe's document is served with the session (its request comes from our page), but
the requests its images make come from an opaque origin and carry no cookie, so the image
view can neither see the member nor log in to Dovecot as them. Therefore the body view,
which has both, puts each inline raster image the document shows into Django's cache and
writes its URL as a capability: a django.core.signing token naming member, folder,
UIDVALIDITY, UID and section, valid for CID_SECONDS. The image view checks the signature
(403 when bad or expired) and answers from the cache (404 once it is gone: reloading the
message fills it again). Nothing but those images, bounded in size, is ever stored.

With several web processes the cache must be one they share: CACHES points at Redis
(DUCKMAIL_CACHE_URL).
"""

from __future__ import annotations

import hashlib

from django.core import signing
from django.core.cache import cache

CID_SECONDS = 10 * 60
MAX_IMAGE_BYTES = 5 * 1024 * 1024
_SALT = "webmail.cid"

# Raster images only: an SVG is a document that can carry script.
RASTER_TYPES = {"image/png", "image/jpeg", "image/gif", "image/webp", "image/bmp", "image/avif", "image/x-icon",
                "image/vnd.microsoft.icon"}


def _cache_key(member_pk: int, folder: str, uidvalidity: int, uid: int, section: str) -> str:
    digest = hashlib.sha256(f"{member_pk}\0{folder}\0{uidvalidity}\0{uid}\0{section}".encode()).hexdigest()
    return f"webmail:cid:{digest}"


def offer(member_pk: int, folder: str, uidvalidity: int, uid: int, section: str, content_type: str,
          data: bytes) -> str | None:
    """Store one inline image for the iframe; its signed token, or None when it may not be shown."""
    content_type = content_type.lower()
    if content_type == "image/jpg":
        content_type = "image/jpeg"
    if content_type not in RASTER_TYPES or len(data) > MAX_IMAGE_BYTES:
        return None
    cache.set(_cache_key(member_pk, folder, uidvalidity, uid, section), (content_type, data), CID_SECONDS)
    return signing.dumps([member_pk, folder, uidvalidity, uid, section], salt=_SALT, compress=True)


class BadToken(Exception):
    """The signature is wrong or expired."""


def image(token: str) -> tuple[str, bytes] | None:
    """The (content type, bytes) a token names; None when no longer cached; BadToken."""
    try:
        member_pk, folder, uidvalidity, uid, section = signing.loads(token, salt=_SALT, max_age=CID_SECONDS)
    except (signing.BadSignature, ValueError, TypeError) as exc:
        raise BadToken(str(exc)) from exc
    return cache.get(_cache_key(member_pk, folder, uidvalidity, uid, section))
