"""Map raw value labels to canonical names and close them under the hierarchy."""

from __future__ import annotations

from builders.parsers.replies import split_values
from builders.taxonomy import Closure, Taxonomy

_TIERS = ("dimensions", "core_values", "derived_values")


def _cache_key(cell: object) -> object:
    return tuple(cell) if isinstance(cell, list) else cell


class ValueNormalizer:
    """Raw cells of the three tiers → a canonical, closed :class:`Closure`.

    A corpus repeats a few thousand label combinations across hundreds of thousands of
    rows, spelled and ordered in many ways, so results are memoized at three levels: per
    raw triple, per raw cell of a tier, and per set of canonical names. Raises
    :class:`builders.taxonomy.UnknownValueError` naming the tier of the first unknown label.
    """

    def __init__(self, taxonomy: Taxonomy) -> None:
        self.taxonomy = taxonomy
        self._cache: dict[tuple, Closure] = {}
        self._cells: dict[tuple[str, object], frozenset[str]] = {}
        self._closures: dict[tuple[frozenset[str], ...], Closure] = {}

    def _cell(self, tier: str, cell: object) -> frozenset[str]:
        key = (tier, _cache_key(cell))
        names = self._cells.get(key)
        if names is None:
            names = self._cells[key] = frozenset(self.taxonomy.canonical(tier, n) for n in split_values(cell))
        return names

    def __call__(self, dimensions: object, core_values: object, derived_values: object) -> Closure:
        key = (_cache_key(dimensions), _cache_key(core_values), _cache_key(derived_values))
        closure = self._cache.get(key)
        if closure is None:
            cells = (dimensions, core_values, derived_values)
            sets = tuple(self._cell(tier, cell) for tier, cell in zip(_TIERS, cells, strict=True))
            closure = self._closures.get(sets)
            if closure is None:
                closure = self._closures[sets] = self.taxonomy.close(*(list(s) for s in sets))
            self._cache[key] = closure
        return closure


def normalize_values(
    taxonomy: Taxonomy, dimensions: object, core_values: object, derived_values: object
) -> Closure:
    """Normalize one row's raw value cells (strings or lists) without memoization."""
    raw = dict(zip(_TIERS, (dimensions, core_values, derived_values), strict=True))
    canonical = {
        tier: [taxonomy.canonical(tier, name) for name in split_values(cell)]
        for tier, cell in raw.items()
    }
    return taxonomy.close(canonical["dimensions"], canonical["core_values"], canonical["derived_values"])
