"""Stable, content-derived ids.

An id hashes the normalized text that identifies a row (for a rule: its original Chinese
text, before any rewrite), so it does not depend on row order, file names or later edits.
"""

from __future__ import annotations

import hashlib


def stable_id(prefix: str, *parts: str) -> str:
    """``{prefix}-`` + 16 hex digits of SHA-256 over the parts (NUL-separated)."""
    digest = hashlib.sha256("\x00".join((prefix, *parts)).encode("utf-8")).hexdigest()
    return f"{prefix}-{digest[:16]}"
