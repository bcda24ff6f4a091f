"""Stable, content-derived ids.

An id hashes the normalized text that identifies a row (for a rule: its original Chinese
text, before any rewrite), so it does not depend on row order, file names or later edits.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable


def stable_id(prefix: str, *parts: str) -> str:
    """``{prefix}-`` + 16 hex digits of SHA-256 over the parts (NUL-separated)."""
    digest = hashlib.sha256("\x00".join((prefix, *parts)).encode("utf-8")).hexdigest()
    return f"{prefix}-{digest[:16]}"


def stable_ids(prefix: str, keys: Iterable[str]) -> list[str]:
    """:func:`stable_id` of each single-part key: the prefix is hashed once, for a quarter of a million ids."""
    base, head = hashlib.sha256(f"{prefix}\x00".encode()), f"{prefix}-"
    ids = []
    for key in keys:
        digest = base.copy()
        digest.update(key.encode("utf-8"))
        ids.append(head + digest.hexdigest()[:16])
    return ids


def stable_ids_of_parts(prefix: str, rows: Iterable[tuple[str, ...]]) -> list[str]:
    """:func:`stable_id` of each tuple of one or more parts, the prefix hashed once (an id per model answer)."""
    return stable_ids(prefix, ("\x00".join(parts) for parts in rows))
