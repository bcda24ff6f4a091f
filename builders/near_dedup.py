"""Near-duplicate detection for short Chinese texts: character n-gram MinHash with LSH banding.

Upstream deduplicated only the English seed rules (FAISS on English embeddings); the
generated Chinese rules were never deduplicated (raw-formats §4.3). Exact dedup already
folds copies that differ in whitespace, width or punctuation; this finds the rest: a
swapped word, 的/地, an inserted particle.

How, and why this way:

- Texts are normalized with :func:`builders.normalizers.text.dedup_key` first, so width,
  case and punctuation variants are identical before shingling.
- Shingles are character n-grams hashed with FNV-1a over code points, computed
  arithmetically in numpy: stable across processes and machines (Python's ``hash`` of a
  ``str`` is salted per process), and no Python call per shingle.
- A text shorter than the shingle size is **one shingle, the whole text**: it can only
  match an identical short text (after normalization), never a longer one. An empty text
  has no shingles and is always its own cluster.
- MinHash signatures are per-text minima of ``num_perm`` universal hashes of the shingle
  hashes (``np.minimum.reduceat``); LSH puts two texts in the candidate set when all
  ``num_perm / bands`` rows of some band agree. Bands are grouped by sorting, so there is
  no Python dict of buckets. Buckets larger than ``max_bucket`` (thousands of texts on one
  template) are not expanded into all their pairs: each member is compared with its next
  ``max_bucket - 1`` neighbours in index order, which bounds the work.
- Every candidate pair is confirmed by the **exact** Jaccard similarity of the two
  shingle sets (vectorised too): LSH only decides which pairs are looked at, so the
  threshold means what it says and precision does not depend on the hashing luck.
  Candidates whose MinHash estimate is far below the threshold (4 standard errors) are
  dropped before the exact check: on template-heavy rules most candidates share only a
  context and a judgement, and checking them exactly would dominate the run time.
- Clusters are the connected components of the confirmed pairs; the representative is
  the member with the lowest ``rank`` (default: the lowest index), so the output depends
  only on the texts, their order and the settings: never on ``num_proc`` or the run.
- ``num_proc > 1`` computes shingles and signatures (the expensive part) over contiguous
  chunks of texts in worker processes; per-text results do not depend on the chunking.

The defaults (bigrams, Jaccard ≥ 0.7, 64 permutations in 16 bands of 4) suit rules of
8–30 characters: one substituted character in a 15-character rule leaves a bigram Jaccard
of about 0.75 but a trigram Jaccard of about 0.62, so trigrams at 0.8 would miss most
single-edit copies. A pair at Jaccard 0.7 becomes a candidate with probability
1 - (1 - 0.7⁴)¹⁶ ≈ 0.99; a pair at 0.3 with probability ≈ 0.12 (then rejected by the exact check).
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass

import numpy as np

from builders.normalizers.text import dedup_key

_MASK61 = np.uint64((1 << 61) - 1)
_FNV_OFFSET = np.uint64(1469598103934665603)
_FNV_PRIME = np.uint64(1099511628211)
HASH_BITS = 40
"""Shingle hashes are kept to 40 bits, so a (text, shingle) pair packs into one uint64 for sorting."""
_HASH_MASK = np.uint64((1 << HASH_BITS) - 1)
_ESTIMATE_MARGIN = 4.0
"""Candidates whose MinHash estimate is this many worst-case standard errors (sqrt(0.25 / num_perm)) below
the threshold skip the exact check: with 64 permutations a pair at the threshold is dropped with p < 1e-4."""


NEAR_DUP_MODES = ("off", "mark", "fold")
"""What a build does with near-duplicate rules: nothing; record the cluster in ``cluster_id``; fold
every member into the cluster's representative (as exact duplicates are)."""


@dataclass(frozen=True)
class NearDupSettings:
    """How a build finds near-duplicate rules, recorded in the build settings."""

    mode: str = "mark"
    """One of :data:`NEAR_DUP_MODES`. ``mark`` by default: a small edit can flip a rule's meaning (应该 / 不应该),
    so removing rows is a maintainer's explicit choice."""
    threshold: float = 0.7
    """Minimum Jaccard similarity of shingle sets for two texts to be near-duplicates."""
    shingle: int = 2
    """Characters per shingle (bigrams suit rules of 8–30 characters; see the module docstring)."""
    num_perm: int = 64
    bands: int = 16
    """LSH bands of num_perm / bands rows: 16 × 4 makes a pair at the 0.7 threshold a candidate with p ≈ 0.99."""
    seed: int = 0
    max_bucket: int = 16
    """Buckets up to this size are expanded into all pairs; larger ones into neighbours within this window."""

    def __post_init__(self) -> None:
        if self.mode not in NEAR_DUP_MODES:
            raise ValueError(f"near-duplicate mode {self.mode!r}: use one of {', '.join(NEAR_DUP_MODES)}")
        if not 0 < self.threshold <= 1:
            raise ValueError(f"near-duplicate threshold {self.threshold}: use a Jaccard similarity in (0, 1]")

    def kwargs(self) -> dict:
        """The settings as keyword arguments of :func:`find_clusters`."""
        return {k: v for k, v in asdict(self).items() if k != "mode"}


def _sorted_unique(values: np.ndarray) -> np.ndarray:
    """``np.unique`` by an in-place sort and a neighbour comparison (several times faster on large int arrays)."""
    values = np.sort(values)
    keep = np.ones(len(values), dtype=bool)
    keep[1:] = values[1:] != values[:-1]
    return values[keep]


def shingle_hashes(texts: Sequence[str], size: int) -> tuple[np.ndarray, np.ndarray]:
    """Hash of every shingle (uint64 below ``2**HASH_BITS``, stable) and the index of its text, in text order.

    Texts are normalized with ``dedup_key``; a text shorter than ``size`` yields one shingle
    (the whole text), an empty text none. The FNV-1a hash of the ``k``-gram at every
    position of the concatenated texts is computed from the ``k - 1``-gram's, so the cost
    is ``size`` passes over the characters; windows that cross a text boundary are dropped.
    """
    if size < 1:
        raise ValueError(f"shingle size must be >= 1, got {size}")
    keys = [dedup_key(t) for t in texts]
    lengths = np.fromiter((len(k) for k in keys), dtype=np.int64, count=len(keys))
    flat = np.frombuffer("".join(keys).encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    starts = np.cumsum(lengths) - lengths
    with np.errstate(over="ignore"):
        by_width = [(_FNV_OFFSET ^ flat) * _FNV_PRIME]  # by_width[k][i]: hash of the (k+1)-gram at i
        for k in range(1, size):
            by_width.append((by_width[-1][:-1] ^ flat[k:]) * _FNV_PRIME)
    windows = len(by_width[-1])
    text_of = np.repeat(np.arange(len(keys), dtype=np.int64), lengths)[:windows]
    inside = np.arange(windows) - starts[text_of] <= (lengths - size)[text_of]
    hashes, owner = by_width[-1][inside], text_of[inside]
    short = np.flatnonzero((lengths > 0) & (lengths < size))
    if len(short):
        whole = np.array([by_width[lengths[i] - 1][starts[i]] for i in short], dtype=np.uint64)
        order = np.argsort(np.concatenate((owner, short)), kind="stable")
        hashes, owner = np.concatenate((hashes, whole))[order], np.concatenate((owner, short))[order]
    return hashes & _HASH_MASK, owner


def _unique_per_text(hashes: np.ndarray, owner: np.ndarray, n_texts: int) -> tuple[np.ndarray, np.ndarray]:
    """Each text's distinct shingle hashes, sorted, flattened in text order, and how many each text has."""
    if n_texts <= 1 << (64 - HASH_BITS):  # (text, hash) packed in one uint64: one sort instead of a lexsort
        packed = _sorted_unique((owner.astype(np.uint64) << np.uint64(HASH_BITS)) | hashes)
        h, o = packed & _HASH_MASK, (packed >> np.uint64(HASH_BITS)).astype(np.int64)
    else:
        order = np.lexsort((hashes, owner))
        h, o = hashes[order], owner[order]
        keep = np.ones(len(h), dtype=bool)
        keep[1:] = (h[1:] != h[:-1]) | (o[1:] != o[:-1])
        h, o = h[keep], o[keep]
    return h, np.bincount(o, minlength=n_texts).astype(np.int64)


def _permutations(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    a = rng.integers(1, 1 << 61, size=num_perm, dtype=np.uint64) | np.uint64(1)
    b = rng.integers(0, 1 << 61, size=num_perm, dtype=np.uint64)
    return a, b


def _signatures(unique: np.ndarray, counts: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """MinHash signature (``n_texts × num_perm``); a text with no shingles keeps the all-max signature."""
    sig = np.full((len(counts), len(a)), np.iinfo(np.uint64).max, dtype=np.uint64)
    present = np.flatnonzero(counts > 0)
    if not len(present):
        return sig
    starts = (np.cumsum(counts) - counts)[present]
    rows = np.empty((len(a), len(present)), dtype=np.uint64)
    hashed = np.empty_like(unique)  # one buffer reused for every permutation
    with np.errstate(over="ignore"):
        for j in range(len(a)):
            np.multiply(unique, a[j], out=hashed)
            np.add(hashed, b[j], out=hashed)
            np.bitwise_and(hashed, _MASK61, out=hashed)
            np.minimum.reduceat(hashed, starts, out=rows[j])
    sig[present] = rows.T
    return sig


def _chunk(args: tuple[list[str], int, int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Shingles and signatures of one chunk of texts (run in a worker when ``num_proc > 1``)."""
    texts, shingle, num_perm, seed = args
    hashes, owner = shingle_hashes(texts, shingle)
    unique, counts = _unique_per_text(hashes, owner, len(texts))
    a, b = _permutations(num_perm, seed)
    return unique, counts, _signatures(unique, counts, a, b)


def _sketch(texts: list[str], shingle: int, num_perm: int, seed: int,
            num_proc: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if num_proc <= 1 or len(texts) < 2 * num_proc:
        return _chunk((texts, shingle, num_perm, seed))
    bounds = np.linspace(0, len(texts), num_proc + 1).astype(int)
    jobs = [(texts[lo:hi], shingle, num_perm, seed) for lo, hi in zip(bounds[:-1], bounds[1:], strict=True)]
    with ProcessPoolExecutor(num_proc, mp_context=multiprocessing.get_context("spawn")) as pool:
        parts = list(pool.map(_chunk, jobs))
    return (np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]),
            np.concatenate([p[2] for p in parts]))


def _band_keys(sig: np.ndarray, bands: int) -> np.ndarray:
    """One uint64 per (text, band): the band's MinHash rows folded together (FNV-style)."""
    rows = sig.shape[1] // bands
    keys = np.full((sig.shape[0], bands), _FNV_OFFSET, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for r in range(rows):
            keys = (keys ^ sig[:, r * bands:(r + 1) * bands]) * _FNV_PRIME
    return keys


def candidate_pairs(sig: np.ndarray, bands: int, max_bucket: int = 16,
                    present: np.ndarray | None = None) -> np.ndarray:
    """Sorted unique pairs ``(i, j)``, ``i < j``, of texts that share at least one LSH band (``P × 2``)."""
    n = sig.shape[0]
    if bands < 1 or sig.shape[1] % bands:
        raise ValueError(f"num_perm ({sig.shape[1]}) must be a multiple of bands ({bands})")
    index = np.arange(n, dtype=np.int64) if present is None else np.flatnonzero(present)
    keys = _band_keys(sig[index], bands)
    codes = []
    for band in range(bands):
        column = keys[:, band]
        order = np.argsort(column, kind="stable")  # stable: members of a bucket stay in index order
        ordered = column[order]
        members = index[order]
        for d in range(1, max(max_bucket, 2)):
            same = ordered[:-d] == ordered[d:]
            if not same.any():
                break
            codes.append(members[:-d][same] * n + members[d:][same])
    if not codes:
        return np.zeros((0, 2), dtype=np.int64)
    unique = _sorted_unique(np.concatenate(codes))
    return np.stack((unique // n, unique % n), axis=1)


def estimated_jaccard(sig: np.ndarray, pairs: np.ndarray, block: int = 1 << 16) -> np.ndarray:
    """MinHash estimate of each pair's Jaccard similarity: the share of equal signature rows."""
    out = np.empty(len(pairs))
    for lo in range(0, len(pairs), block):
        x, y = pairs[lo:lo + block, 0], pairs[lo:lo + block, 1]
        out[lo:lo + block] = (sig[x] == sig[y]).mean(axis=1)
    return out


def jaccard(unique: np.ndarray, counts: np.ndarray, pairs: np.ndarray) -> np.ndarray:
    """Exact Jaccard similarity of the shingle sets of each pair (vectorised, no Python loop per pair)."""
    if len(pairs) == 0:
        return np.zeros(0)
    starts = np.cumsum(counts) - counts
    x, y = pairs[:, 0], pairs[:, 1]
    cx, cy = counts[x], counts[y]
    pair_of = np.concatenate((np.repeat(np.arange(len(pairs)), cx), np.repeat(np.arange(len(pairs)), cy)))

    def gather(texts: np.ndarray, sizes: np.ndarray) -> np.ndarray:
        ragged = np.arange(sizes.sum()) - np.repeat(np.cumsum(sizes) - sizes, sizes)
        return unique[np.repeat(starts[texts], sizes) + ragged]

    values = np.concatenate((gather(x, cx), gather(y, cy)))
    order = np.lexsort((values, pair_of))
    v, p = values[order], pair_of[order]
    common = (v[1:] == v[:-1]) & (p[1:] == p[:-1])  # each set is duplicate-free, so a repeat is a shared shingle
    inter = np.bincount(p[1:][common], minlength=len(pairs))
    union = cx + cy - inter
    return np.where(union > 0, inter / np.maximum(union, 1), 0.0)


def _components(n: int, pairs: np.ndarray, rank: Sequence[int] | None) -> np.ndarray:
    """Representative (lowest rank, then lowest index) of each text's connected component."""
    order = np.arange(n) if rank is None else np.lexsort((np.arange(n), np.asarray(rank)))
    if len(pairs) == 0:
        return np.arange(n)
    position = np.empty(n, dtype=np.int64)
    position[order] = np.arange(n)
    x, y = position[pairs[:, 0]], position[pairs[:, 1]]
    parent = np.arange(n)
    while True:  # hook roots onto the smaller root, then jump pointers until every node points at a root
        px, py = parent[x], parent[y]
        if (px == py).all():
            break
        low = np.minimum(px, py)
        np.minimum.at(parent, px, low)
        np.minimum.at(parent, py, low)
        while True:
            jumped = parent[parent]
            if (jumped == parent).all():
                break
            parent = jumped
    return order[parent[position]]


def near_duplicate_pairs(
    texts: Sequence[str], *, threshold: float = 0.7, shingle: int = 2, num_perm: int = 64, bands: int = 16,
    seed: int = 0, max_bucket: int = 16, num_proc: int = 1,
) -> tuple[np.ndarray, np.ndarray]:
    """Confirmed near-duplicate pairs ``(i, j)``, ``i < j``, and their Jaccard similarity, sorted by pair.

    Same keywords as :func:`find_clusters`; useful to audit what was folded and why.
    """
    texts = list(texts)
    unique, counts, sig = _sketch(texts, shingle, num_perm, seed, num_proc)
    pairs = candidate_pairs(sig, bands, max_bucket, present=counts > 0)
    pairs = pairs[estimated_jaccard(sig, pairs) >= threshold - _ESTIMATE_MARGIN * np.sqrt(0.25 / num_perm)]
    similarity = jaccard(unique, counts, pairs)
    keep = similarity >= threshold
    return pairs[keep], similarity[keep]


def find_clusters(
    texts: Sequence[str], *, threshold: float = 0.7, shingle: int = 2, num_perm: int = 64, bands: int = 16,
    seed: int = 0, max_bucket: int = 16, num_proc: int = 1, rank: Sequence[int] | None = None,
) -> list[int]:
    """The cluster of every text, as the index of its cluster's representative.

    A text with no near-duplicate is its own representative. The representative of a
    cluster is its member with the lowest ``rank`` (ties and the default: lowest index), so
    a caller can make the most curated copy win. Near-duplication is transitive here
    (connected components): a chain of small edits ends in one cluster. Output is identical
    for any ``num_proc`` and across runs and machines.
    """
    if rank is not None and len(rank) != len(texts):
        raise ValueError(f"rank has {len(rank)} entries for {len(texts)} texts")
    pairs, _ = near_duplicate_pairs(texts, threshold=threshold, shingle=shingle, num_perm=num_perm, bands=bands,
                                    seed=seed, max_bucket=max_bucket, num_proc=num_proc)
    return _components(len(texts), pairs, rank).tolist()


class BackgroundClusters:
    """:func:`find_clusters` in a worker process, so the build goes on while it runs (same result).

    For a second core that would otherwise sit idle: the caller only waits when it asks for
    the :meth:`result`. If the worker dies (out of memory, say), the clusters are found in
    this process instead.
    """

    def __init__(self, texts: Sequence[str], **kwargs) -> None:
        self._texts, self._kwargs = list(texts), kwargs
        pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))
        self._future = pool.submit(find_clusters, self._texts, **kwargs)
        pool.shutdown(wait=False)

    def result(self) -> list[int]:
        try:
            return self._future.result()
        except Exception:  # noqa: BLE001 - a real error in find_clusters is raised again here
            return find_clusters(self._texts, **self._kwargs)
