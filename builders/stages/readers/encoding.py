"""Decide how a raw file is encoded and decode it without losing a row silently.

Upstream wrote UTF-8 (with and without BOM) and GBK side by side (raw-formats §2.0). A
file is decoded as a whole when it can be; when a few lines are damaged, the encoding that
explains nearly every line wins and the damaged lines are reported, so the rows on them
go to the rejects ledger instead of turning the whole file into mojibake.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass, field
from pathlib import Path

_BAD_LINE_SHARE = 0.05
"""A file with more undecodable lines than this share (of its non-ASCII lines) is refused."""


class EncodingError(ValueError):
    """The file is neither UTF-8 nor GBK/GB18030, or too damaged to trust either."""


@dataclass
class DecodedFile:
    """A raw file's text, the encoding it was read with, and its undecodable lines."""

    path: Path
    text: str
    encoding: str
    bad_lines: set[int] = field(default_factory=set)
    """1-based physical line numbers that held bytes invalid in ``encoding``."""


def _strict(data: bytes, encoding: str) -> str | None:
    try:
        return data.decode(encoding)
    except UnicodeDecodeError:
        return None


def _bad_lines(lines: list[bytes], encoding: str) -> set[int]:
    bad = set()
    for number, line in enumerate(lines, start=1):
        if not line.isascii():
            try:
                line.decode(encoding)
            except UnicodeDecodeError:
                bad.add(number)
    return bad


def decode_bytes(data: bytes, path: Path) -> DecodedFile:
    """Decode ``data`` read from ``path`` (used in messages), trying UTF-8 then GBK/GB18030."""
    if data.startswith(codecs.BOM_UTF8):
        data, encodings = data[len(codecs.BOM_UTF8):], ("utf-8-sig",)
    else:
        encodings = ("utf-8", "gbk", "gb18030")
    for encoding in encodings:
        text = _strict(data, "utf-8" if encoding == "utf-8-sig" else encoding)
        if text is not None:
            return DecodedFile(path, text, encoding)
    lines = data.split(b"\n")
    non_ascii = sum(1 for line in lines if not line.isascii()) or 1
    candidates = [
        (len(bad), encoding, bad)
        for encoding in dict.fromkeys("utf-8" if e == "utf-8-sig" else e for e in encodings)
        for bad in [_bad_lines(lines, encoding)]
    ]
    count, encoding, bad = min(candidates, key=lambda c: c[0])
    if count > max(1, _BAD_LINE_SHARE * non_ascii):
        first = min(bad)
        raise EncodingError(
            f"{path}: cannot decode as UTF-8 or GBK/GB18030 ({count} of {non_ascii} non-ASCII "
            f"lines are invalid even in the best guess, {encoding}; first at line {first}). "
            "Re-save the file as UTF-8."
        )
    text = "\n".join(
        line.decode(encoding, errors="replace") if n in bad else line.decode(encoding)
        for n, line in enumerate(lines, start=1)
    )
    label = "utf-8-sig" if encodings == ("utf-8-sig",) else encoding
    return DecodedFile(path, text, label, bad)


def decode_file(path: Path) -> DecodedFile:
    """Read and decode one raw file."""
    return decode_bytes(Path(path).read_bytes(), Path(path))
