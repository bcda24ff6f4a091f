"""Stable, content-derived ids.

An id hashes the normalized text that identifies a row (for a rule: its original Chinese
text, before any rewrite), so it does not depend on row order, file names or later edits.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence


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


def stable_ids_under(prefix: str, heads: Sequence[tuple[str, ...]], head_of: Iterable[int],
                     keys: Iterable[str]) -> list[str]:
    """:func:`stable_id` ``(prefix, *heads[h], key)`` of each ``h`` of ``head_of`` and its key.

    Hundreds of thousands of dilemmas share a few tens of thousands of rule pairs: each
    pair's part of the hash is computed once.
    """
    bases = [hashlib.sha256("\x00".join((prefix, *head, "")).encode("utf-8")) for head in heads]
    head = f"{prefix}-"
    ids = []
    for h, key in zip(head_of, keys, strict=True):
        digest = bases[h].copy()
        digest.update(key.encode("utf-8"))
        ids.append(head + digest.hexdigest()[:16])
    return ids


def stable_ids_of_parts(prefix: str, rows: Iterable[tuple[str, ...]]) -> list[str]:
    """:func:`stable_id` of each tuple of one or more parts, the prefix hashed once (an id per model answer)."""
    return stable_ids(prefix, ("\x00".join(parts) for parts in rows))
