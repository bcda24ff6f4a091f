"""Text cleanup for published rules and the keys used to find duplicates.

Published text keeps Chinese punctuation but loses stray whitespace and full-width ASCII
(``ＡＩ`` → ``AI``). The dedup key goes further: no whitespace, one form per punctuation
mark, no case, no trailing full stop, so copies that differ only in those ways collide.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

_FULLWIDTH_ASCII = {code: code - 0xFEE0 for code in range(0xFF10, 0xFF1A)}
_FULLWIDTH_ASCII |= {code: code - 0xFEE0 for code in range(0xFF21, 0xFF3B)}
_FULLWIDTH_ASCII |= {code: code - 0xFEE0 for code in range(0xFF41, 0xFF5B)}
_FULLWIDTH_ASCII |= {0x3000: 0x20, 0x200B: None, 0xFEFF: None, 0x00A0: 0x20}
_NEEDS_HALVING = re.compile("[\uff10-\uff19\uff21-\uff3a\uff41-\uff5a\u3000\u200b\ufeff\u00a0]")

_KEY_PUNCTUATION = str.maketrans({
    ",": "，", ";": "；", ":": "：", "!": "！", "?": "？", "(": "（", ")": "）",
    "“": '"', "”": '"', "‘": "'", "’": "'", "「": '"', "」": '"', " ": None,
})
_KEY_REPLACEMENTS = tuple((chr(code), mapped or "") for code, mapped in _KEY_PUNCTUATION.items())
"""``_KEY_PUNCTUATION`` as replacements: ``str.replace`` of the few marks present is 4× faster than
``str.translate`` with a dict, and gives the same text (no replacement is itself replaced)."""
_KEY_TRAILING = "。．.！!"
_NEEDS_KEY_MAPPING = re.compile("[,;:!?() “”‘’「」]")


def clean_text(text: str | None) -> str:
    """Whitespace collapsed and trimmed; full-width letters, digits and spaces made half-width."""
    if text is None:
        return ""
    text = str(text)
    if _NEEDS_HALVING.search(text):
        text = text.translate(_FULLWIDTH_ASCII)
    cleaned = " ".join(text.split())
    return text if cleaned == text else cleaned  # one string, not two equal ones, per clean rule


def dedup_key(text: str) -> str:
    """The key under which two rule texts count as the same rule."""
    return clean_key(clean_text(text))


def clean_key(cleaned: str) -> str:
    """:func:`dedup_key` of a text that already went through :func:`clean_text`."""
    key = cleaned.casefold()
    if _NEEDS_KEY_MAPPING.search(key):
        for mark, mapped in _KEY_REPLACEMENTS:
            if mark in key:
                key = key.replace(mark, mapped)
    key = key.rstrip(_KEY_TRAILING)
    return cleaned if key == cleaned else key


_CJK = re.compile("[\u3400-\u4dbf\u4e00-\u9fff]")


def has_cjk(text: str) -> bool:
    """True when the text contains Chinese characters (tells a zh rule from an en one)."""
    return _CJK.search(text) is not None


# Column-wise forms of the functions above, for tables of a quarter of a million rows. Each
# finds with one Arrow scan the rows the function could change and calls it on those only,
# so the result is the function's, row for row.

def re2_char_class(chars: str) -> str:
    """A character class of exactly these characters, in Arrow's (RE2) regex syntax."""
    return "[" + "".join(f"\\x{{{ord(c):x}}}" for c in chars) + "]"


WHITESPACE = "".join(c for c in map(chr, range(0x3001)) if c.isspace())
"""What ``str.split()`` splits on, and what ``\\s`` matches in a Python pattern (the last of them is
U+3000; Arrow's RE2 ``\\s`` is ASCII only)."""
_NEEDS_CLEANING = "^ | $|  |" + re2_char_class(
    WHITESPACE.replace(" ", "") + "".join(map(chr, _FULLWIDTH_ASCII)))
"""A text :func:`clean_text` changes: a space at an end, two spaces, other whitespace, or a
full-width character it halves."""
_KEY_SAFE_CHARS = ("\\x{20}-\\x{7e}\\x{3400}-\\x{4dbf}\\x{4e00}-\\x{9fff}\\x{3001}-\\x{303f}"
                   "\\x{2010}-\\x{2027}\\x{2030}-\\x{205e}\\x{ff01}-\\x{ff0f}\\x{ff1a}-\\x{ff20}"
                   "\\x{ff3b}-\\x{ff40}\\x{ff5b}-\\x{ff65}")
_KEY_SAFE = f"^[{_KEY_SAFE_CHARS}]*$"
"""Texts whose only cased letters are ASCII (so ``casefold`` is ``lower``): their key is
computed by Arrow; any other text's by :func:`clean_key`."""
_KEY_PLAIN = f"{_NEEDS_KEY_MAPPING.pattern}|[^{_KEY_SAFE_CHARS}]"
"""A text whose key is not simply its lower case without the trailing stop: it has a mark to
map, or is not :data:`_KEY_SAFE`."""


def string_cells(array: pa.Array | pa.ChunkedArray) -> pa.Array:
    """The cells as one string array, null as ``""`` (copied only where that changes something)."""
    array = array.combine_chunks() if isinstance(array, pa.ChunkedArray) else array
    if array.type != pa.string():
        array = array.cast(pa.string())
    return array.fill_null("") if array.null_count else array


def string_offsets(array: pa.Array) -> np.ndarray:
    """Where each cell of a string (or large string) array starts in its data buffer, and where
    the last one ends: ``len(array) + 1`` offsets, read from Arrow's buffer without a copy."""
    kind = np.int64 if pa.types.is_large_string(array.type) else np.int32
    return np.frombuffer(array.buffers()[1], kind)[array.offset:array.offset + len(array) + 1]


def _replaced(target: pa.Array, rows: np.ndarray, fixed: pa.Array) -> pa.Array:
    """``target`` with its given rows (ascending) replaced by ``fixed``, in order."""
    if not len(rows):
        return target
    mask = np.zeros(len(target), bool)
    mask[rows] = True
    return pc.replace_with_mask(target, pa.array(mask), fixed)


def _patched(target: pa.Array, source: pa.Array, rows: np.ndarray, function) -> pa.Array:
    """``target`` with its given rows replaced by ``function`` of the same rows of ``source``."""
    if not len(rows):
        return target
    return _replaced(target, rows, pa.array([function(text) for text in source.take(rows).to_pylist()], pa.string()))


_TRANSLATED = re2_char_class("".join(chr(code) for code in _FULLWIDTH_ASCII if not chr(code).isspace()))
"""What :func:`clean_text` changes besides whitespace: full-width letters and digits, zero-width marks."""
_INNER_SPACE = "  |" + re2_char_class(WHITESPACE.replace(" ", ""))
_SPACE_RUN = re2_char_class(WHITESPACE) + "+"


def clean_text_column(array: pa.Array | pa.ChunkedArray) -> pa.Array:
    """:func:`clean_text` of every cell (a null cell gives ``""``).

    A text whose only change is whitespace is trimmed, and has each run of whitespace inside
    made one space, by Arrow: that is what ``" ".join(text.split())`` does.
    """
    array = string_cells(array)
    needs = np.flatnonzero(pc.match_substring_regex(array, _NEEDS_CLEANING).to_numpy(zero_copy_only=False))
    if not len(needs):  # one scan of every text, then the few that need cleaning looked at closer
        return array
    translated = pc.match_substring_regex(array.take(needs), _TRANSLATED).to_numpy(zero_copy_only=False)
    spaced = needs[~translated]
    trimmed = pc.utf8_trim(array.take(spaced), WHITESPACE)
    inner = pc.match_substring_regex(trimmed, _INNER_SPACE)
    if pc.any(inner).as_py():
        collapsed = pc.replace_substring_regex(trimmed.filter(inner), _SPACE_RUN, " ")
        trimmed = pc.replace_with_mask(trimmed, inner, collapsed)
    return _patched(_replaced(array, spaced, trimmed), array, needs[translated], clean_text)


def _utf8_bytes(array: pa.Array) -> bytes:
    """The UTF-8 bytes of a string array's cells, one after the other: a mark is in one of the
    cells exactly when it is in these bytes (a cell ends on a character)."""
    if not len(array) or array.buffers()[2] is None:
        return b""
    offsets = string_offsets(array)
    return memoryview(array.buffers()[2])[offsets[0]:offsets[-1]].tobytes()


def clean_key_column(cleaned: pa.Array | pa.ChunkedArray) -> pa.Array:
    """:func:`clean_key` of every cell of texts that went through :func:`clean_text`."""
    cleaned = string_cells(cleaned)
    key = pc.utf8_rtrim(pc.ascii_lower(cleaned), characters=_KEY_TRAILING)  # a safe text's lower case
    flagged = np.flatnonzero(pc.match_substring_regex(cleaned, _KEY_PLAIN).to_numpy(zero_copy_only=False))
    if not len(flagged):  # one scan of every text, then the few flagged ones looked at closer
        return key
    texts = cleaned.take(flagged)
    safe = pc.match_substring_regex(texts, _KEY_SAFE)
    marked = pc.and_(safe, pc.match_substring_regex(texts, _NEEDS_KEY_MAPPING.pattern))
    mapped = pc.ascii_lower(texts.filter(marked))
    present = _utf8_bytes(mapped)  # a replacement is itself no mark: what is present is known up front
    for mark, replacement in _KEY_REPLACEMENTS:
        if mark.encode() in present:
            mapped = pc.replace_substring(mapped, mark, replacement)
    fixed = pc.replace_with_mask(key.take(flagged), marked, pc.utf8_rtrim(mapped, characters=_KEY_TRAILING))
    key = _replaced(key, flagged, fixed)
    return _patched(key, cleaned, flagged[~safe.to_numpy(zero_copy_only=False)], clean_key)


def clean_text_and_key_columns(array: pa.Array | pa.ChunkedArray,
                               prepare: Callable[[pa.Array], pa.Array] | None = None,
                               prepare_changes: str | None = None) -> tuple[pa.Array, pa.Array]:
    """:func:`clean_text_column` of ``prepare`` of every cell, and :func:`clean_key_column` of that, in one
    scan of every text: most texts are changed by none of the three and hold no capital letter, and their
    key is the text without trailing stops. ``prepare_changes``: an RE2 pattern every cell that ``prepare``
    changes matches.
    """
    if (prepare is None) != (prepare_changes is None):
        raise ValueError("prepare and prepare_changes go together")
    cells = string_cells(array)
    changes = [_NEEDS_CLEANING, _KEY_PLAIN, "[A-Z]"] + ([prepare_changes] if prepare_changes is not None else [])
    pattern = "|".join(f"(?:{p})" for p in changes)
    flagged = np.flatnonzero(pc.match_substring_regex(cells, pattern).to_numpy(zero_copy_only=False))
    keys = pc.utf8_rtrim(cells, characters=_KEY_TRAILING)
    if not len(flagged):
        return cells, keys
    texts = cells.take(flagged)
    texts = clean_text_column(prepare(texts) if prepare is not None else texts)
    return _replaced(cells, flagged, texts), _replaced(keys, flagged, clean_key_column(texts))


def has_cjk_column(array: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """:func:`has_cjk` of every cell."""
    return pc.match_substring_regex(string_cells(array), _CJK.pattern).to_numpy(zero_copy_only=False)
