"""Hostile mail HTML made harmless: the sanitiser, and how its output must be served.

Contract
========

``sanitize(html, *, remote=False, cid_url=no_cid, link_url=None) -> SanitizedHtml``

- ``html`` is the decoded text of a ``text/html`` part (the MIME parser has already turned
  bytes into ``str``; whatever charset the part claimed is gone, and the output is always
  UTF-8, so charset tricks such as UTF-7 ``+ADw-script+AD4-`` stay plain text).
- ``SanitizedHtml.html`` is a complete small document (doctype, ``<meta charset>``, a
  ``<meta>`` copy of the policy below, our base styles, the mail's sanitised styles, the
  sanitised body) to be served **only** as the document of the reading view's
  ``<iframe {IFRAME_ATTRS}>``, with the headers of ``serve_headers()``.
- ``SanitizedHtml.blocked_remote`` is true when something remote was held back, i.e. when
  ``remote=True`` would load more: the page then shows the banner "show remote content
  once" / "always for this sender". ``SanitizedHtml.blocked`` counts what was held back by
  kind: ``"image"`` (``<img src>``/``srcset``), ``"background"`` (``background=``
  attributes) and ``"css"`` (``url()`` in a style attribute or a ``<style>`` block).
  Things dropped whatever ``remote`` says (``@import``, ``@font-face``, ``<picture>``
  sources, video posters, frames…) are not counted: showing remote content would not
  bring them back.
- ``remote=True`` keeps remote (``http:``/``https:``, protocol-relative made ``https:``)
  images, backgrounds, ``srcset`` candidates and CSS ``url()``s. Nothing else changes.
- ``cid_url(content_id) -> str | None`` maps a ``cid:`` reference (the Content-ID without
  ``<>``, percent-decoded as RFC 2392 says) to our own proxy URL for that inline part
  (a path such as ``/mail/INBOX/42/cid/…`` or an absolute ``http(s)`` URL of ours), or
  ``None`` when the message has no such part (the reference is dropped). The default maps
  nothing. Its answer is trusted only if it is a path (``/…``, not ``//…``) or ``http(s)``.
- ``link_url(url) -> str | None``, if given, sees every link that survived (an absolute
  ``http(s)``/``mailto`` URL) and returns what the ``href`` becomes (``None`` drops it):
  the place to turn ``mailto:`` into our compose page later. Its answer is not re-checked.

What survives (built on nh3, i.e. ammonia, which parses like a browser and re-serialises,
so no markup trick survives as markup):

- Tags: ``ALLOWED_TAGS`` (text, lists, tables, ``font``/``center``, ``img``, ``a``). Gone
  with their content: ``script``, ``style`` (re-added sanitised, below), ``title``,
  ``noscript``, ``template``, SVG, MathML, frames, ``object``/``embed``/``applet``,
  ``textarea``/``select``, ``xmp``/``noembed``/``noframes``. Gone, their text kept: forms
  and every other tag (``picture``, ``video``, ``audio``, ``button``…). Void elements that
  can load or navigate (``base``, ``link``, ``meta``, ``input``, ``source``, ``track``)
  simply vanish.
- Attributes: ``ALLOWED_ATTRIBUTES``; no ``on*``, no ``formaction``, ``srcdoc``, ``ping``,
  ``target`` (we set it), ``rel`` (we set it), ``cite``/``longdesc``/``lowsrc``/``dynsrc``.
- URLs (tab/newline removed and control characters trimmed as browsers do before judging
  the scheme): links keep ``http``, ``https`` and ``mailto`` only — ``javascript:``,
  ``vbscript:``, ``data:``, relative URLs (which would reach our own site) die — and get
  ``target="_blank" rel="noopener noreferrer"``. Images keep ``cid:`` (through
  ``cid_url``), ``data:image/<raster>`` (never SVG) and, with ``remote=True``, http(s).
- CSS, in style attributes and in ``<style>`` blocks: we **keep** ``<style>`` blocks,
  sanitised, because newsletters lay themselves out with them (class rules, ``@media``
  for phones); dropping them leaves many unreadable. Each block is parsed with tinycss2
  and re-serialised: only qualified rules and ``@media`` (recursively) are kept; every
  other at-rule (``@import``, ``@font-face``, ``@namespace``, ``@charset``,
  ``@keyframes``, ``@supports``, ``@document``…) is dropped; each declaration must name a
  property of ``ALLOWED_CSS_PROPERTIES`` (no ``behavior``, ``-moz-binding``,
  ``position``, custom properties…) and its value may hold only plain tokens and the
  functions of ``SAFE_CSS_FUNCTIONS`` (colours, ``calc``, gradients): ``expression()``,
  ``image-set()``, ``image()``, ``cross-fade()``, ``element()``, ``var()``, ``attr()``…
  drop the declaration. ``url()`` (in any spelling: escapes such as ``u\\rl(`` or
  ``\\75\\72\\6c(`` are decoded by the tokenizer before we look) is rewritten like an image
  URL above or drops the declaration. A serialised rule holding ``<`` is dropped, so no
  ``</style>`` can come out of a block. Selectors are kept as written, not scoped: the
  iframe's document holds the message alone, so ``body``/``td`` rules can only restyle
  the message itself, which is what they are for; selectors cannot load anything, and
  no selector-based exfiltration works without a load. ``<body>``'s ``bgcolor``, ``text``,
  ``background`` and ``style`` are carried to a wrapper ``<div class="dm-body">``.

Serving (the view must do all of it):

- ``serve_headers(remote=..., cid_source=...)``: ``Content-Security-Policy`` (see
  ``content_security_policy``: ``default-src 'none'; script-src 'none'``, images only from
  ``data:`` and ``cid_source`` — plus ``https: http:`` with ``remote=True`` —,
  ``style-src 'unsafe-inline'`` because we keep sanitised styles, ``form-action 'none'``,
  ``frame-ancestors 'self'``, ``base-uri 'none'``, and ``sandbox`` so the document stays
  sandboxed even when opened outside the iframe), ``Referrer-Policy: no-referrer`` (a
  remote image must not learn the message's URL), ``X-Content-Type-Options: nosniff``,
  ``X-Frame-Options: SAMEORIGIN`` (Django's default ``DENY`` would refuse our own frame:
  the view needs ``@xframe_options_sameorigin`` or these headers must win) and
  ``Cache-Control: private, no-store``.
- Cookies: the iframe's document request carries the session cookie (the request comes from
  our page), but requests made *from* the sandboxed document (its images) come from an opaque
  origin and carry no ``SameSite=Lax``/``Strict`` cookie (checked in Chromium 156). So the
  ``cid_url`` answers must be capability URLs the proxy can check without the session (e.g.
  signed with ``django.core.signing``, short-lived, naming member, folder, UID and Content-ID).
- The embedding page uses ``<iframe src="…" {IFRAME_ATTRS}>``: ``sandbox`` without
  ``allow-scripts`` and without ``allow-same-origin`` (an opaque origin: even a script that
  ran could reach neither our cookies nor our pages), with ``allow-popups
  allow-popups-to-escape-sandbox`` so that links open normally in a new tab.
"""

from __future__ import annotations

import re
import urllib.parse
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from html import escape
from html.parser import HTMLParser

import nh3
import tinycss2
from tinycss2 import ast

__all__ = [
    "ALLOWED_ATTRIBUTES",
    "ALLOWED_CSS_PROPERTIES",
    "ALLOWED_TAGS",
    "IFRAME_ATTRS",
    "IFRAME_ATTRIBUTES",
    "IFRAME_SANDBOX",
    "SAFE_CSS_FUNCTIONS",
    "SanitizedHtml",
    "content_security_policy",
    "no_cid",
    "sanitize",
    "serve_headers",
]

# --- what the embedding page and the server must do -------------------------------------

#: The iframe's sandbox tokens: no allow-scripts, no allow-same-origin; links (target=_blank)
#: may open a normal, un-sandboxed tab.
IFRAME_SANDBOX = "allow-popups allow-popups-to-escape-sandbox"
#: The attributes of the reading view's <iframe>, as a mapping…
IFRAME_ATTRIBUTES: dict[str, str] = {"sandbox": IFRAME_SANDBOX, "referrerpolicy": "no-referrer"}
#: …and as markup for a template: ``<iframe src="{{ url }}" {{ IFRAME_ATTRS }}>`` (mark it safe:
#: it is a constant).
IFRAME_ATTRS = " ".join(f'{name}="{escape(value)}"' for name, value in IFRAME_ATTRIBUTES.items())


def content_security_policy(*, remote: bool = False, cid_source: str = "'self'", meta: bool = False) -> str:
    """The policy the iframe's document is served under.

    ``cid_source`` is where our inline-part proxy answers, as a CSP source: best an absolute
    URL prefix ending in ``/`` (``https://mail.example.org/mail/cid/``, which CSP matches as a
    path prefix); ``'self'`` allows the whole site. ``meta=True`` leaves out what a
    ``<meta http-equiv>`` policy may not carry (``frame-ancestors``, ``sandbox``).
    """
    img = ["data:", cid_source] + (["https:", "http:"] if remote else [])
    directives = [
        "default-src 'none'",
        "script-src 'none'",
        "object-src 'none'",
        "img-src " + " ".join(img),
        "style-src 'unsafe-inline'",
        "font-src 'none'",
        "media-src 'none'",
        "frame-src 'none'",
        "connect-src 'none'",
        "form-action 'none'",
        "base-uri 'none'",
    ]
    if not meta:
        directives += ["frame-ancestors 'self'", "sandbox " + IFRAME_SANDBOX]
    return "; ".join(directives)


def serve_headers(*, remote: bool = False, cid_source: str = "'self'") -> dict[str, str]:
    """Every header the iframe's document must be served with (see the module docstring)."""
    return {
        "Content-Type": "text/html; charset=utf-8",
        "Content-Security-Policy": content_security_policy(remote=remote, cid_source=cid_source),
        "Referrer-Policy": "no-referrer",
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "SAMEORIGIN",
        "Cache-Control": "private, no-store",
    }


# --- the allow-lists ----------------------------------------------------------------------

ALLOWED_TAGS: frozenset[str] = frozenset(
    """a abbr acronym address article aside b bdi bdo big blockquote br caption center cite code col
    colgroup data dd del details dfn div dl dt em figcaption figure font footer h1 h2 h3 h4 h5 h6 header
    hgroup hr i img ins kbd li main mark nav ol p pre q rp rt rtc ruby s samp section small span strike
    strong sub summary sup table tbody td tfoot th thead time tr tt u ul var wbr""".split()
)

# Removed with everything inside: their content is code, hidden, or parsed by other rules.
_DROP_WITH_CONTENT = frozenset(
    """script style title noscript template svg math iframe frame frameset noframes object embed applet
    textarea select xmp noembed plaintext head""".split()
)

_GENERIC_ATTRIBUTES = {"style", "class", "id", "title", "lang", "dir", "align", "valign", "width", "height", "bgcolor"}
ALLOWED_ATTRIBUTES: dict[str, set[str]] = {
    "*": _GENERIC_ATTRIBUTES,
    "a": {"href", "name", "hreflang"},
    "img": {"src", "srcset", "alt", "border", "hspace", "vspace"},
    "table": {"border", "cellpadding", "cellspacing", "background", "summary", "frame", "rules"},
    "td": {"colspan", "rowspan", "nowrap", "background", "headers", "scope", "abbr"},
    "th": {"colspan", "rowspan", "nowrap", "background", "headers", "scope", "abbr"},
    "tr": {"background"},
    "font": {"color", "face", "size"},
    "ol": {"start", "type", "reversed"},
    "ul": {"type"},
    "li": {"value", "type"},
    "col": {"span"},
    "colgroup": {"span"},
    "hr": {"size", "noshade", "color"},
    "time": {"datetime"},
    "data": {"value"},
    "details": {"open"},
}

ALLOWED_CSS_PROPERTIES: frozenset[str] = frozenset(
    """color background background-color background-image background-position background-repeat
    background-size background-clip background-origin
    border border-top border-right border-bottom border-left border-color border-style border-width
    border-top-color border-right-color border-bottom-color border-left-color border-top-style
    border-right-style border-bottom-style border-left-style border-top-width border-right-width
    border-bottom-width border-left-width border-radius border-top-left-radius border-top-right-radius
    border-bottom-left-radius border-bottom-right-radius border-collapse border-spacing
    margin margin-top margin-right margin-bottom margin-left padding padding-top padding-right
    padding-bottom padding-left width height min-width min-height max-width max-height
    font font-family font-size font-style font-weight font-variant line-height letter-spacing
    word-spacing text-align text-decoration text-decoration-color text-decoration-line
    text-decoration-style text-indent text-transform text-shadow white-space word-break word-wrap
    overflow-wrap vertical-align direction list-style list-style-type list-style-position
    table-layout caption-side empty-cells display float clear visibility opacity overflow
    overflow-x overflow-y box-sizing box-shadow outline outline-color outline-style outline-width""".split()
)

SAFE_CSS_FUNCTIONS: frozenset[str] = frozenset(
    """rgb rgba hsl hsla hwb lab lch oklab oklch calc min max clamp linear-gradient radial-gradient
    repeating-linear-gradient repeating-radial-gradient""".split()
)

# What every link gets: a new tab, no window.opener, no Referer.
_LINK_ATTRIBUTES = {"target": "_blank", "rel": "noopener noreferrer"}

# Raster images only: an SVG (or any other data: type) could carry script or further loads.
_DATA_IMAGE = re.compile(r"data:image/(png|gif|jpe?g|webp|bmp|avif|x-icon|vnd\.microsoft\.icon)[;,]", re.I)
_SCHEME = re.compile(r"([a-z][a-z0-9+.\-]*):", re.I)
_TAB_NEWLINE = re.compile(r"[\t\n\r]")

# A bigger style sheet is cut there: tinycss2 is pure Python, and no real mail needs more.
MAX_CSS_CHARS = 200_000


def no_cid(content_id: str) -> str | None:
    """The default ``cid_url``: no inline part is known, every ``cid:`` reference is dropped."""
    return None


@dataclass(frozen=True)
class SanitizedHtml:
    html: str
    blocked: dict[str, int] = field(default_factory=dict)

    @property
    def blocked_remote(self) -> bool:
        return any(self.blocked.values())


# --- URLs ---------------------------------------------------------------------------------


def _normalise_url(url: str) -> str:
    # What the URL parser does before it looks at the scheme: "java\tscript:" is javascript:.
    return _TAB_NEWLINE.sub("", url).strip("\x00\x01\x02\x03\x04\x05\x06\x07\x08\x0b\x0c\x0e\x0f\x10\x11\x12\x13\x14"
                                            "\x15\x16\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f ")


def _url_kind(url: str) -> tuple[str, str]:
    """(kind, normalised url), kind one of remote, cid, data-image, mailto, other."""
    url = _normalise_url(url)
    if url.replace("\\", "/").startswith("//"):
        return "remote", "https:" + url.replace("\\", "/")
    scheme = _SCHEME.match(url)
    if not scheme:
        return "other", url  # relative: it would reach our own site
    name = scheme.group(1).lower()
    if name in ("http", "https"):
        return "remote", url
    if name == "cid":
        return "cid", url
    if name == "mailto":
        return "mailto", url
    if name == "data" and _DATA_IMAGE.match(url):
        return "data-image", url
    return "other", url


class _Run:
    """The state of one sanitize() call: the options and what was held back."""

    def __init__(self, remote: bool, cid_url: Callable[[str], str | None], link_url: Callable[[str], str | None] | None):
        self.remote = remote
        self.cid_url = cid_url
        self.link_url = link_url
        self.blocked: Counter[str] = Counter()

    def image_url(self, url: str, kind_blocked: str) -> str | None:
        """What an image URL becomes, or None to drop it (counting a held-back remote one)."""
        kind, url = _url_kind(url)
        if kind == "data-image":
            return url
        if kind == "cid":
            return self._cid(url)
        if kind == "remote":
            if self.remote:
                return url
            self.blocked[kind_blocked] += 1
        return None

    def _cid(self, url: str) -> str | None:
        content_id = urllib.parse.unquote(url[4:]).strip().strip("<>")
        if not content_id:
            return None
        mapped = self.cid_url(content_id)
        if not isinstance(mapped, str):
            return None
        if (mapped.startswith("/") and not mapped.startswith(("//", "/\\"))) or re.match(r"https?://", mapped, re.I):
            return mapped
        return None

    # --- attributes, called by nh3 after its own checks -----------------------------------

    def attribute(self, tag: str, name: str, value: str) -> str | None:
        # nh3 asks about the attributes of elements it is about to drop too (<video src>,
        # <input src>): only those we keep may count as held back, or load anything.
        if tag == "a" and name in _LINK_ATTRIBUTES:
            return _LINK_ATTRIBUTES[name]  # the ones nh3 sets for us, whatever the mail said
        if name not in ALLOWED_ATTRIBUTES["*"] and name not in ALLOWED_ATTRIBUTES.get(tag, ()):
            return None
        if name == "style":
            return self.declarations(value) or None
        if name == "href":
            kind, url = _url_kind(value)
            if kind not in ("remote", "mailto"):
                return None
            return self.link_url(url) if self.link_url else url
        if name == "src":
            return self.image_url(value, "image")
        if name == "srcset":
            return self.srcset(value)
        if name == "background":
            return self.image_url(value, "background")
        return value

    def srcset(self, value: str) -> str | None:
        kept, held_back = [], False
        for candidate in _srcset_candidates(value):
            url, _, descriptor = candidate.partition(" ")
            kind, _ = _url_kind(url)
            if kind == "remote" and not self.remote:
                held_back = True
                continue
            if kind in ("remote", "cid"):
                mapped = self.image_url(url, "image")
                if mapped and not re.search(r"[\s,]", mapped):
                    kept.append(f"{mapped} {descriptor}".strip())
        if held_back:
            self.blocked["image"] += 1
        return ", ".join(kept) or None

    # --- CSS ------------------------------------------------------------------------------

    def declarations(self, text: str) -> str:
        """A style attribute's (or a rule's) declarations, only the safe ones, re-serialised."""
        return self._declarations(tinycss2.parse_declaration_list(text, skip_comments=True, skip_whitespace=True))

    def _declarations(self, items) -> str:
        out = []
        for item in items:
            if item.type != "declaration" or item.lower_name not in ALLOWED_CSS_PROPERTIES:
                continue
            value = self._value(item.value)
            if value is None or not value.strip():
                continue
            out.append(f"{item.lower_name}: {value.strip()}{' !important' if item.important else ''}")
        return "; ".join(out)

    def _value(self, tokens) -> str | None:
        """The value re-serialised, URLs rewritten; None when anything in it is not safe."""
        parts = []
        for token in tokens:
            if isinstance(token, ast.URLToken):
                # A URL we may not load becomes "none": "background: #eee url(…)" keeps its colour.
                url = self.image_url(token.value, "css")
                parts.append(_css_url(url) if url else "none")
            elif isinstance(token, ast.FunctionBlock):
                if token.lower_name == "url":
                    strings = [t for t in token.arguments if not isinstance(t, (ast.WhitespaceToken, ast.Comment))]
                    if len(strings) != 1 or not isinstance(strings[0], ast.StringToken):
                        return None
                    url = self.image_url(strings[0].value, "css")
                    parts.append(_css_url(url) if url else "none")
                elif token.lower_name in SAFE_CSS_FUNCTIONS:
                    inner = self._value(token.arguments)
                    if inner is None:
                        return None
                    parts.append(f"{token.lower_name}({inner})")  # lower_name is from our list
                else:
                    return None  # expression(), image-set(), var(), attr(), element()…
            elif isinstance(token, ast.ParenthesesBlock):
                inner = self._value(token.content)
                if inner is None:
                    return None
                parts.append(f"({inner})")
            elif isinstance(token, (ast.CurlyBracketsBlock, ast.SquareBracketsBlock, ast.AtKeywordToken, ast.ParseError)):
                return None
            elif isinstance(token, ast.Comment):
                continue
            else:
                parts.append(token.serialize())
        return "".join(parts)

    def stylesheet(self, css: str) -> str:
        rules = self._rules(tinycss2.parse_stylesheet(css[:MAX_CSS_CHARS], skip_comments=True, skip_whitespace=True))
        return "\n".join(rules)

    def _rules(self, items) -> list[str]:
        out = []
        for item in items:
            if item.type == "qualified-rule":
                prelude = _prelude(item.prelude)
                body = self.declarations(tinycss2.serialize(item.content))
                rule = f"{prelude} {{ {body} }}"
            elif item.type == "at-rule" and item.lower_at_keyword == "media" and item.content is not None:
                prelude = _prelude(item.prelude)
                inner = self._rules(tinycss2.parse_rule_list(item.content, skip_comments=True, skip_whitespace=True))
                body = "\n".join(inner)
                rule = f"@media {prelude} {{\n{body}\n}}"
            else:
                continue  # @import, @font-face, @namespace, @charset, @keyframes, @supports…
            if prelude is None or not body or "<" in rule:
                continue
            out.append(rule)
        return out


def _prelude(tokens) -> str | None:
    """A selector or media query as written, unless it holds something that is no selector."""
    for token in tokens:
        if isinstance(token, (ast.URLToken, ast.AtKeywordToken, ast.CurlyBracketsBlock, ast.ParseError)):
            return None
        if isinstance(token, ast.FunctionBlock) and token.lower_name == "url":
            return None
        if isinstance(token, (ast.FunctionBlock, ast.SquareBracketsBlock, ast.ParenthesesBlock)) and _prelude(
            token.arguments if isinstance(token, ast.FunctionBlock) else token.content
        ) is None:
            return None
    text = tinycss2.serialize(tokens).strip()
    return text or None


def _css_url(url: str) -> str:
    escaped = url.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\a ").replace("<", "\\3c ")
    return f'url("{escaped}")'


def _srcset_candidates(value: str) -> list[str]:
    """The candidates of a srcset, each "url descriptor" (HTML's algorithm, simplified: a URL
    runs to the next whitespace, trailing commas are not part of it)."""
    out, i, n = [], 0, len(value)
    while i < n:
        while i < n and (value[i].isspace() or value[i] == ","):
            i += 1
        start = i
        while i < n and not value[i].isspace():
            i += 1
        url = value[start:i]
        descriptor = ""
        if url.endswith(","):
            url = url.rstrip(",")
        else:
            start = i
            while i < n and value[i] != ",":
                i += 1
            descriptor = value[start:i].strip()
        if url:
            out.append(f"{url} {descriptor}".strip())
    return out


# --- what nh3 would throw away but we keep (sanitised) ------------------------------------


class _Extract(HTMLParser):
    """The <style> blocks' text and the first <body>'s attributes.

    This parser is not the browser's, and need not be: whatever it takes for CSS goes
    through the CSS sanitiser, whose output is safe whatever its input; the markup itself
    is judged by nh3 alone.
    """

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.styles: list[str] = []
        self.body: dict[str, str] | None = None
        self._in_style = False

    def handle_starttag(self, tag, attrs):
        if tag == "style":
            self._in_style = True
            self.styles.append("")
        elif tag == "body" and self.body is None:
            self.body = {k: v or "" for k, v in attrs}

    def handle_endtag(self, tag):
        if tag == "style":
            self._in_style = False

    def handle_data(self, data):
        if self._in_style and self.styles:
            self.styles[-1] += data


_BASE_CSS = """
html { color-scheme: light; }
body { margin: 0; padding: 8px; background: #fff; color: #111;
       font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
       overflow-wrap: break-word; }
img { max-width: 100%; height: auto; }
pre { white-space: pre-wrap; }
blockquote { margin: 0 0 0 .8em; padding-left: .8em; border-left: 3px solid #bbb; color: #444; }
table { max-width: 100%; }
""".strip()


def sanitize(
    html: str,
    *,
    remote: bool = False,
    cid_url: Callable[[str], str | None] = no_cid,
    link_url: Callable[[str], str | None] | None = None,
) -> SanitizedHtml:
    """The mail's HTML as a harmless document for the sandboxed iframe (see the module docstring)."""
    run = _Run(remote, cid_url, link_url)
    extract = _Extract()
    try:
        extract.feed(html)
        extract.close()
    except Exception:  # html.parser is lenient; this is belt and braces for a CSS nicety
        pass

    cleaner = nh3.Cleaner(
        tags=set(ALLOWED_TAGS),
        clean_content_tags=set(_DROP_WITH_CONTENT),
        attributes={tag: set(names) for tag, names in ALLOWED_ATTRIBUTES.items()},
        attribute_filter=run.attribute,
        strip_comments=True,
        link_rel=_LINK_ATTRIBUTES["rel"],
        url_schemes={"http", "https", "mailto", "cid", "data"},
        set_tag_attribute_values={"a": {"target": _LINK_ATTRIBUTES["target"]}},
        filter_style_properties=set(ALLOWED_CSS_PROPERTIES),
    )
    body = cleaner.clean(html)

    css = run.stylesheet("\n".join(extract.styles)) if extract.styles else ""
    wrapper = _body_style(run, extract.body or {})
    document = (
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">\n"
        f'<meta http-equiv="Content-Security-Policy" content="{escape(content_security_policy(remote=remote, meta=True))}">\n'
        '<meta name="referrer" content="no-referrer">\n'
        f"<style>\n{_BASE_CSS}\n</style>\n"
        + (f"<style>\n{css}\n</style>\n" if css else "")
        + "</head><body>"
        f'<div class="dm-body"{wrapper}>{body}</div>'
        "</body></html>\n"
    )
    return SanitizedHtml(html=document, blocked={k: v for k, v in run.blocked.items() if v})


def _body_style(run: _Run, attrs: dict[str, str]) -> str:
    """<body bgcolor text background style> as a style attribute for our wrapper div."""
    parts = []
    if attrs.get("bgcolor"):
        parts.append(f"background-color: {attrs['bgcolor']}")
    if attrs.get("text"):
        parts.append(f"color: {attrs['text']}")
    if attrs.get("background"):
        parts.append(f"background-image: {_css_url(attrs['background'])}")
    if attrs.get("style"):
        parts.append(attrs["style"])
    style = run.declarations("; ".join(parts)) if parts else ""
    return f' style="{escape(style)}"' if style else ""
