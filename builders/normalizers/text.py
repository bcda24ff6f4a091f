"""Text cleanup for published rules and the keys used to find duplicates.

Published text keeps Chinese punctuation but loses stray whitespace and full-width ASCII
(``ＡＩ`` → ``AI``). The dedup key goes further: no whitespace, one form per punctuation
mark, no case, no trailing full stop, so copies that differ only in those ways collide.
"""

from __future__ import annotations

import re

_FULLWIDTH_ASCII = {code: code - 0xFEE0 for code in range(0xFF10, 0xFF1A)}
_FULLWIDTH_ASCII |= {code: code - 0xFEE0 for code in range(0xFF21, 0xFF3B)}
_FULLWIDTH_ASCII |= {code: code - 0xFEE0 for code in range(0xFF41, 0xFF5B)}
_FULLWIDTH_ASCII |= {0x3000: 0x20, 0x200B: None, 0xFEFF: None, 0x00A0: 0x20}
_WHITESPACE = re.compile(r"\s+")

_KEY_PUNCTUATION = str.maketrans({
    ",": "，", ";": "；", ":": "：", "!": "！", "?": "？", "(": "（", ")": "）",
    "“": '"', "”": '"', "‘": "'", "’": "'", "「": '"', "」": '"',
})
_KEY_DROP = re.compile(r"\s+")
_KEY_TRAILING = re.compile(r"[。．.！!]+$")


def clean_text(text: str | None) -> str:
    """Whitespace collapsed and trimmed; full-width letters, digits and spaces made half-width."""
    if text is None:
        return ""
    return _WHITESPACE.sub(" ", str(text).translate(_FULLWIDTH_ASCII)).strip()


def dedup_key(text: str) -> str:
    """The key under which two rule texts count as the same rule."""
    key = _KEY_DROP.sub("", clean_text(text).casefold().translate(_KEY_PUNCTUATION))
    return _KEY_TRAILING.sub("", key)


def has_cjk(text: str) -> bool:
    """True when the text contains Chinese characters (tells a zh rule from an en one)."""
    return any("\u4e00" <= ch <= "\u9fff" or "\u3400" <= ch <= "\u4dbf" for ch in text)
