"""Robinson's token probabilities with Fisher's chi-square combining (as SpamBayes and
bogofilter do). Pure: counts in, a score out.

Counts come through :class:`Counts`: how many spam and ham messages were trained, and for a
set of tokens how many of each contained them. The benchmark feeds it from memory
(:class:`MemoryCounts`), the services from PostgreSQL (a member's counts blended with the
site-wide prior).
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol

# Defaults chosen by cross-validation on the training corpus (bench/spam_accuracy.py --cv).
STRENGTH = 0.1  # s: how much an unknown token's probability is pulled towards X
UNKNOWN = 0.4  # x: the probability of a token never seen (a little towards ham: false positives cost more)
MIN_DEVIATION = 0.1  # tokens whose f(w) is this close to 0.5 are ignored
MAX_CLUES = 250  # at most this many of the most extreme tokens decide
_LN2 = math.log(2)


class Counts(Protocol):
    nspam: float
    nham: float

    def lookup(self, tokens: Iterable[str]) -> dict[str, tuple[float, float]]:
        """(spam count, ham count) of each of *tokens* that was ever trained."""


@dataclass
class MemoryCounts:
    """Token counts in a dict: the benchmark's model and the tests' toy models."""

    nspam: float = 0
    nham: float = 0
    tokens: dict[str, list] = field(default_factory=dict)

    def lookup(self, tokens: Iterable[str]) -> dict[str, tuple[float, float]]:
        get = self.tokens.get
        return {t: c for t in tokens if (c := get(t)) is not None}

    def learn(self, tokens: Iterable[str], spam: bool, sign: int = 1) -> None:
        index = 0 if spam else 1
        if spam:
            self.nspam += sign
        else:
            self.nham += sign
        for t in tokens:
            c = self.tokens.get(t)
            if c is None:
                if sign < 0:
                    continue
                c = self.tokens[t] = [0, 0]
            c[index] = max(0, c[index] + sign)
            if not c[0] and not c[1]:
                del self.tokens[t]


@dataclass(frozen=True)
class Params:
    strength: float = STRENGTH
    unknown: float = UNKNOWN
    min_deviation: float = MIN_DEVIATION
    max_clues: int = MAX_CLUES


@dataclass(frozen=True)
class Score:
    score: float  # 0-100, the spam probability
    clues: list[tuple[str, float]]  # (token, f(w)) that decided, most extreme first

    def why(self, count: int = 5) -> tuple[list[tuple[str, float]], list[tuple[str, float]]]:
        """The *count* tokens that weighed most for spam, and against (each with f(w))."""
        spammy = [c for c in self.clues if c[1] > 0.5][:count]
        hammy = [c for c in self.clues if c[1] < 0.5][:count]
        return spammy, hammy


def chi2q(x2: float, v: int) -> float:
    """P(chi-square with *v* (even) degrees of freedom >= *x2*)."""
    m = x2 / 2.0
    total = term = math.exp(-m)
    for i in range(1, v // 2):
        term *= m / i
        total += term
    return min(total, 1.0)


def token_probability(spam: float, ham: float, nspam: float, nham: float, params: Params) -> float:
    """Robinson's f(w): the token's spam probability, pulled towards *unknown* while rare."""
    spam_ratio = spam / nspam if nspam else 0.0
    ham_ratio = ham / nham if nham else 0.0
    if spam_ratio + ham_ratio == 0:
        return params.unknown
    p = spam_ratio / (spam_ratio + ham_ratio)
    n = spam + ham
    s = params.strength
    return (s * params.unknown + n * p) / (s + n)


def score(tokens: Iterable[str], counts: Counts, params: Params = Params()) -> Score:
    """The spam probability (0-100) of a message with *tokens*; 50 without any clue."""
    nspam, nham = counts.nspam, counts.nham
    strength, min_dev = params.strength, params.min_deviation
    prior = strength * params.unknown
    inv_spam = 1.0 / nspam if nspam else 0.0
    inv_ham = 1.0 / nham if nham else 0.0
    clues = []
    keep = clues.append
    # token_probability() inlined: this loop is most of the time a message takes to score.
    for token, (spam, ham) in counts.lookup(tokens).items():
        spam_ratio = spam * inv_spam
        total = spam_ratio + ham * inv_ham
        if not total:
            continue
        n = spam + ham
        f = (prior + n * spam_ratio / total) / (strength + n)
        d = f - 0.5
        if d >= min_dev or -d >= min_dev:
            keep((d if d > 0 else -d, f, token))
    if not clues:
        return Score(50.0, [])
    if len(clues) > params.max_clues:
        clues = heapq.nlargest(params.max_clues, clues)
    else:
        clues.sort(reverse=True)
    # Products of f and of 1 - f, renormalised before they underflow (as SpamBayes does);
    # their logs are what Fisher's method sums.
    h_prod = s_prod = 1.0
    h_exp = s_exp = 0
    for _, f, _ in clues:
        f = min(max(f, 1e-12), 1 - 1e-12)
        h_prod *= f
        s_prod *= 1.0 - f
        if h_prod < 1e-200:
            h_prod, e = math.frexp(h_prod)
            h_exp += e
        if s_prod < 1e-200:
            s_prod, e = math.frexp(s_prod)
            s_exp += e
    h_sum = math.log(h_prod) + h_exp * _LN2
    s_sum = math.log(s_prod) + s_exp * _LN2
    n = len(clues)
    s = 1.0 - chi2q(-2.0 * s_sum, 2 * n)
    h = 1.0 - chi2q(-2.0 * h_sum, 2 * n)
    probability = (s - h + 1.0) / 2.0
    return Score(round(probability * 100, 4), [(t, f) for _, f, t in clues])
