"""Near-duplicate detection against a straightforward one in plain Python (sets, dicts, one loop
per shingle, permutation and pair): random small inputs, including empty, whitespace-only and
short texts and odd Unicode, must give the same pairs, similarities and clusters for every
setting, and the vectorised stages must agree with the plain definitions they replace."""

import random

import numpy as np
import pytest

from builders.stages import minhash_lsh, near_dedup
from builders.stages.near_dedup import find_clusters, near_duplicate_pairs
from builders.stages.normalizers.text import dedup_key

_M64 = (1 << 64) - 1
_M61 = (1 << 61) - 1
_OFFSET, _PRIME = 1469598103934665603, 1099511628211


def _fnv(values) -> int:
    h = _OFFSET
    for v in values:
        h = ((h ^ v) * _PRIME) & _M64
    return h


def _shingles(text: str, size: int) -> set[int]:
    key = dedup_key(text)
    if not key:
        return set()
    grams = [key] if len(key) < size else [key[i:i + size] for i in range(len(key) - size + 1)]
    return {_fnv(map(ord, g)) & ((1 << minhash_lsh.HASH_BITS) - 1) for g in grams}


def _reference_pairs(texts, *, threshold=0.7, shingle=2, num_perm=64, bands=16, seed=0, max_bucket=16):
    sets = [_shingles(t, shingle) for t in texts]
    a, b = (v.tolist() for v in minhash_lsh._permutations(num_perm, seed))
    sig = [[min(((aj * h + bj) & _M64) & _M61 for h in s) if s else _M64 for aj, bj in zip(a, b, strict=True)]
           for s in sets]
    rows = num_perm // bands
    candidates = set()
    for band in range(bands):
        buckets: dict[int, list[int]] = {}
        for i, s in enumerate(sets):
            if s:
                buckets.setdefault(_fnv(sig[i][r * bands + band] for r in range(rows)), []).append(i)
        for members in buckets.values():
            for d in range(1, max(max_bucket, 2)):
                candidates |= {(members[k], members[k + d]) for k in range(len(members) - d)}
    cutoff = threshold - near_dedup._ESTIMATE_MARGIN * np.sqrt(0.25 / num_perm)
    found = []
    for i, j in sorted(candidates):
        if sum(x == y for x, y in zip(sig[i], sig[j], strict=True)) / num_perm >= cutoff:
            similarity = len(sets[i] & sets[j]) / len(sets[i] | sets[j])
            if similarity >= threshold:
                found.append((i, j, similarity))
    return found


def _reference_clusters(n, pairs, rank):
    rank = list(range(n)) if rank is None else rank
    parent = list(range(n))

    def root(i):
        while parent[i] != i:
            i = parent[i]
        return i

    for i, j, _ in pairs:
        ri, rj = root(i), root(j)
        if ri != rj:
            parent[max(ri, rj, key=lambda k: (rank[k], k))] = min(ri, rj, key=lambda k: (rank[k], k))
    return [root(i) for i in range(n)]


_ALPHABET = ("的地得是不应该人们社会公共场合文明行为责任义务帮助尊重他人" "，。！？,.!? 　"
             "ＡＢａｂAbcß\u0130\u00a0\u200b\ufeff😀𠀀e\u0301\u3000\t\n")


def _random_texts(rng: random.Random, count: int) -> list[str]:
    texts: list[str] = []
    for _ in range(count):
        roll = rng.random()
        if texts and roll < 0.45:  # an edited copy of an earlier text
            text = list(rng.choice(texts))
            for _ in range(rng.randint(1, 2)):
                at = rng.randint(0, len(text))
                if text and rng.random() < 0.5:
                    text[min(at, len(text) - 1)] = rng.choice(_ALPHABET)
                else:
                    text.insert(at, rng.choice(_ALPHABET))
            texts.append("".join(text))
        elif roll < 0.55:
            texts.append(rng.choice(["", " ", "　", "\u200b", "的", "。", "好人", "😀"]))
        else:
            texts.append("".join(rng.choice(_ALPHABET) for _ in range(rng.randint(1, 24))))
    return texts


SETTINGS = [
    {},
    {"threshold": 0.5, "shingle": 1},
    {"threshold": 0.4, "shingle": 3, "num_perm": 16, "bands": 8, "max_bucket": 2},
    {"threshold": 1.0, "num_perm": 8, "bands": 8, "max_bucket": 1, "seed": 7},
    {"threshold": 0.3, "num_perm": 24, "bands": 6, "max_bucket": 4, "seed": 3},
]


@pytest.mark.parametrize("settings", SETTINGS)
@pytest.mark.parametrize("seed", range(6))
def test_pairs_and_clusters_match_the_plain_definition(settings, seed):
    rng = random.Random(seed)
    texts = _random_texts(rng, rng.randint(0, 120))
    expected = _reference_pairs(texts, **settings)
    pairs, similarity = near_duplicate_pairs(texts, **settings)
    assert [[i, j] for i, j, _ in expected] == pairs.tolist()
    assert [s for _, _, s in expected] == similarity.tolist()
    rank = [rng.randint(0, 3) for _ in texts]
    assert find_clusters(texts, rank=rank, **settings) == _reference_clusters(len(texts), expected, rank)
    assert find_clusters(texts, **settings) == _reference_clusters(len(texts), expected, None)


def test_a_text_longer_than_a_signature_block():
    rng = random.Random(1)
    chars = [chr(0x4E00 + i) for i in range(3000)]
    long = "".join(rng.choice(chars) for _ in range(minhash_lsh._SIGNATURE_BLOCK // 64 + 500))
    texts = [long, long[:-3] + "的的的", "在公共场合大声喧哗是不文明的", long[5:]]
    unique, counts, sig = minhash_lsh.sketch(texts, 2, 64, 0, 1)
    a, b = (v.tolist() for v in minhash_lsh._permutations(64, 0))
    for i, text in enumerate(texts):
        s = _shingles(text, 2)
        assert counts[i] == len(s) and sorted(s) == unique[counts[:i].sum():counts[:i + 1].sum()].tolist()
        assert sig[i].tolist() == [min(((aj * h + bj) & _M64) & _M61 for h in s) for aj, bj in zip(a, b, strict=True)]
    assert near_duplicate_pairs(texts)[0].tolist() == [[i, j] for i, j, _ in _reference_pairs(texts)]


@pytest.mark.parametrize("seed", range(4))
def test_bucket_order_is_the_stable_argsort(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 5000))
    bits = max(n - 1, 1).bit_length()
    high = rng.integers(0, 4, n, dtype=np.uint64) << np.uint64(63 - 2)  # few high-bit classes ...
    low = rng.integers(0, 1 << bits, n, dtype=np.uint64) if seed % 2 else np.zeros(n, dtype=np.uint64)
    column = high | low  # ... and, on odd seeds, low bits that the packed sort cannot see
    assert minhash_lsh._bucket_order(column).tolist() == np.argsort(column, kind="stable").tolist()


@pytest.mark.parametrize("seed", range(4))
def test_estimate_filter_is_the_estimate_compared_with_the_cutoff(seed):
    rng = np.random.default_rng(seed)
    num_perm = [64, 16, 24, 8][seed]
    pool = rng.integers(0, 1 << 63, 4096, dtype=np.uint64)
    with np.errstate(over="ignore"):
        folds = (pool * minhash_lsh._FOLD_MULTIPLIER) >> np.uint64(56)
    aliases = pool[folds == np.bincount(folds.astype(np.int64)).argmax()][:4]  # distinct rows, one byte
    sig = aliases[rng.integers(0, len(aliases), (300, num_perm))]
    sig[:, ::3] = rng.integers(0, 3, (300, len(sig[0, ::3])), dtype=np.uint64)
    pairs = np.unique(np.sort(rng.integers(0, 300, (5000, 2)), axis=1), axis=0)
    pairs = pairs[pairs[:, 0] < pairs[:, 1]]
    for cutoff in (0.0, 0.2, 0.45, 0.7, 1.0):
        expected = minhash_lsh.estimated_jaccard(sig, pairs) >= cutoff
        assert minhash_lsh.estimate_at_least(sig, pairs, cutoff, block=97).tolist() == expected.tolist()
