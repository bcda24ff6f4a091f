"""Which option of a dilemma follows which rule.

Upstream asked the LLM to randomise the letters and never recorded which option follows
rule A, which rule B and which is the distractor (raw-formats §3.3). Where the raw data
carries the mapping it is used as is; otherwise it is recovered from the text: each
option is scored by the share of a rule's character bigrams it repeats, the assignment
with the best total wins, and its margin over the runner-up is the confidence. When no
option clearly echoes a rule, or two assignments are nearly as good, nothing is guessed.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from functools import lru_cache
from itertools import permutations

ROLES = ("rule_a", "rule_b", "distractor")
MIN_SCORE = 0.25
"""An option must repeat at least this share of its rule's bigrams."""
MIN_CONFIDENCE = 0.2
"""The best assignment must beat the runner-up by this share of its total."""
_DROP = re.compile(r"[^\w]")


@dataclass(frozen=True)
class OptionMapping:
    """The role of each letter, how it was obtained, and how sure it is."""

    follows: dict[str, str | None]
    source: str
    """``raw`` (given by the data), ``recovered`` (from the text) or ``none`` (refused to guess)."""
    confidence: float


def _chars(text: str) -> str:
    """The characters bigrams are taken from: lower case, no punctuation or spaces."""
    return _DROP.sub("", text.lower())


def _bigrams_of(chars: str) -> set[str]:
    return {chars[i:i + 2] for i in range(len(chars) - 1)} or ({chars} if chars else set())


def rule_grams(rule: str) -> tuple[str, ...]:
    """A rule's distinct bigrams, interned: rules recur in every scene of their pair, so callers cache these."""
    return tuple(map(sys.intern, _bigrams_of(_chars(rule))))


class RuleGrams(dict[str, tuple[str, ...]]):
    """:func:`rule_grams` per rule text, for one build (every rule of a release fits; an LRU would thrash)."""

    def __missing__(self, rule: str) -> tuple[str, ...]:
        grams = self[rule] = rule_grams(rule)
        return grams


_shared_grams = lru_cache(maxsize=65536)(rule_grams)
"""For callers without a cache of their own."""


def _shares(chars: str, rule: tuple[str, ...]) -> float:
    """The share of a rule's bigrams that the option's characters repeat."""
    if not rule:
        return 0.0
    if len(chars) >= 2 and len(rule[0]) == 2:
        # Every bigram of a rule with two or more characters has length 2, and such a bigram is
        # among the option's bigrams exactly when it occurs in the option's characters.
        return sum(map(chars.__contains__, rule)) / len(rule)
    return len(_bigrams_of(chars).intersection(rule)) / len(rule)


def recover_mapping(options: list[tuple[str, str]], rule_a: str, rule_b: str,
                    grams: RuleGrams | None = None) -> OptionMapping:
    """Assign rule_a / rule_b / distractor to the three options from their text.

    ``grams``: a :class:`RuleGrams` cache kept by the caller across the rows of a build.
    """
    lookup = grams.__getitem__ if grams is not None else _shared_grams
    grams_a, grams_b = lookup(rule_a), lookup(rule_b)
    letters = [letter for letter, _ in options]
    scores = {}
    for letter, text in options:
        chars = _chars(text)
        scores[letter] = (_shares(chars, grams_a), _shares(chars, grams_b))
    # Best total first; equal totals in the order of their letters (as a key of (-total, order) sorts them).
    ranked = sorted((-(scores[order[0]][0] + scores[order[1]][1]), order) for order in permutations(letters))
    (best, order), second = ranked[0], ranked[1][0]
    best, second = -best, -second
    confidence = (best - second) / best if best else 0.0
    clear = scores[order[0]][0] >= MIN_SCORE and scores[order[1]][1] >= MIN_SCORE
    if not clear or confidence < MIN_CONFIDENCE:
        return OptionMapping({letter: None for letter in letters}, "none", 0.0)
    return OptionMapping(dict(zip(order, ROLES, strict=True)), "recovered", round(confidence, 4))


def option_rows(options: list[tuple[str, str]], mapping: OptionMapping) -> list[dict]:
    """Options as published: letter, text and what each follows."""
    return [{"letter": letter, "text": text, "follows": mapping.follows.get(letter)} for letter, text in options]


def given_mapping(letters: list[str], rule_a_letter: str, rule_b_letter: str) -> OptionMapping:
    """A mapping the raw data states (e.g. a gold letter per rule)."""
    follows = {letter: "distractor" for letter in letters}
    follows[rule_a_letter], follows[rule_b_letter] = "rule_a", "rule_b"
    return OptionMapping(follows, "raw", 1.0)
