"""The 3 / 12 / 50 value framework, loaded from ``schemas/taxonomy.json``.

Every spelling the upstream pipeline used (raw-formats §1.2: 法制教育, 文化素养, Civility,
Nation, 国家层面, …) resolves to one canonical Chinese name per tier; anything else is an
error the caller reports, never a silent drop.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import NamedTuple

import numpy as np

from builders.resources import schemas_dir

TIERS = ("dimensions", "core_values", "derived_values")


class UnknownValueError(ValueError):
    """A label that is neither a canonical name nor a known alias of its tier."""

    def __init__(self, tier: str, name: str) -> None:
        super().__init__(f"unknown {tier[:-1].replace('_', ' ')} {name!r}")
        self.tier = tier
        self.name = name


class Closure(NamedTuple):
    """The result of closing one row's labels under the hierarchy, its names listed (many at once:
    :meth:`Taxonomy.closures` of :meth:`Taxonomy.close_bits`)."""

    dimensions: list[str]
    core_values: list[str]
    derived_values: list[str]
    added: list[str]
    """Parents that were implied by a lower tier but not listed."""
    dropped: list[str]
    """Listed dimensions that no listed core value supports (a contradiction)."""


class ClosedBits(NamedTuple):
    """Many closures at once (:meth:`Taxonomy.close_bits`): the fields of :class:`Closure`, each an
    array with a set per row given as bits. A tier's bit ``i`` is its ``i``-th value; ``added`` and
    ``dropped`` are bits over :meth:`Taxonomy.names_by_name`."""

    dimensions: np.ndarray
    core_values: np.ndarray
    derived_values: np.ndarray
    added: np.ndarray
    dropped: np.ndarray


def _key(name: str) -> str:
    return " ".join(name.split()).casefold()


class Taxonomy:
    """Canonical names, ids, parents and aliases of the value framework."""

    def __init__(self, data: dict) -> None:
        self.data = data
        self.dimensions: list[dict] = data["dimensions"]
        self.core_values: list[dict] = data["core_values"]
        self.derived_values: list[dict] = data["derived_values"]
        self.parent: dict[str, str] = {}
        self._lookup: dict[str, dict[str, str]] = {}
        self._order: dict[str, dict[str, int]] = {}
        for tier in TIERS:
            entries = data[tier]
            lookup: dict[str, str] = {}
            for entry in entries:
                for spelling in (entry["zh"], entry["en"], *entry["aliases"]):
                    previous = lookup.setdefault(_key(spelling), entry["zh"])
                    if previous != entry["zh"]:
                        raise ValueError(f"taxonomy: {spelling!r} names both {previous} and {entry['zh']}")
            self._lookup[tier] = lookup
            self._order[tier] = {entry["zh"]: i for i, entry in enumerate(entries)}
        for entry in self.core_values:
            self.parent[entry["zh"]] = entry["dimension"]
        for entry in self.derived_values:
            self.parent[entry["zh"]] = entry["core_value"]

    def names(self, tier: str) -> list[str]:
        """Canonical Chinese names of one tier, in the upstream order."""
        return [entry["zh"] for entry in self.data[tier]]

    def canonical(self, tier: str, name: str) -> str:
        """Map any known spelling of a value of ``tier`` to its canonical Chinese name."""
        try:
            return self._lookup[tier][_key(name)]
        except KeyError:
            raise UnknownValueError(tier, name) from None

    def sort(self, tier: str, names: set[str] | list[str]) -> list[str]:
        """Order names as the framework does, so equal sets give equal lists."""
        order = self._order[tier]
        return sorted(set(names), key=order.__getitem__)

    def close(self, dimensions: list[str], core_values: list[str], derived_values: list[str]) -> Closure:
        """Close canonical labels under the hierarchy (derived ⊂ core ⊂ dimension).

        A derived value implies its core value and dimension. A listed core value without a
        derived value is kept. A listed dimension is kept only if a core value supports it or
        no core value is listed at all; otherwise it contradicts the values and is dropped.
        """
        derived = set(derived_values)
        core = set(core_values) | {self.parent[d] for d in derived}
        implied_dims = {self.parent[c] for c in core}
        listed_dims = set(dimensions)
        dropped = sorted(listed_dims - implied_dims) if core else []
        dims = implied_dims if core else listed_dims
        added = sorted((core - set(core_values)) | (implied_dims - listed_dims))
        return Closure(
            dimensions=self.sort("dimensions", dims),
            core_values=self.sort("core_values", core),
            derived_values=self.sort("derived_values", derived),
            added=added,
            dropped=dropped,
        )

    def close_bits(self, dimensions: np.ndarray, core_values: np.ndarray,
                   derived_values: np.ndarray) -> ClosedBits:
        """:meth:`close` of many label sets at once, each tier's set given as bits (``uint64``; bit
        ``i``: the ``i``-th of :meth:`names`), the closed sets given back as bits too.

        A corpus has tens of thousands of distinct label combinations: the hierarchy is applied
        to all of them with a few array operations per value, and no name is listed until a
        caller asks (:meth:`closures`).
        """
        derived = np.asarray(derived_values, np.uint64)
        listed_core, listed = np.asarray(core_values, np.uint64), np.asarray(dimensions, np.uint64)
        parent_of_derived = self._bits_of("core_values", [self.parent[n] for n in self.names("derived_values")])
        parent_of_core = self._bits_of("dimensions", [self.parent[n] for n in self.names("core_values")])
        core = listed_core | _map_bits(derived, parent_of_derived)
        implied = _map_bits(core, parent_of_core)
        has_core = core != 0
        dims = np.where(has_core, implied, listed)
        dropped = np.where(has_core, listed & ~implied, np.uint64(0))
        by_name = self.names_by_name()
        core_by_name = [1 << by_name.index(n) for n in self.names("core_values")]
        dims_by_name = [1 << by_name.index(n) for n in self.names("dimensions")]
        added = _map_bits(core & ~listed_core, core_by_name) | _map_bits(implied & ~listed, dims_by_name)
        return ClosedBits(dims, core, derived, added, _map_bits(dropped, dims_by_name))

    def closures(self, closed: ClosedBits) -> list[Closure]:
        """The :class:`Closure` of each set of :meth:`close_bits`, its names listed."""
        by_name = self.names_by_name()
        return list(map(Closure, *(_names_of_bits(bits, names) for bits, names in zip(closed, (
            *(self.names(tier) for tier in TIERS), by_name, by_name), strict=True))))

    def names_by_name(self) -> list[str]:
        """The dimensions and core values sorted by name: the order of ``added`` and ``dropped``, which
        :class:`ClosedBits` gives as bits over this list."""
        return sorted(set(self.names("core_values")) | set(self.names("dimensions")))

    def _bits_of(self, tier: str, names: list[str]) -> list[int]:
        """The bit of each of ``names`` among the values of ``tier``."""
        order = self._order[tier]
        return [1 << order[name] for name in names]


def _map_bits(bits: np.ndarray, targets: list[int]) -> np.ndarray:
    """Each set given as bits → the union of ``targets[i]`` over its bits ``i``."""
    out = np.zeros(len(bits), np.uint64)
    for bit, target in enumerate(targets):
        out |= np.where((bits >> np.uint64(bit)) & np.uint64(1), np.uint64(target), np.uint64(0))
    return out


def members_of_bits(bits: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray]:
    """The members of sets given as bits (``uint64``, bit ``i``: member ``i`` of ``count``): for each
    member of each set, the set's row and the member's index, by row and then by index."""
    return np.nonzero((np.asarray(bits, np.uint64)[:, None] >> np.arange(count, dtype=np.uint64)) & np.uint64(1))


def _names_of_bits(bits: np.ndarray, names: list[str]) -> list[list[str]]:
    """Each set given as bits (bit ``i``: ``names[i]``) as a list of its names, in ``names`` order.
    Each distinct set is listed once (sets that are equal share their list)."""
    distinct, which = np.unique(bits, return_inverse=True)
    rows, at = members_of_bits(distinct, len(names))
    flat = np.array(names, object)[at].tolist()
    ends = np.searchsorted(rows, np.arange(1, len(distinct) + 1)).tolist()
    listed = [flat[start:end] for start, end in zip([0, *ends[:-1]], ends, strict=True)]
    return [listed[i] for i in which.reshape(-1).tolist()]


@lru_cache(maxsize=1)
def load_taxonomy() -> Taxonomy:
    """The shipped taxonomy (cached: it is read on every build and every validation)."""
    with open(schemas_dir() / "taxonomy.json", encoding="utf-8") as fh:
        return Taxonomy(json.load(fh))
