"""Candidate near-duplicate pairs of short texts: character n-gram shingles, MinHash signatures, LSH bands.

The first half of :mod:`builders.stages.near_dedup` (whose docstring explains the method and its
defaults): texts become sets of hashed shingles and MinHash signatures, texts that agree on a
band of signature rows become candidate pairs, and candidates whose MinHash estimate is far
below the threshold are dropped. The exact check and the clustering are in ``near_dedup``.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from builders.stages.normalizers.text import dedup_key

_MASK61 = np.uint64((1 << 61) - 1)
_FNV_OFFSET = np.uint64(1469598103934665603)
_FNV_PRIME = np.uint64(1099511628211)
HASH_BITS = 40
"""Shingle hashes are kept to 40 bits, so a (text, shingle) pair packs into one uint64 for sorting."""
_HASH_MASK = np.uint64((1 << HASH_BITS) - 1)
_SIGNATURE_BLOCK = 1 << 18
"""Hashed shingles (uint64) per block of :func:`_signatures`: 2 MiB, about what a core's cache holds."""
_FOLD_MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)
"""Odd multiplier whose product's top byte depends on every bit of a MinHash value (Fibonacci hashing)."""


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
    lengths = np.fromiter(map(len, keys), dtype=np.int64, count=len(keys))
    flat = np.frombuffer("".join(keys).encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    ends = np.cumsum(lengths)
    starts = ends - lengths
    with np.errstate(over="ignore"):
        by_width = [(_FNV_OFFSET ^ flat) * _FNV_PRIME]  # by_width[k][i]: hash of the (k+1)-gram at i
        for k in range(1, size):
            by_width.append((by_width[-1][:-1] ^ flat[k:]) * _FNV_PRIME)
    inside = np.ones(len(by_width[-1]), dtype=bool)
    for back in range(1, size):  # a window starting in the last size - 1 characters of a text crosses its end
        last = ends[lengths >= back] - back
        inside[last[last < len(inside)]] = False
    hashes = by_width[-1][inside]
    owner = np.repeat(np.arange(len(keys), dtype=np.int64), np.maximum(lengths - size + 1, 0))
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
    """MinHash signature (``n_texts × num_perm``); a text with no shingles keeps the all-max signature.

    Texts with the same number of shingles are taken together, a block at a time: the block's
    shingles as a ``count × texts`` matrix, hashed by every permutation at once
    (``count × texts × num_perm``, sized to stay in cache), and each text's minimum is an
    elementwise minimum over the ``count`` axis. A per-text ``minimum.reduceat`` over the flat
    shingles does the same arithmetic in many short segments and runs at half the speed.
    """
    sig = np.full((len(counts), len(a)), np.iinfo(np.uint64).max, dtype=np.uint64)
    if not len(counts):
        return sig
    starts = np.cumsum(counts) - counts
    by_count = np.argsort(counts, kind="stable")
    sizes = counts[by_count]
    groups = np.concatenate(([0], np.flatnonzero(sizes[1:] != sizes[:-1]) + 1, [len(sizes)]))
    block = max(1, _SIGNATURE_BLOCK // len(a)) if len(a) else 1
    buffer = np.empty(block * len(a), dtype=np.uint64)
    offsets = np.tile(b, block)  # adding a whole array is twice as fast as broadcasting b
    with np.errstate(over="ignore"):
        for lo, hi in zip(groups[:-1].tolist(), groups[1:].tolist(), strict=True):
            count = int(sizes[lo])
            if count == 0:
                continue
            width = max(1, block // count)
            for first in range(lo, hi, width):
                texts = by_count[first:min(first + width, hi)]
                shingles = unique[starts[texts][None, :] + np.arange(count)[:, None]]  # count × texts
                size = shingles.size * len(a)
                if size > len(buffer):  # a text with more than a block of shingles
                    buffer, offsets = np.empty(size, dtype=np.uint64), np.tile(b, shingles.size)
                hashed = buffer[:size].reshape(count, len(texts), len(a))
                np.multiply(shingles[:, :, None], a, out=hashed)
                np.add(hashed, offsets[:size].reshape(hashed.shape), out=hashed)
                np.bitwise_and(hashed, _MASK61, out=hashed)
                sig[texts] = np.minimum.reduce(hashed, axis=0)
    return sig


def _chunk(args: tuple[list[str], int, int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Shingles and signatures of one chunk of texts (one thread's share when ``num_proc > 1``)."""
    texts, shingle, num_perm, seed = args
    hashes, owner = shingle_hashes(texts, shingle)
    unique, counts = _unique_per_text(hashes, owner, len(texts))
    a, b = _permutations(num_perm, seed)
    return unique, counts, _signatures(unique, counts, a, b)


def sketch(texts: list[str], shingle: int, num_perm: int, seed: int,
            num_proc: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Shingles and signatures of all texts, over ``num_proc`` contiguous chunks in as many threads.

    Threads, not processes: the work is numpy calls that release the GIL, and a thread needs
    neither an interpreter of its own (imports) nor its results pickled back (the signatures).
    """
    if num_proc <= 1 or len(texts) < 2 * num_proc:
        return _chunk((texts, shingle, num_perm, seed))
    bounds = np.linspace(0, len(texts), num_proc + 1).astype(int).tolist()
    jobs = [(texts[lo:hi], shingle, num_perm, seed) for lo, hi in zip(bounds[:-1], bounds[1:], strict=True)]
    with ThreadPoolExecutor(num_proc - 1) as pool:
        others = [pool.submit(_chunk, job) for job in jobs[1:]]
        parts = [_chunk(jobs[0])] + [future.result() for future in others]
    return (np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]),
            np.concatenate([p[2] for p in parts]))


def _band_keys(sig: np.ndarray, bands: int) -> np.ndarray:
    """One uint64 per (text, band): the band's MinHash rows folded together (FNV-style)."""
    rows = sig.shape[1] // bands
    keys = np.full((sig.shape[0], bands), _FNV_OFFSET, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for r in range(rows):
            keys ^= sig[:, r * bands:(r + 1) * bands]
            keys *= _FNV_PRIME
    return keys


def _bucket_order(column: np.ndarray) -> np.ndarray:
    """``np.argsort(column, kind="stable")``, mostly by one plain sort of packed (key, position) words.

    The key's high bits and the position share a uint64, so the sort needs no stable
    argsort; the order is the stable one unless two keys agree in those high bits and come
    out of order, which is checked and then settled by the stable argsort.
    """
    bits = max(len(column) - 1, 1).bit_length()
    if bits > 32:
        return np.argsort(column, kind="stable")
    low = np.uint64((1 << bits) - 1)
    packed = (column & ~low) | np.arange(len(column), dtype=np.uint64)
    packed.sort()
    order = (packed & low).astype(np.int64)
    ordered = column[order]
    if (ordered[1:] < ordered[:-1]).any():
        return np.argsort(column, kind="stable")
    return order


def candidate_pairs(sig: np.ndarray, bands: int, max_bucket: int = 16,
                    present: np.ndarray | None = None) -> np.ndarray:
    """Sorted unique pairs ``(i, j)``, ``i < j``, of texts that share at least one LSH band (``P × 2``)."""
    n = sig.shape[0]
    if bands < 1 or sig.shape[1] % bands:
        raise ValueError(f"num_perm ({sig.shape[1]}) must be a multiple of bands ({bands})")
    index = np.arange(n, dtype=np.int64) if present is None else np.flatnonzero(present)
    keys = _band_keys(sig, bands)[index]
    codes = []
    for band in range(bands):
        column = np.ascontiguousarray(keys[:, band])
        order = _bucket_order(column)  # stable: members of a bucket stay in index order
        ordered = column[order]
        members = index[order]
        same = np.append(ordered[1:] == ordered[:-1], False)  # same[i]: i and i + 1 share the bucket
        at = np.flatnonzero(same)
        for d in range(1, max(max_bucket, 2)):  # at: the i whose bucket also holds i + d
            if d > 1:
                at = at[same[at + d - 1]]
            if not len(at):
                break
            codes.append(members[at] * n + members[at + d])
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


def estimate_at_least(sig: np.ndarray, pairs: np.ndarray, cutoff: float, block: int = 1 << 16) -> np.ndarray:
    """``estimated_jaccard(sig, pairs) >= cutoff``, an eighth of the memory traffic for most pairs.

    Each signature row is first folded to one byte: equal rows give equal bytes, so the share of
    equal bytes is at least the share of equal rows, and a pair below the cutoff on bytes is
    below it on rows. Only the pairs that pass on bytes (a few percent) are compared on rows.
    """
    width = sig.shape[1]
    with np.errstate(over="ignore"):
        folded = ((sig * _FOLD_MULTIPLIER) >> np.uint64(56)).astype(np.uint8)
    rows = folded.view(np.dtype((np.void, width))).ravel()  # one item per text: gathers whole rows at once
    maybe = np.empty(len(pairs), dtype=bool)
    for lo in range(0, len(pairs), block):
        x, y = np.take(rows, pairs[lo:lo + block, 0]), np.take(rows, pairs[lo:lo + block, 1])
        equal = x.view(np.uint8).reshape(-1, width) == y.view(np.uint8).reshape(-1, width)
        maybe[lo:lo + block] = equal.sum(axis=1, dtype=np.int32) / width >= cutoff
    keep = np.zeros(len(pairs), dtype=bool)
    check = np.flatnonzero(maybe)
    keep[check] = estimated_jaccard(sig, pairs[check], block) >= cutoff
    return keep

