"""Exact deduplication: group items under a key and keep the best one of each group."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable
from typing import TypeVar

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

