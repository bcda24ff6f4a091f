"""Exact deduplication: group items under a key and keep the best one of each group."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable
from typing import TypeVar

import numpy as np
import pyarrow as pa

T = TypeVar("T")


def group_exact(items: Iterable[T], key: Callable[[T], Hashable]) -> dict[Hashable, list[T]]:
    """Items grouped by key, groups and members in first-seen order."""
    groups: dict[Hashable, list[T]] = {}
    for item in items:
        groups.setdefault(key(item), []).append(item)
    return groups


def keep_best(group: list[T], rank: Callable[[T], tuple]) -> tuple[T, list[T]]:
    """The lowest-ranked item and the rest (the copies folded into it)."""
    ordered = sorted(group, key=rank)
    return ordered[0], ordered[1:]


def distinct_rows(table: pa.Table, columns: list[str] | tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Rows grouped by their cells in ``columns``: the first row of each group, and each row's group.

    Computed on dictionary codes, so a quarter of a million rows that repeat a few thousand
    combinations never become Python objects.
    """
    codes = np.zeros(table.num_rows, np.int64)
    for column in columns:
        encoded = table.column(column).combine_chunks().dictionary_encode()
        indices = encoded.indices.fill_null(len(encoded.dictionary)).to_numpy()
        _, codes = np.unique(codes * (len(encoded.dictionary) + 1) + indices, return_inverse=True)
    _, first, which = np.unique(codes, return_index=True, return_inverse=True)
    return first, which
