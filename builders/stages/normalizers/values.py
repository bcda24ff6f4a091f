"""Map raw value labels to canonical names and close them under the hierarchy."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from builders.stages.parsers.replies import VALUE_SEPARATORS, split_values
from builders.taxonomy import TIERS, Closure, Taxonomy, UnknownValueError

_UNKNOWN = int(np.iinfo(np.uint64).max)
"""The combined bits of a row with an unknown label (no row of known labels has them all set)."""


def _cache_key(cell: object) -> object:
    return tuple(cell) if isinstance(cell, list) else cell


class LabelSets(NamedTuple):
    """Each row's canonical labels, as :meth:`ValueNormalizer.label_sets` reads them off columns."""

    which: np.ndarray
    """Each row's combination: its index in ``sets``; ``-1`` for a row with an unknown label."""
    sets: np.ndarray
    """The distinct combinations of known labels, in the order first met: one row each, a column per
    tier, a tier's labels as bits (``uint64``; bit ``i``: the ``i``-th of :meth:`Taxonomy.names`)."""
    errors: dict[int, UnknownValueError]
    """The error of each row with an unknown label: the first unknown label, by tier."""


class ValueNormalizer:
    """Raw cells of the three tiers → canonical labels (as bits), and their closed :class:`Closure`.

    A corpus repeats a few thousand label combinations across hundreds of thousands of
    rows, spelled and ordered in many ways, so results are memoized at three levels: per
    raw triple, per raw cell of a tier, and per set of canonical labels. Raises
    :class:`builders.taxonomy.UnknownValueError` naming the tier of the first unknown label.
    """

    def __init__(self, taxonomy: Taxonomy) -> None:
        self.taxonomy = taxonomy
        self._cache: dict[tuple, tuple[int, int, int]] = {}
        self._cells: dict[tuple[str, object], frozenset[str]] = {}
        self._closures: dict[tuple[int, int, int], Closure] = {}
        """Per set of canonical labels of each tier, as bits: its closure."""
        self._order = {tier: {name: i for i, name in enumerate(taxonomy.names(tier))} for tier in TIERS}

    def _cell(self, tier: str, cell: object) -> frozenset[str]:
        key = (tier, _cache_key(cell))
        names = self._cells.get(key)
        if names is None:
            names = self._cells[key] = frozenset(self.taxonomy.canonical(tier, n) for n in split_values(cell))
        return names

    def bits(self, dimensions: object, core_values: object, derived_values: object) -> tuple[int, int, int]:
        """One row's canonical labels, each tier's as bits (a row of :attr:`LabelSets.sets`)."""
        key = (_cache_key(dimensions), _cache_key(core_values), _cache_key(derived_values))
        bits = self._cache.get(key)
        if bits is None:
            cells = (dimensions, core_values, derived_values)
            sets = tuple(self._cell(tier, cell) for tier, cell in zip(TIERS, cells, strict=True))
            bits = self._cache[key] = tuple(sum(1 << self._order[tier][name] for name in names)
                                            for tier, names in zip(TIERS, sets, strict=True))
        return bits

    def closure(self, bits: tuple[int, int, int]) -> Closure:
        """The closure of one combination of canonical labels given as bits."""
        closure = self._closures.get(bits)
        if closure is None:
            names = [[name for i, name in enumerate(self.taxonomy.names(tier)) if tier_bits >> i & 1]
                     for tier, tier_bits in zip(TIERS, bits, strict=True)]
            closure = self._closures[bits] = self.taxonomy.close(*names)
        return closure

    def __call__(self, dimensions: object, core_values: object, derived_values: object) -> Closure:
        return self.closure(self.bits(dimensions, core_values, derived_values))

    def columns(self, dimensions: pa.ChunkedArray | pa.Array, core_values: pa.ChunkedArray | pa.Array,
                derived_values: pa.ChunkedArray | pa.Array) -> list[Closure | UnknownValueError]:
        """Each row's closure (or the error :meth:`__call__` raises for it) from string columns."""
        which, sets, errors = self.label_sets(dimensions, core_values, derived_values)
        closures = [self.closure(key) for key in zip(*(column.tolist() for column in sets.T), strict=True)]
        return [errors[row] if at < 0 else closures[at] for row, at in enumerate(which.tolist())]

    def label_sets(self, dimensions: pa.ChunkedArray | pa.Array, core_values: pa.ChunkedArray | pa.Array,
                   derived_values: pa.ChunkedArray | pa.Array) -> LabelSets:
        """Each row's canonical labels from string columns, the rows with the same labels sharing them.

        The cells are split by Arrow and each distinct label is looked up once: a table of a
        quarter of a million rows costs one Python call per distinct label, not one per row.
        Rows with an unknown label go through :meth:`__call__`, which names the first of them.
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
        known = distinct != _UNKNOWN
        sets = np.stack([mask[first[known]] for mask in masks], axis=1)
        which = (np.cumsum(known) - 1)[which]  # the index among the known combinations
        which[unknown] = -1
        errors = {row: self._row(arrays, row) for row in np.flatnonzero(unknown).tolist()}
        return LabelSets(which, sets, errors)

    def errors(self, dimensions: pa.ChunkedArray | pa.Array, core_values: pa.ChunkedArray | pa.Array,
               derived_values: pa.ChunkedArray | pa.Array) -> dict[int, UnknownValueError]:
        """The rows :meth:`columns` gives an error, with that error: a check that closes nothing,
        for a file that quotes labels it does not publish."""
        arrays = (dimensions, core_values, derived_values)
        unknown = np.zeros(len(arrays[0]), bool)
        for tier, array in zip(TIERS, arrays, strict=True):
            unknown |= self._tier_bits(tier, array)[1]
        return {row: self._row(arrays, row) for row in np.flatnonzero(unknown).tolist()}

    def _row(self, arrays: tuple[pa.Array | pa.ChunkedArray, ...], row: int) -> UnknownValueError:
        """The error of one row with an unknown label, as :meth:`__call__` raises it."""
        try:
            self.bits(*(array[row].as_py() for array in arrays))
        except UnknownValueError as err:
            return err.with_traceback(None)  # kept: its traceback would hold the caller's frames
        raise AssertionError(f"row {row} has no unknown label")

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

