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
