"""The filter's tokens: what a statistical filter learns from a raw message."""

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from antispam.tokens import MAX_TEXT_CHARS, strip_receiving_headers, tokenize

FIXTURES = Path(__file__).parent / "fixtures"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def test_it_never_learns_the_receiving_sides_headers():
    tokens = tokenize(fixture("receiving_headers.eml"))
    joined = " ".join(sorted(tokens))
    for word in ("relayhostname", "receivedcontinuation", "looptoken", "spamstatustoken", "bounce"):
        assert word not in joined
    for header in ("received", "delivered-to", "return-path", "x-original-to", "envelope-to", "x-loop",
                   "x-spam-status", "x-spam-flag"):
        assert f"hdr:{header}" not in tokens
    # ...while what the sender wrote is there.
    assert {"from:addr:carol@sender.example", "from:name:carol", "subject:quarterly", "figures",
            "message-id:sender.example"} <= tokens


def test_it_skips_the_mbox_from_line_and_reads_the_headers_after_it():
    tokens = tokenize(fixture("receiving_headers.eml"))
    assert not any("mon" == t or "2002" in t or "jun" == t for t in tokens)
    assert "hdr:from" in tokens and "subject:figures" in tokens


def test_stripping_leaves_the_senders_headers_byte_for_byte():
    stripped = strip_receiving_headers(fixture("receiving_headers.eml"))
    assert not stripped.startswith(b"From ")
    for gone in (b"Received:", b"receivedcontinuation", b"Delivered-To:", b"X-Spam-Status:", b"Return-Path:"):
        assert gone not in stripped
    assert b"From: Carol Sender <carol@sender.example>\nTo: alice@duckmail.test\nSubject: quarterly figures" in stripped
    assert stripped.endswith(b"\n\nHere are the quarterly figures you asked about.\n")


def test_a_koi8r_subject_and_body_give_the_right_words():
    tokens = tokenize(fixture("koi8r_subject.eml"))
    assert {"subject:привет", "subject:встреча", "subject:завтра", "from:name:иван", "документы", "подписи"} <= tokens


def test_an_iso2022jp_subject_gives_the_right_characters():
    tokens = tokenize(fixture("iso2022jp_subject.eml"))
    assert {"subject:会議", "subject:資料", "会議", "明日"} <= tokens


def test_html_gives_its_text_link_domains_and_tags_of_interest():
    tokens = tokenize(fixture("html_links.eml"))
    assert {"cheap", "watches", "café"} <= tokens  # text, entities and quoted-printable decoded
    assert {"url:www.shop.cheapwatches.co.uk", "url:cheapwatches.co.uk", "url:tracker.example",
            "url:second-site.example"} <= tokens
    assert {"html:<a", "html:<img", "html:<script", "html:hidden"} <= tokens
    assert "hiddenscriptword" not in " ".join(tokens)  # script code is not text
    assert not any(t.startswith(("href", "<p", "div")) for t in tokens)


def test_attachments_give_their_types_and_names():
    tokens = tokenize(fixture("attachments.eml"))
    assert {"attach:type:application/pdf", "attach:ext:pdf", "attach:ext:exe", "attach:name:setup_tool",
            "attach:name:invoice-2026"} <= tokens
    assert "invoice" in tokens and "attached" in tokens


def test_long_words_are_summarised_and_numbers_bucketed():
    raw = b"Subject: x\n\n" + b"a" * 55 + b" paid $1,250 and $3,700 on 2026\n"
    tokens = tokenize(raw)
    assert "skip:a 50" in tokens
    assert not any(len(t) > 60 for t in tokens)
    assert "num:$9,999" in tokens and "num:9999" in tokens


@pytest.mark.parametrize("raw", [
    b"", b"\x00\xff\xfe" * 1000, b"From \n", b"Subject: =?utf-8?B?!!!?=\n\n\xff",
    b"Content-Type: multipart/mixed; boundary=\"x\"\n\n--x\nContent-Type: text/plain; charset=no-such\n\n\xe9t\xe9",
    b"Content-Type: text/plain; charset*=utf-8''%E9\nContent-Transfer-Encoding: base64\n\n====!!",
    b"Content-Type: multipart/alternative\n\n" + b"--\n" * 5000,
])
def test_garbage_never_raises(raw):
    assert isinstance(tokenize(raw), set)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=2000))
def test_any_bytes_never_raise(raw):
    assert isinstance(tokenize(b"Content-Type: multipart/mixed; boundary=b\n\n--b\n" + raw), set)


def test_a_huge_message_looks_at_a_bounded_part_only():
    raw = b"Subject: big\nContent-Type: text/plain\n\n" + b"early words here " + b"filler " * 2_000_000 + b"lateword"
    tokens = tokenize(raw)
    assert "early" in tokens and "lateword" not in tokens
    assert MAX_TEXT_CHARS < len(raw)
