"""The message reader (webmail.render): what a member sees for every hard real-world message.

Fixtures are in fixtures/mime/ (made byte for byte by fixtures/mime/make_fixtures.py). Each
test says what a reader sees: the decoded subject, the sender's name, the text, the names of
the attachments, and the bytes of a download.
"""

import base64
import datetime as dt
import random
import struct
import threading
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.webmail.fixtures.mime.make_fixtures import PGP_MSG, _tnef_obj, tnef_blob
from webmail.render import Address, ReadableMessage, parse, parse_attached, part

FIXTURES = Path(__file__).parent / "fixtures" / "mime"


def load(name: str) -> bytes:
    return (FIXTURES / f"{name}.eml").read_bytes()


def read(name: str) -> ReadableMessage:
    return parse(load(name))


def names(msg: ReadableMessage) -> list[str]:
    return [a.filename for a in msg.attachments]


def finishes_within(seconds: float, fn, *args):
    """Runs fn in a thread: a hang fails the test instead of blocking the suite."""
    result = {}

    def run():
        result["value"] = fn(*args)

    worker = threading.Thread(target=run, daemon=True)
    started = time.monotonic()
    worker.start()
    worker.join(seconds)
    assert not worker.is_alive(), f"still working after {seconds} s"
    return result["value"], time.monotonic() - started


# --- Charsets ------------------------------------------------------------------------------

def test_iso_2022_jp_with_outlooks_cp50220_extensions_reads_right():
    """NEC special characters (①, ㈱) and half-width katakana, which Python's iso2022_jp refuses."""
    msg = read("iso2022jp_cp50220")
    assert msg.subject == "①会議の件㈱ﾃｽﾄ"
    assert msg.from_ == [Address("鈴木一郎", "suzuki@example.jp")]
    assert msg.text_body == "山田様\n\n①議題は㈱ﾃｽﾄの件です。\n"
    assert msg.problems == []


def test_shift_jis_is_read_as_cp932():
    msg = read("shift_jis")
    assert msg.subject == "見積書①の送付"
    assert "①～③をご確認ください。" in msg.text_body


def test_euc_kr_and_ks_c_5601_are_read_as_cp949():
    """똠 is outside EUC-KR proper: only CP949 (what Korean mailers send) has it."""
    msg = read("euc_kr_ks_c_5601")
    assert msg.subject == "똠양꿍 모임 안내"
    assert msg.from_[0].name == "김똠방"
    assert msg.text_body.startswith("안녕하세요, 똠양꿍 모임입니다.")


def test_gb2312_that_is_really_gbk_is_read_whole():
    msg = read("gb2312_really_gbk")
    assert msg.subject == "朱镕基与王堃的会议"
    assert "朱镕基、王堃出席" in msg.text_body
    assert "\ufffd" not in msg.text_body


def test_koi8_r_subject_sender_and_body():
    msg = read("koi8_r")
    assert msg.subject == "Отчёт за март"
    assert msg.from_ == [Address("Иван Петров", "ivan@example.ru")]
    assert msg.text_body.startswith("Добрый день!")


def test_windows_1252_text_labelled_iso_8859_1_keeps_quotes_and_euro():
    assert read("windows_1252_as_latin1").text_body == "Le “devis” est à 120 € – voilà.\n"


def test_windows_1251_quoted_printable():
    msg = read("windows_1251")
    assert (msg.subject, msg.text_body) == ("Привет", "Привет, Олег!\n")


def test_latin1_text_labelled_us_ascii():
    assert read("latin1_labelled_us_ascii").text_body == "Le café crème est prêt.\n"


def test_unlabelled_8bit_utf8_headers_and_body_without_mime_version():
    msg = read("unlabelled_8bit_utf8")
    assert msg.subject == "Grüße aus Köln"
    assert msg.from_ == [Address("Zoë Müller", "zoe@example.de")]
    assert msg.text_body == "Schöne Grüße!\n"


def test_raw_8bit_legacy_headers_use_the_bodys_charset():
    msg = read("raw_8bit_header_legacy")
    assert msg.subject == "Встреча в пятницу"
    assert msg.from_ == [Address("Сергей", "sergey@example.ru")]


def test_html_without_a_mime_charset_uses_its_meta_charset():
    msg = read("html_meta_charset")
    assert "<p>Здравствуйте</p>" in msg.html_body
    assert msg.text_body == "Здравствуйте"


# --- RFC 2047 / RFC 2231 --------------------------------------------------------------------

def test_encoded_words_split_across_lines_and_inside_a_character():
    msg = read("rfc2047_split_multibyte")
    assert msg.subject == "Überraschung für Jürgen"
    assert msg.from_[0].name == "Überraschung für Jürgen"
    assert "=?" not in msg.subject


def test_malformed_encoded_words_still_decode():
    """Words inside quotes, lower-case q, spaces inside, utf8 / x-unknown, a lost ?=."""
    msg = read("rfc2047_malformed")
    assert msg.subject == "Café crème et déjeuner"
    assert msg.from_ == [Address("Renée", "renee@example.fr")]
    assert msg.to == [Address("André", "andre@example.fr"), Address("José", "jose@example.es")]
    assert msg.cc == [Address("Élodée", "elo@example.fr")]
    assert all("=?" not in value for _, value in msg.headers)


def test_rfc2231_continuations_and_names_only_in_content_type():
    raw = load("rfc2231_filenames")
    msg = parse(raw)
    assert names(msg) == ["日本語 レポート.pdf", "Übersicht.xls", "résumé.txt"]
    assert [a.section for a in msg.attachments] == ["2", "3", "4"]
    pdf = part(raw, "2")
    assert (pdf.filename, pdf.content_type, pdf.data) == ("日本語 レポート.pdf", "application/pdf",
                                                          b"%PDF-1.4\n% fixture\n")
    assert msg.attachments[0].size == len(pdf.data)


# --- Broken structure -----------------------------------------------------------------------

def test_missing_final_boundary_keeps_text_and_attachment():
    raw = load("missing_final_boundary")
    msg = parse(raw)
    assert msg.text_body == "The text is here."
    assert names(msg) == ["data.bin"]
    assert part(raw, "2").data == b"0123456789"
    assert msg.offer_raw


def test_unquoted_boundary_with_special_characters():
    msg = read("unquoted_boundary_special")
    assert (msg.text_body, msg.html_body) == ("Plain version.", "<p>HTML version.</p>")


def test_a_boundary_only_in_the_body_is_recovered():
    raw = load("boundary_only_in_body")
    msg = parse(raw)
    assert msg.text_body == "Body found anyway."
    assert names(msg) == ["list.csv"]
    assert part(raw, "2").data == b"a,b"
    assert msg.offer_raw


def test_broken_folding_of_subject_and_content_type():
    msg = read("broken_folding")
    assert msg.subject == "A subject that goes on and on after a line break"
    assert msg.text_body == "Folded body."
    assert names(msg) == ["dot.png"]


def test_very_long_header_lines():
    msg = read("long_header_lines")
    assert msg.subject.startswith("Long subject subject")
    assert len(msg.subject) > 19000
    assert len(msg.to) == 400 and msg.to[399] == Address("", "user399@example.org")
    assert msg.text_body == "Short body.\n"


def test_no_mime_version_is_still_mime():
    msg = read("no_mime_version")
    assert msg.text_body == "Voilà."
    assert names(msg) == ["a.zip"]


def test_an_mbox_from_line_before_the_headers_is_no_part_of_the_message():
    msg = read("mbox_from_line")
    assert msg.subject == "Kept from an mbox" and msg.from_[0].name == "Ann Example"
    assert msg.text_body.strip() == "The headers are still headers."
    assert all(not name.startswith("From ") for name, _value in msg.headers)


def test_base64_with_garbage_shows_what_decodes_and_says_so():
    raw = load("bad_base64")
    msg = parse(raw)
    assert msg.text_body.startswith("Texte décodé malgré tout.")
    assert part(raw, "2").data.startswith(b"The real attachment content")
    assert any("base64" in p for p in msg.problems) and msg.offer_raw


def test_quoted_printable_with_bad_escapes():
    assert read("bad_quoted_printable").text_body == "Café =ZZ 100=% softbreak €.\n"


def test_hundreds_of_attachments_are_all_listed():
    raw = load("hundreds_of_attachments")
    msg, seconds = finishes_within(10, parse, raw)
    assert len(msg.attachments) == 300
    assert msg.attachments[299].filename == "file300.txt" and msg.attachments[299].section == "301"
    assert part(raw, "301").data == b"content 300"
    assert msg.text_body == "Three hundred files."


def test_thousands_of_parts_are_cut_at_the_limit_with_a_note():
    parts = b"".join(b"--x\r\nContent-Type: application/octet-stream; name=f%d.bin\r\n\r\n%d\r\n" % (i, i)
                     for i in range(5000))
    raw = b'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="x"\r\n\r\n' + parts + b"--x--\r\n"
    msg, _ = finishes_within(10, parse, raw)
    assert 1000 < len(msg.attachments) < 5000
    assert any("more than" in p for p in msg.problems)


def test_deep_nesting_is_bounded():
    msg, _ = finishes_within(10, parse, load("deep_nesting"))
    assert msg.subject == "Deep"
    assert any("nested too deeply" in p for p in msg.problems)


# --- Attachments of all kinds ---------------------------------------------------------------

def test_uuencoded_file_in_a_text_body_becomes_an_attachment():
    raw = load("uuencoded")
    msg = parse(raw)
    assert names(msg) == ["hello.txt"]
    assert "begin 644" not in msg.text_body and msg.text_body.startswith("Here is the file:")
    assert part(raw, msg.attachments[0].section).data == b"Hello from a uuencoded file!\n" * 3


def test_tnef_winmail_dat_lists_and_extracts_its_files():
    raw = load("tnef_winmail")
    msg = parse(raw)
    (winmail,) = msg.attachments
    assert (winmail.filename, winmail.kind) == ("winmail.dat", "tnef")
    assert [(f.filename, f.section) for f in winmail.contents] == [("report.docx", "2~tnef1"), ("budget.xlsx", "2~tnef2")]
    assert part(raw, "2~tnef1").data == b"DOCX bytes here"
    assert part(raw, "2~tnef2").filename == "budget.xlsx"


def test_a_tnef_file_with_hostile_counts_does_not_hang():
    """tnefparse loops over a property count taken from the file: 4 billion of them."""
    blob = tnef_blob([]) + _tnef_obj(1, 0x9003, 0x0006, struct.pack("<I", 0xFFFFFFFF))
    raw = (b'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="t"\r\n\r\n--t\r\n'
           b"Content-Type: application/ms-tnef; name=winmail.dat\r\nContent-Transfer-Encoding: base64\r\n\r\n"
           + base64.b64encode(blob) + b"\r\n--t--\r\n")
    msg, _ = finishes_within(5, parse, raw)
    assert names(msg) == ["winmail.dat"]
    assert any("could not be unpacked" in p for p in msg.problems)


def test_calendar_invite_shows_an_event_summary():
    msg = read("calendar_invite")
    assert msg.subject == "Invitation: Réunion d'équipe"
    (event,) = msg.events
    assert event.summary == "Réunion d'équipe"
    assert event.location == "Salle 2, bâtiment A"
    assert (event.organizer_name, event.organizer_address) == ("Claire Dupont", "claire@example.fr")
    assert event.method == "REQUEST"
    assert event.start.isoformat() == "2024-03-12T14:00:00+01:00"
    assert event.end - event.start == dt.timedelta(hours=1)
    assert msg.html_body == "<p>Invitation: meeting on 12 March.</p>" and msg.preferred == "html"
    assert [a.kind for a in msg.attachments] == ["calendar"]


def test_html_and_text_alternatives_are_both_offered():
    msg = read("nested_attached_message")
    assert msg.preferred == "html" and msg.has_text_alternative
    assert msg.text_body == "See the forwarded message."
    assert msg.html_body == "<p>See the forwarded message.</p>"


def test_inline_cid_images_map_to_their_section():
    raw = load("related_cid")
    msg = parse(raw)
    assert msg.inline_images == {"logo@example.org": "2"}
    assert msg.attachments[0].inline
    image = part(raw, msg.inline_images["logo@example.org"])
    assert (image.content_type, image.data) == ("image/png", b"\x89PNG logo")


def test_attached_message_opens_as_a_message_with_whole_message_sections():
    raw = load("nested_attached_message")
    msg = parse(raw)
    assert [(a.section, a.filename, a.kind) for a in msg.attachments] == [
        ("2", "Inner räkning.eml", "message"), ("3", "pixel.gif", "file")]
    (attached,) = msg.attached_messages
    assert (attached.section, attached.subject) == ("2", "Inner räkning")
    inner = parse_attached(raw, "2")
    assert inner.subject == "Inner räkning" and inner.from_ == [Address("Björn", "bjorn@example.se")]
    assert inner.text_body == "Inner text."
    assert [(a.section, a.filename) for a in inner.attachments] == [("2.2", "invoice.pdf")]
    assert part(raw, "2.2").data == b"%PDF-1.4 invoice"
    assert part(raw, "2").data.startswith(b"From: =?utf-8?q?Bj=C3=B6rn?=")
    assert parse_attached(raw, "3") is None


def test_encoded_attached_message_opens_too():
    inner = load("rfc2231_filenames")
    raw = (b'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="e"\r\n\r\n--e\r\n'
           b"Content-Type: text/plain\r\n\r\nsee\r\n--e\r\nContent-Type: message/rfc822\r\n"
           b"Content-Transfer-Encoding: base64\r\n\r\n" + base64.encodebytes(inner) + b"\r\n--e--\r\n")
    opened = parse_attached(raw, "2")
    assert opened.subject == "Files"
    assert [a.section for a in opened.attachments] == ["2~2", "2~3", "2~4"]
    assert part(raw, "2~2").data == b"%PDF-1.4\n% fixture\n"


# --- Signed and encrypted -------------------------------------------------------------------

def test_smime_signed_shows_the_text_and_lists_the_signature():
    msg = read("smime_signed")
    assert msg.text_body == "This text is signed."
    assert [(s.kind, s.section, s.signed_section) for s in msg.signatures] == [("smime", "2", "1")]
    assert [(a.filename, a.kind) for a in msg.attachments] == [("smime.p7s", "signature")]


def test_smime_opaque_signed_data_shows_the_text_inside():
    msg = read("smime_opaque_signed")
    assert msg.text_body == "Opaque signed text, inside the DER.\n"
    assert msg.signatures[0].kind == "smime"


def test_pgp_mime_signed_shows_the_text_and_the_armored_signature():
    msg = read("pgp_mime_signed")
    assert msg.text_body == "This text is PGP signed."
    (sig,) = msg.signatures
    assert (sig.kind, sig.section) == ("pgp", "2")
    assert sig.armor.startswith("-----BEGIN PGP SIGNATURE-----")


def test_pgp_encrypted_keeps_the_armor_for_mailvelope():
    msg = read("pgp_encrypted")
    assert msg.encrypted == "pgp"
    assert msg.pgp_armor == [PGP_MSG.replace(b"\r\n", b"\n").decode()]
    assert msg.text_body.startswith("-----BEGIN PGP MESSAGE-----")


def test_inline_pgp_armor_is_kept_as_text():
    msg = read("pgp_inline")
    assert msg.pgp_armor == ["-----BEGIN PGP MESSAGE-----\n\nhQEMAfixtureencryptedfixtureencrypted\n=wxyz\n"
                             "-----END PGP MESSAGE-----"]
    assert msg.pgp_armor[0] in msg.text_body


# --- Headers --------------------------------------------------------------------------------

def test_date_is_aware_and_all_headers_are_decoded():
    msg = read("koi8_r")
    assert msg.date == dt.datetime(2024, 3, 5, 0, 15, tzinfo=dt.UTC)
    assert msg.date_text == "Tue, 05 Mar 2024 09:15:00 +0900"
    assert ("Subject", "Отчёт за март") in msg.headers


def test_a_section_that_is_not_there_is_none():
    raw = load("nested_attached_message")
    for section in ("4", "2.3", "1", "0", "", "1.1.1", "2~tnef1", "../1", "1\r\n"):
        assert part(raw, section) is None, section


# --- Hostile input --------------------------------------------------------------------------

ALL_FIXTURES = sorted(FIXTURES.glob("*.eml"))


def test_every_fixture_reads_without_problems_it_does_not_have():
    """No mojibake markers and no raw encoded words in what any fixture shows."""
    for path in ALL_FIXTURES:
        msg = parse(path.read_bytes())
        shown = [msg.subject, msg.text_body, *(a.filename for a in msg.attachments),
                 *(n for a in msg.from_ + msg.to + msg.cc for n in a)]
        for text in shown:
            assert "=?" not in text and "Ã" not in text, (path.name, text[:80])


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(ALL_FIXTURES), st.randoms(use_true_random=False), st.integers(1, 40))
def test_parse_never_raises_on_mutated_fixtures(path, rnd: random.Random, mutations):
    raw = bytearray(path.read_bytes()[:200_000])
    for _ in range(mutations):
        op = rnd.randrange(4)
        pos = rnd.randrange(len(raw) + 1)
        if op == 0 and raw:
            raw[min(pos, len(raw) - 1)] = rnd.randrange(256)
        elif op == 1:
            raw[pos:pos] = rnd.choice([b"\r\n", b"--", b"=?", b"?=", b"\x1b$B", b"\r\n\r\n", b"=", b";", b'"',
                                       b"boundary=", b"Content-Type: multipart/mixed; boundary=x\r\n", b"\x00"])
        elif op == 2:
            del raw[pos:pos + rnd.randrange(1, 64)]
        else:
            raw[pos:pos] = raw[rnd.randrange(len(raw) + 1):][:rnd.randrange(1, 200)]
    started = time.monotonic()
    msg = parse(bytes(raw))
    assert time.monotonic() - started < 2
    assert isinstance(msg.subject, str) and isinstance(msg.text_body, str)
    assert msg.html_body is None or isinstance(msg.html_body, str)
    for att in msg.attachments:
        got = part(bytes(raw), att.section)
        assert got is not None and isinstance(got.data, bytes), att.section


def test_garbage_is_shown_as_text_not_an_error():
    msg = parse(b"\xff\xfe\x00garbage without headers\r\n" * 100)
    assert isinstance(msg.text_body, str) and msg.subject == ""


# --- The numbering is Dovecot's --------------------------------------------------------------

def _multipart(bs):
    """(children, subtype) of a multipart BODYSTRUCTURE, None for a single part. imapclient
    gives the top one as ([children], subtype, …) but one inside a message/rfc822 as the
    plain IMAP list (child, child, …, subtype, …)."""
    if isinstance(bs[0], list):
        return bs[0], bs[1]
    if isinstance(bs[0], tuple):
        children = []
        for item in bs:
            if not isinstance(item, tuple):
                return children, item
            children.append(item)
    return None


def _dovecot_sections(bs, prefix: str = "", out=None) -> dict[str, tuple[str, str]]:
    """section → (content type, transfer encoding) from an IMAP BODYSTRUCTURE."""
    out = {} if out is None else out

    def join(n):
        return f"{prefix}.{n}" if prefix else str(n)

    if _multipart(bs):
        for n, child in enumerate(_multipart(bs)[0], 1):
            _part_sections(child, join(n), out)
    else:
        _part_sections(bs, join(1), out)
    return out


def _part_sections(bs, section: str, out) -> None:
    if _multipart(bs):
        children, subtype = _multipart(bs)
        out[section] = ("multipart/" + subtype.decode().lower(), "")
        for n, child in enumerate(children, 1):
            _part_sections(child, f"{section}.{n}", out)
        return
    ctype = f"{bs[0].decode()}/{bs[1].decode()}".lower()
    out[section] = (ctype, (bs[5] or b"7bit").decode().lower())
    if ctype == "message/rfc822":
        _dovecot_sections(bs[8], section, out)


@pytest.mark.django_db(transaction=True)  # Dovecot reads the members from the database
def test_sections_equal_dovecots_for_a_nested_message(mail_stack, alice):
    from accounts import mailaccess
    from tests.helpers import lmtp_send

    lmtp_send(alice.email, load("nested_attached_message"))
    with mailaccess.as_worker(), mailaccess.imap(alice) as client:
        client.select_folder("INBOX", readonly=True)
        (uid,) = client.search("ALL")
        fetched = client.fetch([uid], ["BODYSTRUCTURE", "BODY.PEEK[]"])[uid]
        dovecot = _dovecot_sections(fetched[b"BODYSTRUCTURE"])
        wanted = [f"BODY.PEEK[{s}]" for s, (ctype, _) in dovecot.items() if not ctype.startswith("multipart/")]
        bodies = client.fetch([uid], wanted)[uid]
    raw = fetched[b"BODY[]"]
    assert set(dovecot) == {"1", "1.1", "1.2", "2", "2.1", "2.2", "3"}
    for section, (ctype, encoding) in dovecot.items():
        ours = part(raw, section)
        if ctype.startswith("multipart/"):
            assert ours is None
            continue
        server = bodies[f"BODY[{section}]".encode()]
        if encoding == "base64":
            server = base64.b64decode(server)
        assert ours is not None and ours.content_type == ctype, section
        assert ours.data == server, section
    msg = parse(raw)
    assert {a.section: a.content_type for a in msg.attachments} == {
        s: dovecot[s][0] for s in ("2", "3")}
    assert [a.section for a in parse_attached(raw, "2").attachments] == ["2.2"]
    assert part(raw, "4") is None and "4" not in dovecot


# Where the reader deliberately differs from Dovecot: it recovers structure Dovecot gives up
# on (folding, a boundary only in the body), and it stops nesting at 40 levels (Dovecot: 100).
RECOVERED = {"boundary_only_in_body", "broken_folding", "deep_nesting"}
# Dovecot returns these bodies encoded; the stdlib decoders used below refuse their damage.
DAMAGED_ENCODING = {"bad_base64", "bad_quoted_printable"}


@pytest.mark.django_db(transaction=True)
def test_sections_equal_dovecots_for_every_fixture(mail_stack, alice):
    """The same section means the same part here and on the server (types and bytes)."""
    import quopri

    from accounts import mailaccess
    from tests.helpers import lmtp_send

    for path in ALL_FIXTURES:
        lmtp_send(alice.email, path.read_bytes())
    mismatches = []
    with mailaccess.as_worker(), mailaccess.imap(alice) as client:
        client.select_folder("INBOX", readonly=True)
        for uid, path in zip(sorted(client.search("ALL")), ALL_FIXTURES, strict=True):
            fetched = client.fetch([uid], ["BODYSTRUCTURE", "BODY.PEEK[]"])[uid]
            dovecot = _dovecot_sections(fetched[b"BODYSTRUCTURE"])
            raw = fetched[b"BODY[]"]
            if path.stem in RECOVERED:
                continue
            leaves = [s for s, (ctype, _) in dovecot.items() if not ctype.startswith("multipart/")]
            bodies = client.fetch([uid], [f"BODY.PEEK[{s}]" for s in leaves])[uid]
            for section, (ctype, encoding) in dovecot.items():
                ours = part(raw, section)
                if ctype.startswith("multipart/"):
                    if ours is not None:
                        mismatches.append((path.stem, section, "multipart"))
                    continue
                if ours is None or ours.content_type != ctype:
                    mismatches.append((path.stem, section, ctype, ours and ours.content_type))
                    continue
                if path.stem in DAMAGED_ENCODING:
                    continue
                server = bodies[f"BODY[{section}]".encode()]
                server = {"base64": base64.b64decode, "quoted-printable": quopri.decodestring}.get(
                    encoding, bytes)(server)
                if ours.data != server:
                    mismatches.append((path.stem, section, "data"))
            # and nothing more than the server has
            beyond = str(len([s for s in dovecot if "." not in s]) + 1)
            if part(raw, beyond) is not None:
                mismatches.append((path.stem, beyond, "extra"))
    assert mismatches == []


def test_hundreds_of_huge_address_headers_stay_cheap():
    raw = b"".join(b"To: " + b"x" * 60000 + b"@example.org\r\n" for _ in range(300)) + b"\r\nbody\r\n"
    msg, seconds = finishes_within(10, parse, raw)
    assert seconds < 3
    assert msg.text_body == "body\n" and msg.offer_raw
