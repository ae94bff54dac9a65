"""The mail HTML sanitiser (webmail/render/sanitize.py): hostile HTML comes out harmless, benign
mail comes out readable, and Chromium agrees when the result is served the way the reading view
will serve it.

The fixtures in fixtures/html/ are attacks written after webmail advisories and XSS cheat
sheets (attack_*.html) and real-looking mails (benign_*.html). In an attack, XPAYLOADX is
script that tells on itself (a postMessage to the embedding page and a request to "the
internet"), XINTERNETX is the internet's host and XNAMEX the fixture's name. The first line says
what the attack achieves when nobody sanitises it in Chromium: `script` (script runs), `remote`
(something loads from the internet) or `legacy` (only old browsers fell for it); the browser
test checks that claim on the raw attacks too, so a fixture that attacks nothing is caught.
"""

import re
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import html5lib
import pytest
from django.http import HttpResponse
from django.urls import path

from tests import servers
from webmail.render.sanitize import IFRAME_ATTRS, IFRAME_SANDBOX, content_security_policy, sanitize, serve_headers

FIXTURES = Path(__file__).parent / "fixtures" / "html"
ATTACKS = sorted(FIXTURES.glob("attack_*.html"))
BENIGN = sorted(FIXTURES.glob("benign_*.html"))
PAYLOAD = "parent.postMessage('XNAMEX','*');fetch('http://XINTERNETX/XNAMEX/js')"  # no spaces: it goes in unquoted attributes too
INTERNET = "internet.example"  # the internet's host in the pure tests
KNOWN_CIDS = {"photo1@duckmail.test", "logo@duckmail.test", "paper@duckmail.test"}
GIF = bytes.fromhex("47494638396101000100800000000000ffffff21f90401000000002c00000000010001000002024401003b")


def load(fixture: Path, internet: str = INTERNET) -> str:
    return fixture.read_text().replace("XPAYLOADX", PAYLOAD).replace("XNAMEX", fixture.stem).replace("XINTERNETX", internet)


def expectations(fixture: Path) -> set[str]:
    first = fixture.read_text().splitlines()[0]
    return set(re.fullmatch(r"<!-- expect: ([a-z ]+) -->", first).group(1).split())


def cid_url(content_id: str) -> str | None:
    return f"/cid/{urllib.parse.quote(content_id)}" if content_id in KNOWN_CIDS else None


# --- what "harmless" means, judged by html5lib (a WHATWG parser, not nh3) -------------------

XHTML = "{http://www.w3.org/1999/xhtml}"
FORBIDDEN_ELEMENTS = {
    "script", "iframe", "frame", "frameset", "object", "embed", "applet", "form", "input", "button", "textarea",
    "select", "option", "base", "link", "svg", "math", "noscript", "template", "video", "audio", "source", "picture",
    "portal", "fencedframe", "isindex", "area", "map", "param", "track", "image", "marquee", "xmp", "noembed",
    "noframes", "plaintext",
}  # fmt: skip
FORBIDDEN_ATTRIBUTES = {
    "formaction", "srcdoc", "ping", "action", "poster", "lowsrc", "dynsrc", "longdesc", "data", "code", "codebase",
    "autofocus", "download", "usemap", "form", "xlink:href",
}  # fmt: skip
OUR_METAS = [{"charset": "utf-8"}, {"http-equiv": "Content-Security-Policy"}, {"name": "referrer", "content": "no-referrer"}]


def parse(document: str):
    return html5lib.parse(document, treebuilder="etree", namespaceHTMLElements=True)


def css_of(tree) -> list[str]:
    styles = [e.get("style") for e in tree.iter() if isinstance(e.tag, str) and e.get("style") is not None]
    return styles + ["".join(e.itertext()) for e in tree.iter(XHTML + "style")]


def assert_harmless(document: str, *, remote: bool = False) -> None:
    tree = parse(document)
    head = tree.find(XHTML + "head")
    metas = [dict(m.attrib) for m in tree.iter(XHTML + "meta")]
    assert [{k: v for k, v in m.items() if k != "content" or "http-equiv" not in m} for m in metas] == OUR_METAS
    assert all(style in list(head) for style in tree.iter(XHTML + "style")), "a <style> outside our head"
    for element in tree.iter():
        if not isinstance(element.tag, str):
            continue  # comments (html5lib keeps none of ours, but be sure they carry no markup)
        assert element.tag.startswith(XHTML), f"foreign element {element.tag}"
        name = element.tag[len(XHTML):]
        assert name not in FORBIDDEN_ELEMENTS, f"<{name}> survived"
        for attribute, value in element.attrib.items():
            attribute = attribute.lower() if isinstance(attribute, str) else attribute
            assert not str(attribute).startswith("on"), f"{attribute} on <{name}>"
            assert attribute not in FORBIDDEN_ATTRIBUTES, f"{attribute} on <{name}>"
            if attribute == "target":
                assert value == "_blank"
            if attribute in ("href", "src", "srcset", "background"):
                for url in (value.split(",") if attribute == "srcset" else [value]):
                    assert_url_ok(name, attribute, url.strip().split(" ")[0], remote)
        if name == "a" and element.get("href"):
            assert set(element.get("rel", "").split()) >= {"noopener", "noreferrer"}
            assert element.get("target") == "_blank"
    for css in css_of(tree):
        lowered = css.lower()
        for word in ("expression", "behavior", "binding", "@import", "@font-face", "image-set", "javascript", "vbscript",
                     "\\", "var(", "attr(", "cross-fade", "</"):
            assert word not in lowered, f"{word!r} in CSS {css!r}"
        for url in re.findall(r"url\(\s*(.*?)\)", lowered):
            assert re.match(r"""["']?(data:image/(png|gif|jpeg);|/cid/)""", url) or (remote and re.match(r"""["']?https?:""", url)), url
        if not remote:
            assert INTERNET not in lowered


def assert_url_ok(element: str, attribute: str, url: str, remote: bool) -> None:
    url = re.sub(r"[\t\n\r]", "", url).strip("".join(map(chr, range(33))))  # as a browser reads it
    lowered = url.lower()
    if attribute == "href":
        assert element == "a", f"href on <{element}>"
        assert lowered.startswith(("http://", "https://", "mailto:")), f"link to {url!r}"
        return
    # Everything else loads: only our cid proxy and raster data, and the internet only with remote on.
    ok = lowered.startswith("/cid/") or re.match(r"data:image/(png|gif|jpeg);", lowered)
    assert ok or (remote and lowered.startswith(("http://", "https://"))), f"{attribute}={url!r} on <{element}>"


# --- pure tests ------------------------------------------------------------------------------


@pytest.mark.parametrize("fixture", ATTACKS, ids=lambda f: f.stem)
def test_it_makes_every_attack_harmless(fixture):
    result = sanitize(load(fixture), cid_url=cid_url)
    assert_harmless(result.html)
    with_remote = sanitize(load(fixture), cid_url=cid_url, remote=True)
    assert_harmless(with_remote.html, remote=True)
    assert not with_remote.blocked_remote


@pytest.mark.parametrize("fixture", ATTACKS + BENIGN, ids=lambda f: f.stem)
def test_its_output_is_stable_when_sanitised_again(fixture):
    # A mutation-XSS vector is one whose output parses into something else than what was
    # checked: sanitising the output again must change nothing that matters.
    once = sanitize(load(fixture), cid_url=cid_url).html
    twice = sanitize(once).html
    assert_harmless(twice)
    elements = [e.tag for e in parse(once).find(XHTML + "body").iter()]
    again = [e.tag for e in parse(twice).find(XHTML + "body").iter()]
    assert again == elements[:1] + [XHTML + "div"] + elements[1:]  # the same, inside one more wrapper


def test_it_counts_what_it_held_back_and_lets_it_through_on_request():
    fixture = FIXTURES / "attack_remote_images.html"
    blocked = sanitize(load(fixture))
    assert blocked.blocked_remote
    # img src ×3 (one protocol-relative), srcset, the picture's img; table and td backgrounds; CSS url() in a
    # style attribute and <body background> (which becomes CSS on our wrapper).
    assert blocked.blocked == {"image": 5, "background": 2, "css": 2}
    assert INTERNET not in blocked.html

    shown = sanitize(load(fixture), remote=True)
    assert not shown.blocked_remote and shown.blocked == {}
    tree = parse(shown.html)
    sources = {img.get("src") for img in tree.iter(XHTML + "img")}
    assert f"http://{INTERNET}/attack_remote_images/img.png" in sources
    assert f"https://{INTERNET}/attack_remote_images/protocol-relative.png" in sources
    srcsets = [img.get("srcset") for img in tree.iter(XHTML + "img") if img.get("srcset")]
    assert srcsets == [f"http://{INTERNET}/attack_remote_images/srcset-1x.png 1x, http://{INTERNET}/attack_remote_images/srcset-2x.png 2x"]
    assert {t.get("background") for t in tree.iter(XHTML + "table")} == {f"http://{INTERNET}/attack_remote_images/table-bg.png"}
    styles = [element.get("style") for element in tree.iter(XHTML + "div") if element.get("style")]
    assert styles == [f'background-image: url("http://{INTERNET}/attack_remote_images/body-bg.png")',
                      f'background-image:url("http://{INTERNET}/attack_remote_images/css-bg.png");width:20px;height:20px']
    # Never coming back, remote or not: video posters, <picture> sources, objects.
    for gone in ("poster.png", "source.webp", "object.png", "video.mp4", "audio.mp3", "lowsrc"):
        assert gone not in shown.html


def test_css_loaders_are_dropped_in_every_spelling():
    for name in ("attack_css_url_escapes", "attack_css_image_set", "attack_css_import", "attack_css_font_face", "attack_css_exfiltration"):
        result = sanitize(load(FIXTURES / f"{name}.html"))
        assert INTERNET not in result.html, name
    escapes = sanitize(load(FIXTURES / "attack_css_url_escapes.html"))
    # u\rl( and \75\72\6c( are url( to a browser, so they are counted as held back, not ignored.
    assert escapes.blocked["css"] == 10
    shown = sanitize(load(FIXTURES / "attack_css_url_escapes.html"), remote=True)
    assert f'url("http://{INTERNET}/attack_css_url_escapes/esc1.png")' in shown.html
    assert f'url("https://{INTERNET}/attack_css_url_escapes/esc5.png")' in shown.html
    # image-set(), cross-fade(), var() and @import never load, even with remote content on.
    for name in ("attack_css_image_set", "attack_css_import", "attack_css_font_face"):
        shown = sanitize(load(FIXTURES / f"{name}.html"), remote=True)
        for word in ("is1", "is2", "is3", "cf.png", "var.png", "import", "font.woff", "font2.ttf", "/ns"):
            assert word not in shown.html, (name, word)


def test_a_style_block_cannot_break_out_of_its_element():
    result = sanitize('<style>p { font-family: "</style><script>alert(1)</script>" } b { color: red }</style><p>x</p>')
    assert_harmless(result.html)
    assert "b { color: red }" in result.html


def test_utf7_stays_text_and_decoded_utf7_is_sanitised_like_anything_else():
    fixture = FIXTURES / "attack_charset_utf7.html"
    result = sanitize(load(fixture))
    assert_harmless(result.html)
    assert '<meta charset="utf-8">' in result.html and "charset=utf-7" not in result.html.lower().replace('"', "")
    assert "+ADw-script+AD4-" in result.html  # shown as the text it is
    decoded = load(fixture).encode("ascii").decode("utf-7")
    assert "<script>" in decoded
    assert_harmless(sanitize(decoded).html)


def test_cid_references_become_our_proxy_urls():
    result = sanitize(load(FIXTURES / "benign_cid_images.html"), cid_url=cid_url)
    tree = parse(result.html)
    images = {img.get("alt"): img.get("src") for img in tree.iter(XHTML + "img")}
    assert images == {
        "Nesting box": "/cid/photo1%40duckmail.test",
        "Logo": "/cid/logo%40duckmail.test",  # CID:…%40… is percent-decoded before the lookup
        "missing part": None,  # not in the message: dropped, the alt text stays
    }
    assert [t.get("background") for t in tree.iter(XHTML + "table")] == ["/cid/paper%40duckmail.test"]
    assert [td.get("style") for td in tree.iter(XHTML + "td")] == ['background-image:url("/cid/paper%40duckmail.test")']
    assert not result.blocked_remote


def test_a_cid_proxy_answer_that_is_not_a_url_of_ours_is_not_used():
    for answer in ("javascript:alert(1)", "data:text/html,x", "//evil.example/x", "relative/x"):
        result = sanitize('<img src="cid:a@b" alt="a">', cid_url=lambda cid, answer=answer: answer)
        assert parse(result.html).find(f".//{XHTML}img").get("src") is None, answer


def test_link_url_hook_sees_only_links_that_survived():
    seen = []
    result = sanitize('<a href="mailto:a@b.test">m</a><a href="javascript:x">j</a><a href="https://x.test/">h</a>',
                      link_url=lambda url: seen.append(url) or ("/compose/?to=a" if url.startswith("mailto:") else url))
    assert seen == ["mailto:a@b.test", "https://x.test/"]
    assert [a.get("href") for a in parse(result.html).iter(XHTML + "a")] == ["/compose/?to=a", None, "https://x.test/"]


def squash(css: str) -> str:
    return re.sub(r"\s+", "", css)


def body_text(document: str) -> str:
    return " ".join("".join(parse(document).find(XHTML + "body").itertext()).split())


def test_a_newsletter_stays_readable():
    result = sanitize(load(FIXTURES / "benign_newsletter.html"))
    assert_harmless(result.html)
    text = body_text(result.html)
    for words in ("Spring migration season", "Mallards are heading north again. Read about the routes they take.",
                  "Pond clean-up on Saturday 10:00.", "Join the clean-up", "Unsubscribe · The Duck Society, 1 Pond Lane"):
        assert words in text
    assert "The Duck Weekly" not in text  # the <title> is not body text
    tree = parse(result.html)
    links = {a.text: a for a in tree.iter(XHTML + "a")}
    assert links["Join the clean-up"].get("href") == "https://ducks.example.org/events?id=42&utm_source=newsletter"
    assert links["Join the clean-up"].get("target") == "_blank"
    assert links["Join the clean-up"].get("rel") == "noopener noreferrer"
    tables = list(tree.iter(XHTML + "table"))
    assert len(tables) == 2 and tables[1].get("width") == "600" and tables[1].get("cellpadding") == "10"
    assert [td.get("width") for td in tables[1].iter(XHTML + "td") if td.get("width")] == ["300", "300"]
    span = next(tree.iter(XHTML + "span"))
    assert squash(span.get("style")) == "color:#cc0000;font-weight:bold"
    # The <style> block is kept, sanitised: class rules, @media for phones, !important.
    assert ".headline { font-family: Georgia, serif; font-size: 28px; color: #1a4d8f }" in result.html
    assert "@media only screen and (max-width: 600px)" in result.html
    assert ".column { display: block !important; width: 100% !important }" in result.html
    # The hero keeps its colour when its remote image is held back; the body's bgcolor survives.
    assert ".hero { background: #1a4d8f none no-repeat }" in result.html
    assert "background-color: #f4f4f4" in tree.find(f".//{XHTML}div[@class='dm-body']").get("style")
    assert result.blocked == {"image": 2, "css": 1}
    shown = sanitize(load(FIXTURES / "benign_newsletter.html"), remote=True)
    assert '<img src="https://cdn.example.com/mallard.jpg"' in shown.html and shown.blocked == {}
    assert "fonts.example.com" not in shown.html  # @font-face stays out even then


def test_a_reply_keeps_its_quotes():
    result = sanitize(load(FIXTURES / "benign_reply.html"))
    assert_harmless(result.html)
    text = body_text(result.html)
    assert "Thursday works for me. I'll bring the maps." in text
    assert "On Mon, 3 Mar 2025 at 09:12, Bob <bob@duckmail.test> wrote:" in text
    assert "the pond survey is done & the results are in the results page." in text
    tree = parse(result.html)
    outer = tree.find(f".//{XHTML}blockquote")
    assert outer.find(f".//{XHTML}blockquote") is not None  # the quote inside the quote
    assert "border-left:1pxsolidrgb(204,204,204)" in squash(outer.get("style"))
    assert "Alice Anser | +1 555 0100" in " ".join(next(tree.iter(XHTML + "pre")).itertext().__next__().split())
    assert not result.blocked_remote


def test_a_plain_mail_keeps_its_links_lists_tables_and_scripts_of_the_world():
    result = sanitize(load(FIXTURES / "benign_plain_links.html"))
    assert_harmless(result.html)
    tree = parse(result.html)
    hrefs = [a.get("href") for a in tree.iter(XHTML + "a")]
    assert hrefs == ["https://duckmail.example/assembly/agenda", "mailto:board@duckmail.example?subject=Assembly"]
    assert [li.text for li in tree.iter(XHTML + "li")] == ["Budget 2025", "Election of the board", "Any other business"]
    font = next(tree.iter(XHTML + "font"))
    assert (font.get("color"), font.get("face"), font.get("size"), font.text) == ("#008000", "Verdana", "2", "Green text in a font tag.")
    assert [td.text for td in tree.iter(XHTML + "td")] == ["Hall", "120 €", "Coffee", "35 €", "Total", "155 €"]
    assert tree.find(f".//{XHTML}tfoot") is not None
    text = body_text(result.html)
    assert "שלום" in text and "日本語のテキスト, Ελληνικά, emoji 🦆" in text
    assert "color:#1f497d" in squash(tree.find(f".//{XHTML}div[@class='dm-body']/{XHTML}div").get("style"))


def test_the_serving_contract():
    policy = content_security_policy()
    directives = dict(d.split(" ", 1) for d in policy.split("; "))
    assert directives["default-src"] == "'none'" and directives["script-src"] == "'none'"
    assert directives["img-src"] == "data: 'self'"
    assert directives["style-src"] == "'unsafe-inline'"
    assert directives["form-action"] == "'none'" and directives["base-uri"] == "'none'"
    assert directives["frame-ancestors"] == "'self'"
    assert directives["sandbox"] == "allow-popups allow-popups-to-escape-sandbox"
    remote = dict(d.split(" ", 1) for d in content_security_policy(remote=True, cid_source="https://m.test/cid/").split("; "))
    assert remote["img-src"] == "data: https://m.test/cid/ https: http:"
    headers = serve_headers(cid_source="https://m.test/cid/")
    assert headers["Content-Security-Policy"] == content_security_policy(cid_source="https://m.test/cid/")
    assert headers["Referrer-Policy"] == "no-referrer" and headers["X-Frame-Options"] == "SAMEORIGIN"
    assert IFRAME_SANDBOX == "allow-popups allow-popups-to-escape-sandbox"
    assert "allow-scripts" not in IFRAME_ATTRS and "allow-same-origin" not in IFRAME_ATTRS
    assert IFRAME_ATTRS == 'sandbox="allow-popups allow-popups-to-escape-sandbox" referrerpolicy="no-referrer"'


# --- in Chromium, served as the reading view will serve it ------------------------------------

DOCUMENTS: dict[str, tuple[str, dict[str, str]]] = {}
CID_HITS: list[str] = []


def _document(request, name):
    html, headers = DOCUMENTS[name]
    response = HttpResponse(html)
    for header, value in headers.items():
        response[header] = value
    return response


def _embed(request):
    # The reading view's way: our page (with the site's own CSP), the message in a sandboxed iframe.
    sandboxed = request.GET.get("raw") != "1"
    frames = "".join(
        f'<iframe name="{name}" src="/doc/{name}/" {IFRAME_ATTRS if sandboxed else ""} width="400" height="300"></iframe>'
        for name in request.GET["names"].split(",")
    )
    return HttpResponse(f"<!DOCTYPE html><html><head><title>reader</title></head><body>{frames}</body></html>")


def _cid(request, cid):
    CID_HITS.append(cid)
    return HttpResponse(GIF, content_type="image/gif")


urlpatterns = [path("doc/<str:name>/", _document), path("embed/", _embed), path("cid/<path:cid>", _cid)]


class _Internet(BaseHTTPRequestHandler):
    hits: list[str]

    def do_GET(self):
        self.hits.append(self.path)
        body, kind = (GIF, "image/gif")
        if self.path.endswith((".css",)):
            body, kind = b"p { color: red }", "text/css"
        elif self.path.endswith((".html", ".js")) or "/frame" in self.path:
            body, kind = b"<p>remote</p>", "text/html"
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Access-Control-Allow-Origin", "*")
        self.end_headers()
        self.wfile.write(body)

    do_POST = do_GET

    def log_message(self, *args):
        pass


@pytest.fixture
def internet():
    """A second local server standing for the whole internet: it counts every request."""
    hits: list[str] = []
    handler = type("Handler", (_Internet,), {"hits": hits})
    server = ThreadingHTTPServer(("127.0.0.1", servers.free_port()), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"127.0.0.1:{server.server_address[1]}", hits
    server.shutdown()
    server.server_close()


def _show(browser, live_server, names, *, raw=False, click=()):
    """Load the reader page with these documents; click the links of the `click` ones; return
    the messages script sent to the page and the dialogs it opened."""
    context = browser.new_context(base_url=live_server.url)
    page = context.new_page()
    page.add_init_script("window.__told = []; addEventListener('message', e => window.__told.push(String(e.data)));")
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.goto(f"/embed/?names={','.join(names)}{'&raw=1' if raw else ''}", wait_until="load")
    for name in click:
        frame = page.frame(name=name)
        for link in frame.locator("a").all() if frame else []:
            try:
                link.click(timeout=300, no_wait_after=True)
            except Exception:  # a link that an earlier click navigated away, or that is hidden
                pass
    page.wait_for_timeout(1500)
    told = page.evaluate("window.__told")
    for popup in context.pages:
        popup.close()
    context.close()
    return told, dialogs


@pytest.mark.urls(__name__)
def test_in_chromium_no_script_runs_and_nothing_remote_loads_until_allowed(browser, live_server, internet):
    host, hits = internet
    names = [f.stem for f in ATTACKS]
    texts = {f.stem: load(f, internet=host) for f in ATTACKS + BENIGN}

    # The attacks are real: served raw (no sanitiser, no sandbox, no policy), Chromium runs
    # their script and loads their remote content.
    for name in names:
        # A policy of frame-ancestors alone restricts nothing else (and keeps the site's own away).
        DOCUMENTS[name] = (texts[name], {"Content-Security-Policy": "frame-ancestors 'self'", "X-Frame-Options": "SAMEORIGIN"})
    told, _ = _show(browser, live_server, names, raw=True, click=["attack_a_ping", "attack_javascript_urls"])
    toothless = []
    for fixture in ATTACKS:
        expected = expectations(fixture)
        if "script" in expected and not (fixture.stem in told or f"/{fixture.stem}/js" in hits):
            toothless.append(f"{fixture.stem}: no script ran even raw")
        if "remote" in expected and not any(hit.startswith(f"/{fixture.stem}/") for hit in hits):
            toothless.append(f"{fixture.stem}: nothing loaded even raw")
    assert toothless == [], (toothless, told, hits)
    hits.clear()

    # The sanitiser alone (no sandbox, no policy, its <meta> policy cut out) already stops them all.
    for name in names:
        alone = re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", sanitize(texts[name], cid_url=cid_url).html)
        assert "Content-Security-Policy" not in alone
        DOCUMENTS[name] = (alone, {"Content-Security-Policy": "frame-ancestors 'self'", "X-Frame-Options": "SAMEORIGIN"})
    told, dialogs = _show(browser, live_server, names, raw=True, click=names)
    assert (told, dialogs, hits) == ([], [], [])

    # Sanitised and served as the reading view will: nothing runs, nothing remote loads, even
    # when every link is clicked; benign mail shows, with its cid images from our proxy.
    cid_source = live_server.url + "/cid/"
    for name, text in texts.items():
        DOCUMENTS[name] = (sanitize(text, cid_url=cid_url).html, serve_headers(cid_source=cid_source))
    CID_HITS.clear()
    told, dialogs = _show(browser, live_server, list(texts), click=names)
    assert (told, dialogs, hits) == ([], [], [])
    assert set(CID_HITS) == KNOWN_CIDS  # img src, <table background> and CSS url() alike, under the policy

    # With remote content allowed, the images come, and still no script runs and no
    # stylesheet, font, frame or form reaches the internet.
    for name, text in texts.items():
        DOCUMENTS[name] = (sanitize(text, cid_url=cid_url, remote=True).html, serve_headers(remote=True, cid_source=cid_source))
    told, dialogs = _show(browser, live_server, list(texts), click=names)
    assert (told, dialogs) == ([], [])
    loaded = {hit for hit in hits if hit.startswith("/attack_remote_images/")}
    # (The protocol-relative one became https:, which this plain-http "internet" cannot answer.)
    assert {f"/attack_remote_images/{p}" for p in ("img.png", "pixel.gif", "srcset-1x.png",
                                                     "picture-img.png", "table-bg.png", "td-bg.png", "css-bg.png",
                                                     "body-bg.png")} <= loaded
    for hit in hits:
        assert re.fullmatch(r"/attack_[a-z_]+/[a-z0-9-]+\.(png|gif)", hit), f"{hit} loaded"
