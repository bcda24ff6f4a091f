"""Map raw value labels to canonical names and close them under the hierarchy."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from builders.stages.parsers.replies import VALUE_SEPARATORS, split_values
from builders.taxonomy import TIERS, Closure, Taxonomy, UnknownValueError

_UNKNOWN = int(np.iinfo(np.uint64).max)
"""The combined bits of a row with an unknown label (no row of known labels has them all set)."""


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
        self._closures: dict[tuple[int, int, int], Closure] = {}
        """Per set of canonical names of each tier, as bits (:meth:`_tier_bits`): its closure."""
        self._order = {tier: {name: i for i, name in enumerate(taxonomy.names(tier))} for tier in TIERS}

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
            sets = tuple(self._cell(tier, cell) for tier, cell in zip(TIERS, cells, strict=True))
            bits = tuple(sum(1 << self._order[tier][name] for name in names)
                         for tier, names in zip(TIERS, sets, strict=True))
            closure = self._closures.get(bits)
            if closure is None:
                closure = self._closures[bits] = self.taxonomy.close(*(list(s) for s in sets))
            self._cache[key] = closure
        return closure

    def columns(self, dimensions: pa.ChunkedArray | pa.Array, core_values: pa.ChunkedArray | pa.Array,
                derived_values: pa.ChunkedArray | pa.Array) -> list[Closure | UnknownValueError]:
        """Each row's closure (or the error :meth:`__call__` raises for it) from string columns:
        :meth:`codes`, one outcome per row."""
        codes, outcomes = self.codes(dimensions, core_values, derived_values)
        return [outcomes[i] for i in codes.tolist()]

    def codes(self, dimensions: pa.ChunkedArray | pa.Array, core_values: pa.ChunkedArray | pa.Array,
              derived_values: pa.ChunkedArray | pa.Array) -> tuple[np.ndarray, list[Closure | UnknownValueError]]:
        """Each row's outcome as an index into a list of outcomes: the closure of each distinct label
        combination (the one :meth:`__call__` gives), then the outcome of each row with an unknown label.

        The cells are split by Arrow and each distinct label is looked up once; a row is then
        a bit set per tier, so a table of a quarter of a million rows costs one closure per
        distinct combination, not one Python call per row. Rows with an unknown label go
        through :meth:`__call__`, which names the first of them.
        """
        arrays = (dimensions, core_values, derived_values)
        unknown = np.zeros(len(arrays[0]), bool)
        masks = []
        for tier, array in zip(TIERS, arrays, strict=True):
            mask, bad = self._tier_bits(tier, array)
            masks.append(mask)
            unknown |= bad
        _, _, derived_code = _distinct(masks[2])
        combined = (derived_code.astype(np.uint64) << np.uint64(32)) | (masks[1] << np.uint64(8)) | masks[0]
        combined[unknown] = _UNKNOWN
        distinct, first, which = _distinct(combined)
        tier_bits = [mask[first] for mask in masks]
        keys = list(zip(*(bits.tolist() for bits in tier_bits), strict=True))
        closures = self._closures
        new = np.array([i for i, (key, code) in enumerate(zip(keys, distinct.tolist(), strict=True))
                        if code != _UNKNOWN and key not in closures], np.int64)
        if len(new):
            closures.update(zip([keys[i] for i in new.tolist()],
                                self.taxonomy.close_bits(*(bits[new] for bits in tier_bits)), strict=True))
        outcomes: list = [None if code == _UNKNOWN else closures[key]
                          for key, code in zip(keys, distinct.tolist(), strict=True)]
        codes = which.astype(np.int64).reshape(-1)
        unknown_rows = np.flatnonzero(unknown)
        codes[unknown_rows] = np.arange(len(outcomes), len(outcomes) + len(unknown_rows))
        outcomes += [self._row(arrays, row) for row in unknown_rows.tolist()]
        return codes, outcomes

    def errors(self, dimensions: pa.ChunkedArray | pa.Array, core_values: pa.ChunkedArray | pa.Array,
               derived_values: pa.ChunkedArray | pa.Array) -> dict[int, UnknownValueError]:
        """The rows :meth:`columns` gives an error, with that error: a check that closes nothing,
        for a file that quotes labels it does not publish."""
        arrays = (dimensions, core_values, derived_values)
        unknown = np.zeros(len(arrays[0]), bool)
        for tier, array in zip(TIERS, arrays, strict=True):
            unknown |= self._tier_bits(tier, array)[1]
        outcomes = {row: self._row(arrays, row) for row in np.flatnonzero(unknown).tolist()}
        return {row: outcome for row, outcome in outcomes.items() if isinstance(outcome, UnknownValueError)}

    def _row(self, arrays: tuple[pa.Array | pa.ChunkedArray, ...], row: int) -> Closure | UnknownValueError:
        """One row through :meth:`__call__`, its error returned instead of raised."""
        try:
            return self(*(array[row].as_py() for array in arrays))
        except UnknownValueError as err:
            return err.with_traceback(None)  # kept: its traceback would hold the caller's frames

    def _tier_bits(self, tier: str, array: pa.Array) -> tuple[np.ndarray, np.ndarray]:
        """Each row's canonical labels of one tier as bits (in framework order), and whether
        a label of the row is unknown. Only the distinct cells are split."""
        dictionary, rows = _distinct_cells(array)
        pieces = pc.split_pattern_regex(dictionary, VALUE_SEPARATORS.pattern)
        parents = pc.list_parent_indices(pieces).to_numpy()
        encoded = pc.list_flatten(pieces).dictionary_encode()
        order = self.taxonomy.names(tier)
        bits = np.zeros(len(encoded.dictionary), np.uint64)
        unknown_piece = np.zeros(len(encoded.dictionary), bool)
        for i, piece in enumerate(encoded.dictionary.to_pylist()):
            name = piece.strip()
            if name:
                try:
                    bits[i] = 1 << order.index(self.taxonomy.canonical(tier, name))
                except UnknownValueError:
                    unknown_piece[i] = True
        indices = encoded.indices.to_numpy()
        cell_bits = np.zeros(len(dictionary) + 1, np.uint64)  # the last: a null cell
        np.bitwise_or.at(cell_bits, parents, bits[indices])
        cell_unknown = np.zeros(len(dictionary) + 1, bool)
        cell_unknown[parents[unknown_piece[indices]]] = True
        return cell_bits[rows], cell_unknown[rows]


def _distinct(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The distinct values in the order they first appear, where each first appears, and each value's
    index among them: ``np.unique``'s three results, by hashing instead of sorting (a few times faster)."""
    if not len(values):
        return values[:0], np.zeros(0, np.int64), np.zeros(0, np.int64)
    encoded = pa.array(values).dictionary_encode()
    which = encoded.indices.to_numpy().astype(np.int64)
    running = np.maximum.accumulate(which)  # a new value's index is one more than any before it
    first = np.flatnonzero(np.concatenate([[True], running[1:] > running[:-1]]))
    return encoded.dictionary.to_numpy(), first, which


def _distinct_cells(array: pa.Array | pa.ChunkedArray) -> tuple[pa.Array, np.ndarray]:
    """The distinct cells of a column and each row's index among them (``len(distinct)``: null).

    The chunks of a CSV column are encoded as they are: Arrow gives them one dictionary, so
    their texts are not copied into one array first.
    """
    encoded = array.dictionary_encode()
    chunks = encoded.chunks if isinstance(encoded, pa.ChunkedArray) else [encoded]
    if not chunks:
        return pa.array([], array.type), np.zeros(0, np.int64)
    dictionary = chunks[0].dictionary
    if any(not chunk.dictionary.equals(dictionary) for chunk in chunks[1:]):
        return _distinct_cells(array.combine_chunks())
    null = len(dictionary)
    return dictionary, np.concatenate([chunk.indices.fill_null(null).to_numpy().astype(np.int64) for chunk in chunks])

