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
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from itertools import permutations

import numpy as np

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


_PERMUTATIONS = tuple(permutations(range(3)))
"""Which option follows rule A, rule B and the distractor, in the order ties are broken (by letter)."""
_SEPARATOR = "\U0001e922"
"""A lower-case word character that joins option texts so they are cleaned in one call (see :func:`_chars_of`)."""
_SINGLE = np.uint64(0x1FFFFF)
"""Second half of the gram key of a one-character text (no code point is this large)."""


def _chars(text: str) -> str:
    """The characters bigrams are taken from: lower case, no punctuation or spaces."""
    return _DROP.sub("", text.lower())


def _chars_of(texts: list[str]) -> list[str]:
    """:func:`_chars` of each text, cleaning them joined in one call where that is the same."""
    joined = _SEPARATOR.join(texts)
    if "Σ" not in joined:  # the one letter whose lower case depends on its neighbours
        pieces = _chars(joined).split(_SEPARATOR)
        if len(pieces) == len(texts):  # no text lowers to the separator itself
            return pieces
    return [_chars(text) for text in texts]


def _grams(chars: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Each text's character bigrams as integer keys, and the text each key belongs to.

    A key packs two code points; a one-character text has the one gram ``char + _SINGLE``
    (it only matches itself), an empty text none.
    """
    lengths = np.fromiter(map(len, chars), np.int64, len(chars))
    points = np.frombuffer("".join(chars).encode("utf-32-le"), np.uint32).astype(np.uint64)
    counts = np.where(lengths >= 2, lengths - 1, lengths)
    owner = np.repeat(np.arange(len(chars)), counts)
    starts = np.cumsum(lengths) - lengths
    first = np.cumsum(counts) - counts
    at = np.arange(len(owner)) - first[owner] + starts[owner]
    second = np.where(lengths[owner] >= 2, points[np.minimum(at + 1, max(len(points) - 1, 0))], _SINGLE)
    return (points[at] << np.uint64(21)) | second, owner


def _sorted_keys(chars: list[str], distinct: bool) -> tuple[np.ndarray, np.ndarray]:
    """Every text's gram keys as ``text index << 42 | gram``, sorted (and deduplicated with
    ``distinct``), and how many keys each text has."""
    grams, owner = _grams(chars)
    keys = np.sort((owner.astype(np.uint64) << np.uint64(42)) | grams)
    if distinct and len(keys):
        keys = keys[np.concatenate(([True], keys[1:] != keys[:-1]))]
    return keys, np.bincount((keys >> np.uint64(42)).astype(np.int64), minlength=len(chars))


def _shares(option_keys: np.ndarray, rule_keys: np.ndarray, per_rule: np.ndarray,
            rule_of_option: np.ndarray) -> np.ndarray:
    """For each option, the share of its rule's distinct bigrams that the option repeats.

    Each gram of each option's rule is looked up, as ``option index << 42 | gram``, in the
    options' sorted keys.
    """
    wanted = per_rule[rule_of_option]
    query_owner = np.repeat(np.arange(len(rule_of_option)), wanted)
    rule_first = np.cumsum(per_rule) - per_rule
    query_at = np.arange(len(query_owner)) - (np.cumsum(wanted) - wanted)[query_owner] + rule_first[
        rule_of_option][query_owner]
    queries = (query_owner.astype(np.uint64) << np.uint64(42)) | (rule_keys[query_at] & np.uint64((1 << 42) - 1))
    if len(option_keys):
        hit = option_keys[np.minimum(np.searchsorted(option_keys, queries), len(option_keys) - 1)] == queries
    else:
        hit = np.zeros(len(queries), bool)
    hits = np.bincount(query_owner[hit], minlength=len(rule_of_option))
    return np.divide(hits, wanted, out=np.zeros(len(rule_of_option)), where=wanted > 0)


def _chunk_roles(options: list[str], rules_a: list[int], rules_b: list[int],
                 rule_chars: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """:func:`recover_roles` of one chunk (the keys' option index must fit in 22 bits); its
    rules as indices into ``rule_chars``, the :func:`_chars` of every distinct rule."""
    n = len(rules_a)
    rules: dict[int, int] = {}
    index = [rules.setdefault(r, len(rules)) for side in (rules_a, rules_b) for r in side]
    rule_keys, per_rule = _sorted_keys([rule_chars[r] for r in rules], distinct=True)
    option_keys, _ = _sorted_keys(_chars_of(options), distinct=False)
    share_a, share_b = (_shares(option_keys, rule_keys, per_rule, np.repeat(np.array(side, np.int64), 3)).reshape(-1, 3)
                        for side in (index[:n], index[n:]))
    order = np.array(_PERMUTATIONS)
    totals = share_a[:, order[:, 0]] + share_b[:, order[:, 1]]
    best_at = np.argmax(totals, axis=1)  # the first of equal totals: ties go to the earlier letters
    rows = np.arange(n)
    best = totals[rows, best_at]
    totals[rows, best_at] = -np.inf
    second = totals.max(axis=1)
    sure = np.divide(best - second, best, out=np.zeros(n), where=best != 0)
    chosen = order[best_at]
    clear = (share_a[rows, chosen[:, 0]] >= MIN_SCORE) & (share_b[rows, chosen[:, 1]] >= MIN_SCORE)
    ok = clear & (sure >= MIN_CONFIDENCE)
    roles = np.full((n, 3), -1, np.int8)
    for role in range(3):
        roles[rows[ok], chosen[ok, role]] = role
    return roles, np.where(ok, sure, 0.0)


def recover_roles(options: list[str], rules_a: list[str], rules_b: list[str], *,
                  threads: int = 1, chunk: int = 50_000) -> tuple[np.ndarray, list[float]]:
    """:func:`recover_mapping` for many dilemmas at once, in numpy.

    ``options`` holds three option texts per dilemma (A, B, C), flat. Returns each option's
    role as an index into :data:`ROLES` (``-1`` where nothing is guessed), shaped
    ``(dilemmas, 3)``, and each dilemma's confidence (0.0 where nothing is guessed).
    Chunks of dilemmas bound the memory; with ``threads`` > 1 they run side by side (numpy
    releases the GIL), with the same result.
    """
    n = len(rules_a)
    if len(options) != 3 * n or len(rules_b) != n:
        raise ValueError("recover_roles needs three options per dilemma and two rules")
    if not 0 < chunk < (1 << 22) // 3:
        raise ValueError(f"chunk must be 1 to {(1 << 22) // 3 - 1} dilemmas (a key's text index has 22 bits)")
    bounds = [(begin, min(n, begin + chunk)) for begin in range(0, n, chunk)]
    distinct: dict[str, int] = {}  # every chunk quotes the same few rules: each is cleaned once
    index_a = [distinct.setdefault(rule, len(distinct)) for rule in rules_a]
    index_b = [distinct.setdefault(rule, len(distinct)) for rule in rules_b]
    rule_chars = _chars_of(list(distinct))
    with ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
        parts = list(pool.map(lambda b: _chunk_roles(options[3 * b[0]:3 * b[1]], index_a[b[0]:b[1]],
                                                     index_b[b[0]:b[1]], rule_chars), bounds))
    if not parts:
        return np.full((0, 3), -1, np.int8), []
    roles = np.concatenate([r for r, _ in parts])
    return roles, [round(c, 4) for c in np.concatenate([c for _, c in parts]).tolist()]


def recover_mapping(options: list[tuple[str, str]], rule_a: str, rule_b: str) -> OptionMapping:
    """Assign rule_a / rule_b / distractor to the three options from their text."""
    if len(options) != 3:
        raise ValueError(f"expected three options, got {len(options)}")
    roles, confidence = recover_roles([text for _, text in options], [rule_a], [rule_b])
    letters = [letter for letter, _ in options]
    if roles[0, 0] < 0:
        return OptionMapping({letter: None for letter in letters}, "none", 0.0)
    return OptionMapping({letter: ROLES[r] for letter, r in zip(letters, roles[0].tolist(), strict=True)},
                         "recovered", confidence[0])


def option_rows(options: list[tuple[str, str]], mapping: OptionMapping) -> list[dict]:
    """Options as published: letter, text and what each follows."""
    return [{"letter": letter, "text": text, "follows": mapping.follows.get(letter)} for letter, text in options]


def given_mapping(letters: list[str], rule_a_letter: str, rule_b_letter: str) -> OptionMapping:
    """A mapping the raw data states (e.g. a gold letter per rule)."""
    follows = {letter: "distractor" for letter in letters}
    follows[rule_a_letter], follows[rule_b_letter] = "rule_a", "rule_b"
    return OptionMapping(follows, "raw", 1.0)
