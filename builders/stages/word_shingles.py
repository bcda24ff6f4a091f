"""Word shingles for near-duplicate detection of English texts, on the character-shingle machinery.

:func:`builders.stages.near_dedup.find_clusters` shingles texts by characters, which suits
Chinese rules of 8–30 characters. English rules differ by words (``your parents`` /
``your teachers``), so each distinct word is written as one code point and the same
MinHash, LSH and exact-Jaccard steps then see word n-grams: ``shingle=2`` means word bigrams.

The code points are private-use characters (planes 15 and 16): no normalization, case fold or
punctuation rule of :func:`~builders.stages.normalizers.text.dedup_key` touches them, so the
encoded text reaches the shingling unchanged.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

_WORD = re.compile(r"[0-9a-z]+(?:'[0-9a-z]+)*")
"""A word: letters and digits, with inner apostrophes (``don't``, ``children's``); case folded first."""
_PRIVATE_USE = (range(0xF0000, 0xFFFFE), range(0x100000, 0x10FFFE))
_CODE_POINTS = sum(len(r) for r in _PRIVATE_USE)


def words(text: str) -> list[str]:
    """The words of an English text, case folded, punctuation dropped."""
    return _WORD.findall(text.casefold())


def _code_point(number: int) -> str:
    """The ``number``-th private-use code point; past the 131,068 of them, numbers wrap (two rare
    words then count as one, which can only raise a similarity a little)."""
    number %= _CODE_POINTS
    first = len(_PRIVATE_USE[0])
    return chr(_PRIVATE_USE[0][number] if number < first else _PRIVATE_USE[1][number - first])


def word_texts(texts: Sequence[str]) -> list[str]:
    """Each text as one character per word: the distinct words numbered in order of first appearance,
    so the encoding depends only on the texts and their order."""
    numbers: dict[str, int] = {}
    encoded = []
    for text in texts:
        encoded.append("".join(_code_point(numbers.setdefault(w, len(numbers))) for w in words(text)))
    return encoded
