"""Near-duplicate detection for short Chinese texts: character n-gram MinHash with LSH banding.

Upstream deduplicated only the English seed rules (FAISS on English embeddings); the
generated Chinese rules were never deduplicated (raw-formats §4.3). Exact dedup already
folds copies that differ in whitespace, width or punctuation; this finds the rest: a
swapped word, 的/地, an inserted particle.

Everything is vectorised with numpy: texts become code-point arrays, shingles are hashed
arithmetically (stable across processes and machines, unlike ``hash``), MinHash signatures
are segment minima, and LSH bands are grouped by sorting. Candidate pairs are confirmed by
the exact Jaccard similarity of their shingle sets, so the threshold is exact; LSH only
decides which pairs are looked at. Texts shorter than the shingle size are one shingle (the
whole text), so they can only match an identical short text.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from builders.normalizers.text import dedup_key

_MASK61 = np.uint64((1 << 61) - 1)


@dataclass(frozen=True)
class NearDupSettings:
    """The knobs, recorded in the build settings."""

    threshold: float = 0.7
    """Minimum Jaccard similarity of shingle sets for two texts to be near-duplicates."""
    shingle: int = 2
    """Characters per shingle (bigrams suit rules of 8–30 characters)."""
    num_perm: int = 64
    bands: int = 16
    """LSH bands of num_perm / bands rows: 16 × 4 makes a pair at the 0.7 threshold a candidate with p ≈ 0.99."""
    seed: int = 0


def _codepoints(texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    keys = [dedup_key(t) for t in texts]
    lengths = np.fromiter((len(k) for k in keys), dtype=np.int64, count=len(keys))
    flat = np.frombuffer("".join(keys).encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    return flat, lengths


def shingle_hashes(texts: list[str], size: int) -> tuple[np.ndarray, np.ndarray]:
    """Hash of every shingle and the index of the text it belongs to (stable, vectorised)."""
    flat, lengths = _codepoints(texts)
    starts = np.concatenate(([0], np.cumsum(lengths)[:-1])) if len(lengths) else np.zeros(0, np.int64)
    counts = np.where(lengths >= size, lengths - size + 1, np.minimum(lengths, 1))
    owner = np.repeat(np.arange(len(texts)), counts)
    offsets = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    positions = np.repeat(starts, counts) + offsets
    width = np.repeat(np.minimum(lengths, size), counts)
    hashes = np.full(len(positions), np.uint64(1469598103934665603), dtype=np.uint64)
    prime = np.uint64(1099511628211)
    with np.errstate(over="ignore"):
        for k in range(size):
            valid = k < width
            char = np.where(valid, flat[np.minimum(positions + k, max(len(flat) - 1, 0))], np.uint64(0))
            hashes = np.where(valid, (hashes ^ char) * prime, hashes)
    return hashes, owner


def signatures(hashes: np.ndarray, owner: np.ndarray, n_texts: int, settings: NearDupSettings) -> np.ndarray:
    """MinHash signature (``n_texts × num_perm``) from shingle hashes."""
    rng = np.random.default_rng(settings.seed)
    a = rng.integers(1, 1 << 61, size=settings.num_perm, dtype=np.uint64) | np.uint64(1)
    b = rng.integers(0, 1 << 61, size=settings.num_perm, dtype=np.uint64)
    sig = np.full((n_texts, settings.num_perm), np.iinfo(np.uint64).max, dtype=np.uint64)
    if len(hashes) == 0:
        return sig
    starts = np.searchsorted(owner, np.arange(n_texts))
    present = np.bincount(owner, minlength=n_texts) > 0
    with np.errstate(over="ignore"):
        for j in range(settings.num_perm):
            permuted = (a[j] * hashes + b[j]) & _MASK61
            sig[present, j] = np.minimum.reduceat(permuted, starts[present])
    return sig


def _band_keys(sig: np.ndarray, bands: int) -> np.ndarray:
    """One uint64 per (text, band): the band's MinHash values folded together."""
    rows = sig.shape[1] // bands
    keys = np.zeros((sig.shape[0], bands), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for r in range(rows):
            keys = (keys ^ sig[:, r::rows][:, :bands]) * np.uint64(0x100000001B3)
    return keys


def _candidate_pairs(sig: np.ndarray, bands: int, max_bucket: int = 64) -> set[tuple[int, int]]:
    """Pairs of texts that share a band; buckets larger than ``max_bucket`` are skipped (templates)."""
    keys = _band_keys(sig, bands)
    pairs: set[tuple[int, int]] = set()
    for band in range(bands):
        column = keys[:, band]
        order = np.argsort(column, kind="stable")
        ordered = column[order]
        starts = np.flatnonzero(np.concatenate(([True], ordered[1:] != ordered[:-1])))
        sizes = np.diff(np.concatenate((starts, [len(ordered)])))
        for start, size in zip(starts[(sizes > 1) & (sizes <= max_bucket)].tolist(),
                               sizes[(sizes > 1) & (sizes <= max_bucket)].tolist(), strict=True):
            members = sorted(order[start:start + size].tolist())
            pairs.update((x, y) for i, x in enumerate(members) for y in members[i + 1:])
    return pairs


def find_clusters(texts: list[str], settings: NearDupSettings | None = None) -> list[int]:
    """Cluster representative (index of the cluster's first text) for every text.

    A text with no near-duplicate is its own representative. The result depends only on
    the texts and their order, never on hashing randomness across runs.
    """
    settings = settings or NearDupSettings()
    n = len(texts)
    hashes, owner = shingle_hashes(texts, settings.shingle)
    sig = signatures(hashes, owner, n, settings)
    shingle_sets: list[set[int]] = [set() for _ in range(n)]
    for text_index, value in zip(owner.tolist(), hashes.tolist(), strict=True):
        shingle_sets[text_index].add(value)
    parent = list(range(n))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for x, y in sorted(_candidate_pairs(sig, settings.bands)):
        sx, sy = shingle_sets[x], shingle_sets[y]
        if sx and sy and len(sx & sy) / len(sx | sy) >= settings.threshold:
            rx, ry = root(x), root(y)
            if rx != ry:
                parent[max(rx, ry)] = min(rx, ry)
    return [root(i) for i in range(n)]
