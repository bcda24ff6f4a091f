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
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from itertools import chain, permutations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from builders.stages.option_roles import Idf
from builders.stages.option_roles_columnar import assign_roles_many

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
    """``raw`` (given by the data), ``recovered`` (from the text), ``model`` (an annotation) or ``none``."""
    confidence: float | None
    model: str | None = None


_PERMUTATIONS = tuple(permutations(range(3)))
"""Which option follows rule A, rule B and the distractor, in the order ties are broken (by letter)."""
_SINGLE = np.uint64(0x1FFFFF)
"""Second half of the gram key of a one-character text (no code point is this large)."""
_DROPPED = np.uint32(0xFFFFFFFF)
"""What :func:`_table` maps a code point to that :func:`_chars` removes."""
_FINAL = np.uint64(~np.uint64(0))
"""Ends the sorted rule keys so every lookup lands on a key (a real key's dilemma index is below ``2**21 - 1``)."""


def _chars(text: str) -> str:
    """The characters bigrams are taken from: lower case, no punctuation or spaces."""
    return _DROP.sub("", text.lower())


def _table(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each code point up to the largest present: its lower case (or :data:`_DROPPED`), and whether its lower
    case is not one character of its own (Σ depends on its neighbours, İ lowers to two).

    Python decides each code point present, so the table agrees with :func:`_chars` character by character.
    """
    size = int(points.max()) + 1 if len(points) else 1
    seen = np.zeros(size, bool)
    seen[points] = True
    present = np.flatnonzero(seen)
    chars = [chr(point) for point in present.tolist()]
    lowered = [char.lower() for char in chars]
    table = np.full(size, _DROPPED)
    table[present] = [ord(low[0]) if _DROP.match(low) is None else _DROPPED for low in lowered]
    odd = np.zeros(size, bool)
    odd[present] = [len(low) != 1 or char == "Σ" for char, low in zip(chars, lowered, strict=True)]
    return table, odd


def _points(texts: Sequence[str] | pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """All texts' code points, flat, and each text's length.

    An Arrow array is decoded from its buffer in one piece: no Python string per text.
    """
    if not isinstance(texts, pa.Array):
        return (np.frombuffer("".join(texts).encode("utf-32-le", "surrogatepass"), np.uint32),
                np.fromiter(map(len, texts), np.int64, len(texts)))
    texts = texts.cast(pa.string())
    if texts.null_count:
        texts = texts.fill_null("")
    lengths = pc.utf8_length(texts).to_numpy(zero_copy_only=False).astype(np.int64)
    offsets = np.frombuffer(texts.buffers()[1], np.int32, len(texts) + 1, 4 * texts.offset)
    start, end = int(offsets[0]), int(offsets[-1])
    if end == start:
        return np.zeros(0, np.uint32), lengths
    text = str(memoryview(texts.buffers()[2])[start:end], "utf-8")
    return np.frombuffer(text.encode("utf-32-le"), np.uint32), lengths


def _chars_of(texts: Sequence[str] | pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_chars` of each text as code points, flat, and each result's length.

    Code points go through :func:`_table` (one numpy lookup instead of a regex pass per text); a text with an odd
    code point is cleaned by :func:`_chars` itself and taken as it comes back.
    """
    points, lengths = _points(texts)
    table, odd = _table(points)
    as_is = None
    if odd.any():
        cleaned = np.zeros(len(texts), bool)
        cleaned[np.repeat(np.arange(len(texts)), lengths)[odd[points]]] = True
        at = np.flatnonzero(cleaned)
        odd_texts = texts.take(pa.array(at)).to_pylist() if isinstance(texts, pa.Array) else [texts[i] for i in at]
        clean_points, clean_lengths = _points([_chars(text) for text in odd_texts])
        kept = ~np.repeat(cleaned, lengths)  # the points of the texts not cleaned, in text order
        lengths = lengths.copy()
        lengths[at] = clean_lengths
        as_is = np.repeat(cleaned, lengths)
        spliced = np.empty(len(as_is), np.uint32)
        spliced[~as_is], spliced[as_is] = points[kept], clean_points
        points = spliced
        table, _ = _table(points)
    chars = table[points] if as_is is None else np.where(as_is, points, table[points])
    kept = chars != _DROPPED
    ends = np.concatenate(([0], np.cumsum(lengths)))
    return chars[kept], np.diff(np.concatenate(([0], np.cumsum(kept)))[ends])


def _grams(chars: np.ndarray, lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each text's character bigrams as integer keys in text order, flat, and how many each text has.

    A key packs two code points; a one-character text has the one gram ``char + _SINGLE`` (it only matches
    itself), an empty text none.
    """
    points = chars.astype(np.uint64)
    second = np.empty_like(points)
    second[:-1] = points[1:]
    last = np.cumsum(lengths)[lengths > 0] - 1
    second[last] = _SINGLE
    opens = np.ones(len(points), bool)
    opens[last[lengths[lengths > 0] >= 2]] = False  # the last character of a longer text starts no gram
    return ((points << np.uint64(21)) | second)[opens], np.where(lengths >= 2, lengths - 1, lengths)


def _rule_keys(rules: np.ndarray, rule_grams: np.ndarray, rule_counts: np.ndarray) -> np.ndarray:
    """The distinct grams of each dilemma's two rules as ``dilemma << 43 | gram << 1 | side``, sorted and ended
    by :data:`_FINAL`; ``rules`` holds each dilemma's rule A and rule B (as indices into the rule grams), flat.

    Per dilemma, not per rule: an option's lookups then stay within a few cache lines, and a gram both rules
    share sits as two neighbouring keys, so one search answers both sides.
    """
    counts = rule_counts[rules]
    ends = np.cumsum(counts)
    at = np.repeat(ends - counts - (np.cumsum(rule_counts) - rule_counts)[rules], counts)
    place = np.arange(len(rules), dtype=np.uint64)  # dilemma * 2 + side
    owner = np.repeat(((place >> np.uint64(1)) << np.uint64(43)) | (place & np.uint64(1)), counts)
    keys = np.sort(owner | (rule_grams[np.arange(len(at)) - at] << np.uint64(1)))
    return np.concatenate((keys[np.concatenate(([True], keys[1:] != keys[:-1]))] if len(keys) else keys, [_FINAL]))


def _chunk_roles(options: list[str], rules: np.ndarray, rule_grams: np.ndarray,
                 rule_counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`recover_roles` of one chunk (the keys' dilemma index must fit in 21 bits); ``rules`` as for
    :func:`_rule_keys`.

    Each option gram is looked up among its dilemma's rule keys; the keys it hits are marked per option, so a
    gram the option repeats counts once.
    """
    n = len(rules) // 2
    grams, counts = _grams(*_chars_of(options))
    queries = np.repeat(np.arange(n, dtype=np.uint64) << np.uint64(43), counts.reshape(n, 3).sum(axis=1)) | (
        grams << np.uint64(1))
    which = np.repeat(np.tile(np.arange(3, dtype=np.int8), n), counts)
    keys = _rule_keys(rules, rule_grams, rule_counts)
    owner = (((keys[:-1] >> np.uint64(43)) << np.uint64(1)) | (keys[:-1] & np.uint64(1))).astype(np.int64)  # 2d + side
    wanted = np.bincount(owner, minlength=2 * n).reshape(n, 2, 1)
    at = np.searchsorted(keys, queries)
    hit_a = keys[at] == queries
    at_b = at + hit_a
    hit_b = keys[at_b] == (queries | np.uint64(1))
    marked = np.zeros((len(keys), 3), bool)  # which option hit which key: a gram an option repeats counts once
    marked[at[hit_a], which[hit_a]] = True
    marked[at_b[hit_b], which[hit_b]] = True
    key, option = np.nonzero(marked)
    hits = np.bincount(owner[key] * 3 + option, minlength=6 * n).reshape(n, 2, 3)
    shares = np.divide(hits, wanted, out=np.zeros(hits.shape), where=wanted > 0)
    share_a, share_b = shares[:, 0], shares[:, 1]
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
    # Every chunk quotes the same few rules: each is cleaned and split into grams once. Callers repeat the same
    # string objects, so rules are told apart by identity first (one pass that hashes nothing), then by value.
    ids = np.fromiter(map(id, chain(rules_a, rules_b)), np.int64, 2 * n)
    _, first, inverse = np.unique(ids, return_index=True, return_inverse=True)
    distinct: dict[str, int] = {}
    value = np.fromiter((distinct.setdefault(rules_a[i] if i < n else rules_b[i - n], len(distinct))
                         for i in first.tolist()), np.int64, len(first))
    rules = value[inverse.reshape(-1)]
    roles, confidence = recover_roles_at(options, list(distinct), rules[:n], rules[n:], threads=threads, chunk=chunk)
    return roles, confidence.tolist()


def recover_roles_at(options: Sequence[str] | pa.Array, rules: Sequence[str], rule_a: np.ndarray,
                     rule_b: np.ndarray, *, threads: int = 1, chunk: int = 50_000) -> tuple[np.ndarray, np.ndarray]:
    """:func:`recover_roles` with each dilemma's two rules given as positions in ``rules`` (each distinct
    rule text once), and the confidences as an array.

    ``options`` may be an Arrow string array: its texts are then never turned into Python strings.
    """
    n = len(rule_a)
    if len(options) != 3 * n or len(rule_b) != n:
        raise ValueError("recover_roles needs three options per dilemma and two rules")
    if not 0 < chunk < (1 << 22) // 3:
        raise ValueError(f"chunk must be 1 to {(1 << 22) // 3 - 1} dilemmas (a key's dilemma index has 21 bits)")
    if not n:
        return np.full((0, 3), -1, np.int8), np.zeros(0)
    bounds = [(begin, min(n, begin + chunk)) for begin in range(0, n, chunk)]
    pairs = np.stack([np.asarray(rule_a, np.int64), np.asarray(rule_b, np.int64)], axis=1).ravel()  # A, B per dilemma
    rule_grams, rule_counts = _grams(*_chars_of(list(rules)))
    with ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
        parts = list(pool.map(lambda b: _chunk_roles(options[3 * b[0]:3 * b[1]], pairs[2 * b[0]:2 * b[1]],
                                                     rule_grams, rule_counts), bounds))
    roles = np.concatenate([r for r, _ in parts])
    return roles, _rounded(np.concatenate([c for _, c in parts]))


def _rounded(values: np.ndarray) -> np.ndarray:
    """``round(value, 4)`` of each value, exactly as Python rounds it.

    Scaled and rounded in numpy; only a value whose scaled form lies next to a half, where the
    scaling's rounding error could tip it, is rounded by Python (from the exact decimal).
    """
    scaled = values * 1e4  # below 1e10 its error is under 2e-6, far inside the margin of 1e-4 kept around a half
    rounded = np.rint(scaled) / 1e4  # the double nearest to the rounded decimal, as Python gives it back
    with np.errstate(invalid="ignore"):
        unsure = np.flatnonzero(~(np.abs(values) < 1e6) | (np.abs(scaled - np.floor(scaled) - 0.5) < 1e-4))
    if len(unsure):
        rounded[unsure] = [round(value, 4) for value in values[unsure].tolist()]
    return rounded


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


def roles_from_evidence(scenes: pa.Array, options: pa.Array, rules_a: tuple[list[str], list[list[str]]],
                        rules_b: tuple[list[str], list[list[str]]], corpus: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """The text evidence's roles of many items (:mod:`builders.stages.option_roles_columnar`), as
    :func:`recover_roles` gives roles (``-1`` where unknown) and confidences; ``rules_a``/``rules_b``: each
    item's rule text and derived values, ``corpus``: every scene and option text of the build (the IDF)."""
    if not len(scenes):
        return np.full((0, 3), -1, np.int8), np.zeros(0)
    idf = Idf([text or "" for text in corpus.to_pylist()])
    return assign_roles_many([s or "" for s in scenes.to_pylist()], [o or "" for o in options.to_pylist()],
                             rules_a[0], rules_b[0], rules_a[1], rules_b[1], idf)


def scene_mappings(scenes: list[str], options: list[list[tuple[str, str]]], rules_a: list[str], rules_b: list[str],
                   values_a: list[list[str]], values_b: list[list[str]], idf: Idf) -> list[OptionMapping]:
    """Each item's mapping: the rules' bigrams (options that repeat their rule), else the text's evidence
    (the same scorer as the dilemmas', all items together)."""
    if any(len(o) != 3 for o in options):
        raise ValueError("expected three options per item")
    roles, confidence = recover_roles([text for item in options for _, text in item], rules_a, rules_b)
    open_items = np.flatnonzero(roles[:, 0] < 0).tolist()
    if open_items:
        found, sure = assign_roles_many([scenes[i] for i in open_items],
                                        [text for i in open_items for _, text in options[i]],
                                        [rules_a[i] for i in open_items], [rules_b[i] for i in open_items],
                                        [values_a[i] for i in open_items], [values_b[i] for i in open_items], idf)
        roles[open_items], confidence = found, np.asarray(confidence, float)
        confidence[open_items] = sure
    out = []
    for item, (letters, row) in enumerate(zip(([letter for letter, _ in o] for o in options), roles.tolist(),
                                              strict=True)):
        if all(r < 0 for r in row):
            out.append(OptionMapping({letter: None for letter in letters}, "none", 0.0))
        else:
            out.append(OptionMapping({letter: ROLES[r] if r >= 0 else None for letter, r in zip(letters, row,
                                                                                                 strict=True)},
                                     "recovered", float(confidence[item])))
    return out
