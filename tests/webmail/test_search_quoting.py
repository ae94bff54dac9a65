"""What a typed search term becomes on the IMAP wire: one quoted string or one literal,
never an atom, a list, a wildcard or a second command."""

import datetime as dt

import pytest

from webmail.mailbox.search import MAX_TERM, Literal, Query, criteria, imap_date, quoted


@pytest.mark.parametrize(("term", "wire"), [
    ("plans", b'"plans"'),
    ("two words", b'"two words"'),
    ('say "hi"', b'"say \\"hi\\""'),
    ("back\\slash", b'"back\\\\slash"'),
    ('"', b'"\\""'),
    ('"edges"', b'"\\"edges\\""'),
    ("\\", b'"\\\\"'),
    ('\\"', b'"\\\\\\""'),
    ("{5}", b'"{5}"'),
    ("{3+}", b'"{3+}"'),
    ("(", b'"("'),
    (")", b'")"'),
    ("*", b'"*"'),
    ("%", b'"%"'),
    ('a" OR ALL "b', b'"a\\" OR ALL \\"b"'),
    ("", b'""'),
])
def test_it_quotes_every_ascii_term_as_one_string(term, wire):
    assert quoted(term) == wire
    assert not isinstance(quoted(term), Literal)


def test_a_quoted_term_reads_back_as_exactly_what_was_typed():
    term = 'a\\" OR ALL "b{3}'
    inner = quoted(term)[1:-1]
    # Unescaping the IMAP quoted string gives the term back, and no unescaped quote ends it early.
    assert inner.replace(b'\\"', b'"').replace(b"\\\\", b"\\") == term.encode()
    assert b'"' not in inner.replace(b'\\\\', b"").replace(b'\\"', b"")


@pytest.mark.parametrize("term", ["é", "Grüße", "日本", "日本語 und mehr", 'é"\\'])
def test_a_non_ascii_term_is_a_literal_of_its_utf8(term):
    wire = quoted(term)
    assert isinstance(wire, Literal) and wire == term.encode("utf-8")
    # imapclient sends an 8-bit argument as a literal ({n}) — it must hold 8-bit bytes.
    assert any(b > 127 for b in wire)


@pytest.mark.parametrize("term", ["x\r\nA1 LOGOUT", "line\nbreak", "car\rriage", "nul\0", "tab\there", "\x7f",
                                  "日本\r\n"])
def test_control_characters_are_refused(term):
    with pytest.raises(ValueError):
        quoted(term)


def test_a_term_has_a_length_limit():
    assert quoted("x" * MAX_TERM) == b'"' + b"x" * MAX_TERM + b'"'
    with pytest.raises(ValueError):
        quoted("x" * (MAX_TERM + 1))
    with pytest.raises(ValueError):
        quoted("é" * (MAX_TERM + 1))


@pytest.mark.parametrize(("day", "wire"), [
    (dt.date(2024, 3, 5), b"05-Mar-2024"),
    (dt.date(1999, 12, 31), b"31-Dec-1999"),
    (dt.date(2025, 1, 1), b"01-Jan-2025"),
])
def test_dates_are_imap_dates_whatever_the_locale(day, wire):
    assert imap_date(day) == wire


def test_criteria_put_each_typed_string_in_one_argument():
    keys = criteria(Query(text="a b", sender='x"y', recipient="日本語", subject="{3}", body="*",
                          since=dt.date(2024, 3, 5), before=dt.date(2024, 4, 1), unread=True, flagged=True,
                          answered=True, larger=1024, smaller=2048))
    assert keys == [
        b"OR", b"FROM", b'"a b"', b"OR", b"TO", b'"a b"', b"OR", b"SUBJECT", b'"a b"', b"BODY", b'"a b"',
        b"FROM", b'"x\\"y"', b"TO", "日本語".encode(), b"SUBJECT", b'"{3}"', b"BODY", b'"*"',
        b"SENTSINCE", b"05-Mar-2024", b"SENTBEFORE", b"01-Apr-2024", b"UNSEEN", b"FLAGGED", b"ANSWERED",
        b"LARGER", b"1024", b"SMALLER", b"2048",
    ]
    assert isinstance(keys[14], Literal)


def test_an_empty_query_asks_for_everything_and_says_so():
    assert Query().empty and criteria(Query()) == [b"ALL"]
    assert Query(everywhere=True).empty
    assert not Query(unread=True).empty and criteria(Query(unread=True)) == [b"UNSEEN"]


@pytest.mark.parametrize("size", [-1, 2**32, True, "5"])
def test_sizes_are_imap_numbers(size):
    with pytest.raises(ValueError):
        criteria(Query(larger=size))
