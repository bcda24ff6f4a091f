"""Near-duplicate detection for short Chinese texts: character n-gram MinHash with LSH banding.

Upstream deduplicated only the English seed rules (FAISS on English embeddings); the
generated Chinese rules were never deduplicated (raw-formats §4.3). Exact dedup already
folds copies that differ in whitespace, width or punctuation; this finds the rest: a
swapped word, 的/地, an inserted particle.

How, and why this way:

- Texts are normalized with :func:`builders.stages.normalizers.text.dedup_key` first, so width,
  case and punctuation variants are identical before shingling.
- Shingles are character n-grams hashed with FNV-1a over code points, computed
  arithmetically in numpy: stable across processes and machines (Python's ``hash`` of a
  ``str`` is salted per process), and no Python call per shingle.
- A text shorter than the shingle size is **one shingle, the whole text**: it can only
  match an identical short text (after normalization), never a longer one. An empty text
  has no shingles and is always its own cluster.
- MinHash signatures are per-text minima of ``num_perm`` universal hashes of the shingle
  hashes, taken for all permutations at once over cache-sized blocks of texts with the same
  number of shingles (see :func:`builders.stages.minhash_lsh._signatures`); LSH puts two texts
  in the candidate set when all ``num_perm / bands`` rows of some band agree. Bands are
  grouped by sorting, so there is no Python dict of buckets. Buckets larger than
  ``max_bucket`` (thousands of texts on one template) are not expanded into all their pairs:
  each member is compared with its next ``max_bucket - 1`` neighbours in index order, which
  bounds the work.
- Every candidate pair is confirmed by the **exact** Jaccard similarity of the two
  shingle sets (vectorised too): LSH only decides which pairs are looked at, so the
  threshold means what it says and precision does not depend on the hashing luck.
  Candidates whose MinHash estimate is far below the threshold (4 standard errors) are
  dropped before the exact check: on template-heavy rules most candidates share only a
  context and a judgement, and checking them exactly would dominate the run time. The
  estimate is first bounded from above on one byte per signature row, so only the few
  pairs that might pass are compared on the full rows.
- Clusters are the connected components of the confirmed pairs; the representative is
  the member with the lowest ``rank`` (default: the lowest index), so the output depends
  only on the texts, their order and the settings: never on ``num_proc`` or the run.
- ``num_proc > 1`` computes shingles and signatures (the expensive part) over contiguous
  chunks of texts in as many threads; per-text results do not depend on the chunking.

The defaults (bigrams, Jaccard ≥ 0.7, 64 permutations in 16 bands of 4) suit rules of
8–30 characters: one substituted character in a 15-character rule leaves a bigram Jaccard
of about 0.75 but a trigram Jaccard of about 0.62, so trigrams at 0.8 would miss most
single-edit copies. A pair at Jaccard 0.7 becomes a candidate with probability
1 - (1 - 0.7⁴)¹⁶ ≈ 0.99; a pair at 0.3 with probability ≈ 0.12 (then rejected by the exact check).

Shingles, signatures and LSH candidates are computed in :mod:`builders.stages.minhash_lsh`; the
exact check and the clusters here; :mod:`builders.stages.near_dedup_background` finds the
clusters in a second process while the build goes on.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

from builders.stages.minhash_lsh import HASH_BITS, candidate_pairs, estimate_at_least, sketch

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


def jaccard(unique: np.ndarray, counts: np.ndarray, pairs: np.ndarray, block: int = 1 << 16) -> np.ndarray:
    """Exact Jaccard similarity of the shingle sets of each pair (vectorised, no Python loop per pair).

    ``unique`` holds each text's distinct shingle hashes (below ``2**HASH_BITS``), as
    :func:`builders.stages.minhash_lsh.sketch` gives them. Both sets of every pair of a block go
    into one array of (pair, hash) words; after one sort, a word equal to its neighbour is a
    shingle the pair shares.
    """
    if len(pairs) == 0:
        return np.zeros(0)
    if len(unique) and int(unique.max()) >> HASH_BITS:
        raise ValueError(f"shingle hashes must be below 2**{HASH_BITS}")
    block = min(block, 1 << (64 - HASH_BITS))
    starts = np.cumsum(counts) - counts
    x, y = pairs[:, 0], pairs[:, 1]
    cx, cy = counts[x], counts[y]
    inter = np.empty(len(pairs), dtype=np.int64)

    def words(texts: np.ndarray, sizes: np.ndarray) -> np.ndarray:  # (pair within the block, hash) words
        ragged = np.arange(sizes.sum()) - np.repeat(np.cumsum(sizes) - sizes, sizes)
        tags = np.repeat(np.arange(len(texts), dtype=np.uint64) << np.uint64(HASH_BITS), sizes)
        return unique[np.repeat(starts[texts], sizes) + ragged] | tags

    for lo in range(0, len(pairs), block):
        hi = min(lo + block, len(pairs))
        both = np.concatenate((words(x[lo:hi], cx[lo:hi]), words(y[lo:hi], cy[lo:hi])))
        both.sort()
        shared = both[1:][both[1:] == both[:-1]] >> np.uint64(HASH_BITS)  # each set is duplicate-free
        inter[lo:hi] = np.bincount(shared.astype(np.int64), minlength=hi - lo)
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
    unique, counts, sig = sketch(texts, shingle, num_perm, seed, num_proc)
    pairs = candidate_pairs(sig, bands, max_bucket, present=counts > 0)
    pairs = pairs[estimate_at_least(sig, pairs, threshold - _ESTIMATE_MARGIN * np.sqrt(0.25 / num_perm))]
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

