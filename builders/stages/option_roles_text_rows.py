"""Texts as rows, for the option-role scorer (:mod:`builders.stages.option_roles_columnar`): each text's
characters or bigrams as sorted ``(owner, code point)`` rows, and the lookups its overlaps are made of.

Every piece of evidence is computed for all items of a build together, so a text is not a string here but the
rows it owns: an overlap is found by looking a row up in the sorted keys of another text's rows, and summed per
owner with ``np.bincount``.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from builders.stages.option_roles import _STOP as _STOP_CHARS
from builders.stages.option_roles import Idf

_STOP = np.array(sorted(ord(c) for c in _STOP_CHARS), np.uint32)
BITS = np.uint64(21)
"""A code point fits in 21 bits."""
GRAM_BITS = 2 * BITS
"""A bigram, two code points, fits in 42."""
ONE_KEY_TEXTS = 1 << 21
"""Below this many texts, a text's index and a bigram (42 bits) fit in one 64-bit key."""


def pack(owner: np.ndarray, value: np.ndarray, bits: np.uint64 = BITS) -> np.ndarray:
    """``(owner, value)`` as one sortable 64-bit key, the value (a code point, or a bigram with
    :data:`GRAM_BITS`) in the low ``bits``: keys sort by owner, then by value."""
    return (owner.astype(np.uint64) << bits) | value.astype(np.uint64)


def unpack(keys: np.ndarray, bits: np.uint64 = BITS) -> tuple[np.ndarray, np.ndarray]:
    """The ``(owner, value)`` rows of :func:`pack`'s keys."""
    return (keys >> bits).astype(np.int64), keys & ((np.uint64(1) << bits) - np.uint64(1))


def distinct(values: np.ndarray) -> np.ndarray:
    """The sorted distinct values (a sort and a comparison: ``np.unique`` hashes, slower at these sizes)."""
    ordered = np.sort(values)
    return ordered[np.concatenate(([True], ordered[1:] != ordered[:-1]))] if len(ordered) else ordered


def member(keys: np.ndarray, query: np.ndarray) -> np.ndarray:
    """Whether each query is among the sorted distinct ``keys``."""
    if not len(keys):
        return np.zeros(len(query), bool)
    at = np.minimum(np.searchsorted(keys, query), len(keys) - 1)
    return keys[at] == query


def _points(texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Every text's code points, flat, and which text each belongs to."""
    joined = "".join(texts)
    points = np.frombuffer(joined.encode("utf-32-le", "surrogatepass"), np.uint32) if joined else \
        np.zeros(0, np.uint32)
    return points, np.repeat(np.arange(len(texts), dtype=np.int64), [len(t) for t in texts])


def _cjk(points: np.ndarray) -> np.ndarray:
    return ((points >= 0x3400) & (points <= 0x4DBF)) | ((points >= 0x4E00) & (points <= 0x9FFF))


def char_rows(texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Each text's distinct CJK characters but the stop characters (``option_roles._chars``) as rows: owner and
    code point, each pair once, sorted."""
    points, owner = _points(texts)
    keep = _cjk(points) & ~np.isin(points, _STOP)
    owner, char = unpack(distinct(pack(owner[keep], points[keep])))
    return owner, char.astype(np.uint32)


def bigram_rows(texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Each text's distinct bigrams of adjacent CJK characters as rows: owner and the two code points packed, each
    pair once."""
    points, owner = _points(texts)
    keep = _cjk(points)
    points, owner = points[keep].astype(np.uint64), owner[keep]
    same = owner[1:] == owner[:-1]
    grams = pack(points[:-1], points[1:])[same]
    gram_owner = owner[:-1][same]
    if len(texts) < ONE_KEY_TEXTS:  # owner and gram in one key: one sort of integers
        return unpack(distinct(pack(gram_owner, grams, GRAM_BITS)), GRAM_BITS)
    order = np.lexsort((grams, gram_owner))
    gram_owner, grams = gram_owner[order], grams[order]
    first = np.concatenate(([True], (gram_owner[1:] != gram_owner[:-1]) | (grams[1:] != grams[:-1]))) if len(grams) \
        else np.zeros(0, bool)
    return gram_owner[first], grams[first]


def idf_weights(idf: Idf, chars: np.ndarray) -> np.ndarray:
    """The IDF weight of each code point (each distinct one looked up once)."""
    codes = distinct(chars)
    weight = np.array([idf(chr(c)) for c in codes.tolist()], float)
    return weight[np.searchsorted(codes, chars)] if len(chars) else np.zeros(0)


def total(owner: np.ndarray, values: np.ndarray, size: int) -> np.ndarray:
    return np.bincount(owner, values, minlength=size) if len(owner) else np.zeros(size)


def cosine(shared: np.ndarray, one: np.ndarray, other: np.ndarray) -> np.ndarray:
    """An overlap: the shared weight over the geometric mean of the two texts' weights (0 when nothing is shared)."""
    scale = np.sqrt(one * other)
    return np.divide(shared, scale, out=np.zeros_like(shared), where=(shared > 0) & (scale > 0))


class OptionChars:
    """Which of its dilemma's three options hold each character: sorted ``dilemma, char`` keys and a mask."""

    def __init__(self, option_owner: np.ndarray, option_char: np.ndarray) -> None:
        keys = pack(option_owner // 3, option_char)
        self.keys = distinct(keys)
        self.mask = np.zeros(len(self.keys), np.int64)
        np.bitwise_or.at(self.mask, np.searchsorted(self.keys, keys), 1 << (option_owner % 3))

    def shared(self, item: np.ndarray, char: np.ndarray, weight: np.ndarray, owner: np.ndarray,
               size: int) -> np.ndarray:
        """Per text of ``size`` (its rows: ``owner``, of dilemma ``item``) and option: the weight they share."""
        keys = pack(item, char)
        at = np.minimum(np.searchsorted(self.keys, keys), max(len(self.keys) - 1, 0))
        mask = np.where(self.keys[at] == keys, self.mask[at], 0) if len(self.keys) else np.zeros(len(keys), np.int64)
        out = np.zeros((size, 3))
        for option in range(3):
            hit = (mask >> option) & 1 == 1
            out[:, option] = total(owner[hit], weight[hit], size)
        return out


def word_hits(texts: pa.Array, text_item: np.ndarray, item_rule: np.ndarray,
               rule_words: list[tuple[str, ...]]) -> np.ndarray:
    """Per text: how many words of its dilemma's rule (``rule_words[item_rule[item]]``) it contains;
    ``text_item`` ascending. One Arrow substring pass per distinct word, over the texts of the dilemmas
    whose rule has it."""
    hits = np.zeros(len(texts), np.int64)
    items = np.arange(len(item_rule))
    starts, ends = np.searchsorted(text_item, items), np.searchsorted(text_item, items, side="right")
    by_word: dict[str, list[int]] = {}
    for rule, words in enumerate(rule_words):
        for word in words:
            by_word.setdefault(word, []).append(rule)
    has = np.zeros(len(rule_words), bool)
    for word, rules in by_word.items():
        has[:] = False
        has[rules] = True
        at = np.flatnonzero(has[item_rule])
        counts = ends[at] - starts[at]
        size = int(counts.sum())
        if not size:
            continue
        rows = np.repeat(starts[at] - np.cumsum(counts) + counts, counts) + np.arange(size)
        found = pc.match_substring(texts.take(pa.array(rows)), word).to_numpy(zero_copy_only=False)
        hits[rows[found]] += 1
    return hits


def rule_codes(rules: list[tuple], side: int) -> tuple[np.ndarray, list[tuple[str, ...]]]:
    """Each dilemma's rule on one side as a code into the distinct rules' word lists (rules repeat: every
    scene of a pair quotes the same two, and ``_rule`` returns the same object for the same rule)."""
    code: dict[int, int] = {}
    words: list[tuple[str, ...]] = []
    out = np.empty(len(rules), np.int64)
    for item, pair in enumerate(rules):
        rule = pair[side]
        at = code.get(id(rule))
        if at is None:
            at = code[id(rule)] = len(words)
            words.append(rule.words)
        out[item] = at
    return out, words
