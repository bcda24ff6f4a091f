"""The hashing behind the ids of a whole column, in a module that imports only ``hashlib``.

:class:`builders.stages.ids.BackgroundIds` runs :func:`digests` in a fresh interpreter on the
other core (``hashlib`` holds the GIL for inputs this short, so no thread can hash beside the
build); importing nothing else keeps that interpreter's start to milliseconds.
"""

from __future__ import annotations

import hashlib


def digests(head: bytes, ends: bytes, data: bytes) -> bytes:
    """The first 8 bytes of SHA-256 of ``head`` followed by each key, one after the other.

    ``data`` holds the keys' UTF-8 bytes back to back and ``ends`` their boundaries (n + 1
    native 64-bit integers, the first 0): each key is hashed where it lies, never copied out.
    """
    copy = hashlib.sha256(head).copy
    bounds, keys = memoryview(ends).cast("q"), memoryview(data)
    parts = []
    for start, end in zip(bounds[:-1], bounds[1:], strict=True):
        digest = copy()
        digest.update(keys[start:end])
        parts.append(digest.digest()[:8])
    return b"".join(parts)
