"""The learning filter's state changes and verdicts: score a message for a member, learn it
as spam or ham (once per message, moved right when it changes class), forget a member's model."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction

from accounts import mailaccess
from antispam import classifier, expiry, storage, syncfolders
from antispam.tokens import strip_receiving_headers, tokenize

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Verdict:
    score: float  # 0-100 spam probability
    is_spam: bool  # at or above ANTISPAM_SPAM_THRESHOLD
    is_certain: bool  # at or above ANTISPAM_DESTROY_THRESHOLD: near-certain spam
    why: tuple[list[tuple[str, float]], list[tuple[str, float]]]  # tokens for spam, against (token, f(w))
    uses_prior: bool = False  # the site-wide prior still had a say


def fingerprint(raw: bytes) -> int:
    """The same message whichever folder or delivery it came from (the receiving side's headers,
    our own X-Spam-* included, are left out)."""
    return int.from_bytes(hashlib.blake2b(strip_receiving_headers(raw), digest_size=8).digest(), "big", signed=True)


def score(member, raw: bytes) -> Verdict:
    """The member's filter's verdict on *raw* (their counts, the prior filling in)."""
    counts = storage.BlendedCounts(member.pk)
    result = classifier.score(tokenize(raw), counts)
    # No clue at all (nothing trained, or nothing known in it): unsure, so never spam.
    is_spam = bool(result.clues) and result.score >= settings.ANTISPAM_SPAM_THRESHOLD
    return Verdict(score=result.score, is_spam=is_spam,
                   is_certain=is_spam and result.score >= settings.ANTISPAM_DESTROY_THRESHOLD,
                   why=result.why(), uses_prior=counts.uses_prior)


def learn(member, raw: bytes, spam: bool) -> bool:
    """Train *raw* as spam (or ham) for *member*. A message already learned as that class is
    left alone (False); one learned as the other class is unlearned from it first."""
    digest = fingerprint(raw)
    hashes = [storage.token_hash(t) for t in tokenize(raw)]
    with transaction.atomic():
        before = storage.claim_fingerprint(member.pk, digest, spam)
        if before is spam:
            return False
        if before is None:
            d_spam, d_ham = (1, 0) if spam else (0, 1)
        else:  # moved: take it out of the class it was in
            d_spam, d_ham = (1, -1) if spam else (-1, 1)
            storage.set_fingerprint(member.pk, digest, spam)
        storage.add_counts(member.pk, hashes, d_spam, d_ham)
    return True


def unlearn(member, raw: bytes) -> bool:
    """Take *raw* out of the member's model (False: it was never learned)."""
    digest = fingerprint(raw)
    hashes = [storage.token_hash(t) for t in tokenize(raw)]
    with transaction.atomic():
        before = storage.pop_fingerprint(member.pk, digest)
        if before is None:
            return False
        storage.add_counts(member.pk, hashes, *((-1, 0) if before else (0, -1)))
    return True


def forget(member) -> None:
    """Reset the member's model: their counts, totals and fingerprints (the prior decides again)."""
    with transaction.atomic():
        storage.forget(member.pk)


def trained(member) -> tuple[int, int]:
    """How many spam and ham messages the member trained."""
    return storage.member_totals(member.pk)


def expire_junk(member) -> expiry.Expired:
    """Purge what has expired in the member's Junk folder (antispam.expiry: by delivery time).
    Called by the workers (the master user as the member); MailServerError when Dovecot is down."""
    with mailaccess.imap(member) as client:
        result = expiry.expire(client)
    if result.total:
        log.info("junk expiry for %s: %d deleted, %d read, %d unread purged", member.email, result.deleted,
                 result.read, result.unread)
    return result


def train_sync_folders(member) -> syncfolders.Trained:
    """Train the member's filter from their SyncSPAM and SyncHAM folders and empty them
    (workers: the master user as the member)."""
    with mailaccess.imap(member) as client:
        done = syncfolders.train(client, lambda raw, spam: learn(member, raw, spam))
    if done.spam or done.ham:
        log.info("sync folders of %s: %d spam, %d ham learned", member.email, done.spam, done.ham)
    return done
