"""The learning filter's counts in PostgreSQL: batch upserts keyed by hashed tokens, and the
blend of a member's model with the site-wide prior.

The blend: for each class c (spam, ham) the member's weight is w_c = min(1, trained_c / MIN_c).
The prior's counts are scaled down to (1 - w_c) * MIN_c virtual messages of that class and
added to the member's counts (totals likewise). A new member is scored by the prior alone
(its token ratios unchanged); each message the member trains both adds its own evidence and
shrinks the prior's share, and once MIN_c messages of a class are trained the prior has no
say in that class. Blending counts per token, rather than two final scores, keeps one
chi-square combination over one set of clues, so "why" stays one list.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from django.conf import settings
from django.db import connection


def token_hash(token: str) -> int:
    """A token as a signed 64-bit integer (the database's bigint)."""
    return int.from_bytes(hashlib.blake2b(token.encode("utf-8", "surrogatepass"), digest_size=8).digest(),
                          "big", signed=True)


def member_totals(member_id: int) -> tuple[int, int]:
    with connection.cursor() as cur:
        cur.execute("SELECT spam, ham FROM antispam_trainedtotals WHERE member_id = %s", [member_id])
        row = cur.fetchone()
    return (row[0], row[1]) if row else (0, 0)


def prior_totals() -> tuple[int, int]:
    with connection.cursor() as cur:
        cur.execute("SELECT spam, ham FROM antispam_priortotals WHERE id = 1")
        row = cur.fetchone()
    return (row[0], row[1]) if row else (0, 0)


def _lookup(sql: str, params: list) -> dict[int, tuple[int, int]]:
    with connection.cursor() as cur:
        cur.execute(sql, params)
        return {token: (spam, ham) for token, spam, ham in cur.fetchall()}


class BlendedCounts:
    """A member's counts with the prior filling in (see the module docstring); a classifier
    :class:`~antispam.classifier.Counts`."""

    def __init__(self, member_id: int):
        self.member_id = member_id
        self.member_spam, self.member_ham = member_totals(member_id)
        min_spam, min_ham = max(settings.ANTISPAM_MIN_TRAINED_SPAM, 1), max(settings.ANTISPAM_MIN_TRAINED_HAM, 1)
        w_spam = min(1.0, self.member_spam / min_spam)
        w_ham = min(1.0, self.member_ham / min_ham)
        prior_spam, prior_ham = prior_totals() if (w_spam < 1 or w_ham < 1) else (0, 0)
        # Scale factors turning prior counts into (1 - w) * MIN virtual messages.
        self.k_spam = (1 - w_spam) * min_spam / prior_spam if prior_spam else 0.0
        self.k_ham = (1 - w_ham) * min_ham / prior_ham if prior_ham else 0.0
        self.nspam = self.member_spam + (self.k_spam * prior_spam)
        self.nham = self.member_ham + (self.k_ham * prior_ham)

    @property
    def uses_prior(self) -> bool:
        """Whether the prior still has a say (the member has not trained enough of each class)."""
        return bool(self.k_spam or self.k_ham)

    def lookup(self, tokens: Iterable[str]) -> dict[str, tuple[float, float]]:
        by_hash = {token_hash(t): t for t in tokens}
        hashes = list(by_hash)
        own = _lookup("SELECT token, spam, ham FROM antispam_tokencount WHERE member_id = %s AND token = ANY(%s)",
                      [self.member_id, hashes]) if (self.member_spam or self.member_ham) else {}
        prior = _lookup("SELECT token, spam, ham FROM antispam_priortoken WHERE token = ANY(%s)",
                        [hashes]) if self.uses_prior else {}
        out = {}
        for h in own.keys() | prior.keys():
            s, m = own.get(h, (0, 0))
            ps, pm = prior.get(h, (0, 0))
            spam, ham = s + ps * self.k_spam, m + pm * self.k_ham
            if spam or ham:
                out[by_hash[h]] = (spam, ham)
        return out


def add_counts(member_id: int, hashes: list[int], d_spam: int, d_ham: int) -> None:
    """Add *d_spam*/*d_ham* (each -1, 0 or 1) to the member's counts of *hashes* and to their
    trained totals, in one statement; counts never go below 0 and rows left at 0/0 are deleted."""
    hashes = sorted(set(hashes))  # one lock order: concurrent trainings of one member never deadlock
    with connection.cursor() as cur:
        cur.execute(
            "WITH totals AS (INSERT INTO antispam_trainedtotals (member_id, spam, ham) VALUES (%s, %s, %s) "
            "ON CONFLICT (member_id) DO UPDATE SET spam = GREATEST(antispam_trainedtotals.spam + %s, 0), "
            "ham = GREATEST(antispam_trainedtotals.ham + %s, 0)) "
            "INSERT INTO antispam_tokencount (member_id, token, spam, ham) "
            "SELECT %s, t, %s, %s FROM unnest(%s::bigint[]) AS t "
            "ON CONFLICT (member_id, token) DO UPDATE SET "
            "spam = GREATEST(antispam_tokencount.spam + %s, 0), ham = GREATEST(antispam_tokencount.ham + %s, 0)",
            [member_id, max(d_spam, 0), max(d_ham, 0), d_spam, d_ham,
             member_id, max(d_spam, 0), max(d_ham, 0), hashes, d_spam, d_ham])
        if d_spam <= 0 and d_ham <= 0:  # an unlearning (a move always leaves one count up)
            cur.execute("DELETE FROM antispam_tokencount WHERE member_id = %s AND token = ANY(%s) "
                        "AND spam = 0 AND ham = 0", [member_id, hashes])


def claim_fingerprint(member_id: int, digest: int, spam: bool) -> bool | None:
    """The class the message *digest* was learned as before (None: never, and it is recorded as
    *spam* now), its row locked until commit. One statement: a concurrent first training of the
    same message waits on the row and then sees it."""
    with connection.cursor() as cur:
        # The no-op update locks an existing row and returns it unchanged; xmax = 0 marks a
        # row this statement inserted.
        cur.execute(
            "INSERT INTO antispam_fingerprint (member_id, digest, spam, learned_at) VALUES (%s, %s, %s, now()) "
            "ON CONFLICT (member_id, digest) DO UPDATE SET spam = antispam_fingerprint.spam "
            "RETURNING spam, xmax = 0", [member_id, digest, spam])
        before, inserted = cur.fetchone()
    return None if inserted else before


def set_fingerprint(member_id: int, digest: int, spam: bool) -> None:
    with connection.cursor() as cur:
        cur.execute("UPDATE antispam_fingerprint SET spam = %s, learned_at = now() WHERE member_id = %s AND digest = %s",
                    [spam, member_id, digest])


def pop_fingerprint(member_id: int, digest: int) -> bool | None:
    """Delete the record of the message *digest*; the class it was learned as (None: never)."""
    with connection.cursor() as cur:
        cur.execute("DELETE FROM antispam_fingerprint WHERE member_id = %s AND digest = %s RETURNING spam",
                    [member_id, digest])
        row = cur.fetchone()
    return None if row is None else row[0]


def replace_prior(counts: dict[str, list], nspam: int, nham: int) -> None:
    """The prior becomes exactly *counts* (token → [spam, ham]) over *nspam*/*nham* messages."""
    merged: dict[int, list[int]] = {}
    for token, (s, h) in counts.items():
        c = merged.setdefault(token_hash(token), [0, 0])
        c[0] += s
        c[1] += h
    with connection.cursor() as cur:
        cur.execute("DELETE FROM antispam_priortoken")
        items = list(merged.items())
        for i in range(0, len(items), 20000):
            chunk = items[i:i + 20000]
            cur.execute(
                "INSERT INTO antispam_priortoken (token, spam, ham) "
                "SELECT * FROM unnest(%s::bigint[], %s::int[], %s::int[])",
                [[t for t, _ in chunk], [c[0] for _, c in chunk], [c[1] for _, c in chunk]])
        cur.execute(
            "INSERT INTO antispam_priortotals (id, spam, ham, trained_at) VALUES (1, %s, %s, now()) "
            "ON CONFLICT (id) DO UPDATE SET spam = EXCLUDED.spam, ham = EXCLUDED.ham, trained_at = now()",
            [nspam, nham])


def forget(member_id: int) -> None:
    with connection.cursor() as cur:
        for table in ("antispam_tokencount", "antispam_fingerprint", "antispam_trainedtotals"):
            cur.execute(f"DELETE FROM {table} WHERE member_id = %s", [member_id])  # noqa: S608 (fixed names)
