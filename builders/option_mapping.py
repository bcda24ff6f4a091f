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


def _bigrams(text: str) -> frozenset[str]:
    chars = _DROP.sub("", text.lower())
    return frozenset({chars[i:i + 2] for i in range(len(chars) - 1)} or ({chars} if chars else ()))


_rule_bigrams = lru_cache(maxsize=65536)(_bigrams)
"""Rules recur in every scene of their pair; options do not."""


def _score(option_grams: frozenset[str], rule_grams: frozenset[str]) -> float:
    return len(option_grams & rule_grams) / len(rule_grams) if rule_grams else 0.0


def recover_mapping(options: list[tuple[str, str]], rule_a: str, rule_b: str) -> OptionMapping:
    """Assign rule_a / rule_b / distractor to the three options from their text."""
    letters = [letter for letter, _ in options]
    grams_a, grams_b = _rule_bigrams(rule_a), _rule_bigrams(rule_b)
    scores = {}
    for letter, text in options:
        grams = _bigrams(text)
        scores[letter] = (_score(grams, grams_a), _score(grams, grams_b))
    ranked = []
    for order in permutations(letters):
        a, b = order[0], order[1]
        ranked.append((scores[a][0] + scores[b][1], order))
    ranked.sort(key=lambda item: (-item[0], item[1]))
    (best, order), (second, _) = ranked[0], ranked[1]
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
